//! /v1/customers

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, Problem};
use super::extract::{JsonBody, QueryParams, present};
use super::idempotency::IdempotentPost;
use super::pagination::{List, page_request};
use super::tenant::Tenant;
use crate::domain::{
    AddressInput, CustomerId, Email, EventType, Locale, Name, OptionalText, Validation,
    parse_vat_id,
};
use crate::events;
use crate::models::customer::{self, CustomerChanges, CustomerFields, CustomerFilter, Deletion};
use crate::views::CustomerView;

pub fn routes(config: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    config
        .service(list_customers)
        .service(create_customer)
        .service(get_customer)
        .service(update_customer)
        .service(delete_customer);
}

/// A new customer. Blank optional fields are stored as null.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerCreate {
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(max_length = 254)]
    pub email: Option<String>,
    #[schema(max_length = 100)]
    pub phone: Option<String>,
    #[schema(max_length = 1000)]
    pub address: Option<String>,
    /// The buyer's tax or VAT id, as free text (what older clients send).
    #[schema(max_length = 100)]
    pub tax_id: Option<String>,
    /// The buyer's VAT id (the same value as `tax_id`, checked for the shape
    /// of its country's VAT ids): give one of the two.
    #[schema(max_length = 100)]
    pub vat_id: Option<String>,
    pub billing_address: Option<AddressInput>,
    /// EN 16931 BT-10, e.g. a German Leitweg-ID: its e-invoices are XRechnung.
    #[schema(max_length = 100)]
    pub buyer_reference: Option<String>,
    /// The language of the documents it receives.
    pub locale: Option<Locale>,
}

/// Changes to a customer: only the fields given change; null clears an
/// optional field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 200)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 254)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub tax_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub vat_id: Option<Option<String>>,
    /// Replaces the whole billing address; null removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AddressInput>)]
    pub billing_address: Option<Option<AddressInput>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub buyer_reference: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Locale>)]
    pub locale: Option<Option<Locale>>,
}

/// One parser per field, shared by create and patch.
fn parse_name(value: &str) -> Result<String, String> {
    Name::<200>::parse(value).map(Name::into_inner)
}

fn parse_email(value: Option<&str>) -> Result<Option<String>, String> {
    Email::parse(value).map(Email::into_inner)
}

fn parse_phone(value: Option<&str>) -> Result<Option<String>, String> {
    OptionalText::<100>::parse(value).map(OptionalText::into_inner)
}

fn parse_address(value: Option<&str>) -> Result<Option<String>, String> {
    OptionalText::<1000>::parse(value).map(OptionalText::into_inner)
}

fn parse_tax_id(value: Option<&str>) -> Result<Option<String>, String> {
    OptionalText::<100>::parse(value).map(OptionalText::into_inner)
}

fn parse_vat_id_field(value: Option<&str>) -> Result<Option<String>, String> {
    match OptionalText::<100>::parse(value)?.into_inner() {
        Some(id) => parse_vat_id(&id).map(Some),
        None => Ok(None),
    }
}

fn parse_buyer_reference(value: Option<&str>) -> Result<Option<String>, String> {
    OptionalText::<100>::parse(value).map(OptionalText::into_inner)
}

/// `tax_id` and `vat_id` are one value: either may be given, both only if
/// they agree.
fn one_tax_id<T: PartialEq>(v: &mut Validation, tax_id: Option<T>, vat_id: Option<T>) -> Option<T> {
    match (tax_id, vat_id) {
        (Some(tax), Some(vat)) if tax != vat => {
            v.reject(
                "vat_id",
                "is the same value as tax_id: give one of the two, or the same in both",
            );
            None
        }
        (tax, vat) => vat.or(tax),
    }
}

impl CustomerCreate {
    fn parse(self) -> Result<CustomerFields, ApiError> {
        let mut v = Validation::new();
        let name = v.check("name", parse_name(&self.name));
        let email = v.check("email", parse_email(self.email.as_deref()));
        let phone = v.check("phone", parse_phone(self.phone.as_deref()));
        let address = v.check("address", parse_address(self.address.as_deref()));
        let tax_id = v.check("tax_id", parse_tax_id(self.tax_id.as_deref()));
        let vat_id = v.check("vat_id", parse_vat_id_field(self.vat_id.as_deref()));
        let billing_address = match self.billing_address {
            Some(input) => input.parse_into(&mut v, "billing_address"),
            None => Some(None),
        };
        let buyer_reference = v.check(
            "buyer_reference",
            parse_buyer_reference(self.buyer_reference.as_deref()),
        );
        let tax_id = match (tax_id, vat_id) {
            (Some(tax), Some(vat)) => Some(one_tax_id(&mut v, tax, vat)),
            _ => None,
        };
        let (
            Some(name),
            Some(email),
            Some(phone),
            Some(address),
            Some(tax_id),
            Some(billing_address),
            Some(buyer_reference),
            true,
        ) = (
            name,
            email,
            phone,
            address,
            tax_id,
            billing_address,
            buyer_reference,
            v.is_ok(),
        )
        else {
            return Err(v.into_errors().into());
        };
        Ok(CustomerFields {
            name,
            email,
            phone,
            address,
            tax_id,
            billing_address,
            buyer_reference,
            locale: self.locale,
        })
    }
}

impl CustomerPatch {
    fn parse(self) -> Result<CustomerChanges, ApiError> {
        let mut v = Validation::new();
        let name = v.change("name", self.name, |name| parse_name(&name));
        let email = v.nullable_change("email", self.email, |e| parse_email(e.as_deref()));
        let phone = v.nullable_change("phone", self.phone, |p| parse_phone(p.as_deref()));
        let address = v.nullable_change("address", self.address, |a| parse_address(a.as_deref()));
        let tax_id = v.nullable_change("tax_id", self.tax_id, |t| parse_tax_id(t.as_deref()));
        let vat_id = v.nullable_change("vat_id", self.vat_id, |t| parse_vat_id_field(t.as_deref()));
        let billing_address = match self.billing_address {
            None => Some(None),
            Some(None) => Some(Some(None)),
            Some(Some(input)) => input.parse_into(&mut v, "billing_address").map(Some),
        };
        let buyer_reference = v.nullable_change("buyer_reference", self.buyer_reference, |r| {
            parse_buyer_reference(r.as_deref())
        });
        let tax_id = match (tax_id, vat_id) {
            (Some(tax), Some(vat)) => Some(one_tax_id(&mut v, tax, vat)),
            _ => None,
        };
        let (
            Some(name),
            Some(email),
            Some(phone),
            Some(address),
            Some(tax_id),
            Some(billing_address),
            Some(buyer_reference),
            true,
        ) = (
            name,
            email,
            phone,
            address,
            tax_id,
            billing_address,
            buyer_reference,
            v.is_ok(),
        )
        else {
            return Err(v.into_errors().into());
        };
        let mut changes = CustomerChanges {
            name,
            email,
            phone,
            address,
            tax_id,
            buyer_reference,
            locale: self.locale,
            ..CustomerChanges::default()
        };
        if let Some(address) = billing_address {
            changes.set_billing_address(address);
        }
        Ok(changes)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListCustomersQuery {
    /// Case-insensitive substring of the name or the e-mail address.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Return customers with an id greater than this (the previous page's `next_after`).
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

fn not_found(id: CustomerId) -> ApiError {
    ApiError::not_found("customer", id)
}

/// List the account's customers
#[utoipa::path(
    tag = "customers",
    params(ListCustomersQuery),
    responses(
        (status = 200, description = "A page of customers, in id order", body = List<CustomerView>),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/customers")]
pub async fn list_customers(
    tenant: Tenant,
    state: web::Data<AppState>,
    query: QueryParams<ListCustomersQuery>,
) -> Result<web::Json<List<CustomerView>>, ApiError> {
    let query = query.0;
    let page = tenant
        .transaction(&state.db, move |conn| {
            let page = page_request(query.limit, query.after)?;
            let search = OptionalText::<200>::parse(query.q.as_deref())
                .map_err(|message| ApiError::bad_request(format!("Query parameter q {message}")))?
                .into_inner();
            let filter = CustomerFilter { search };
            Ok(customer::list(conn, &filter, &page)?)
        })
        .await?;
    Ok(web::Json(List::from_page(
        page,
        |c| c.id,
        CustomerView::from,
    )))
}

/// Create a customer
#[utoipa::path(
    tag = "customers",
    request_body = CustomerCreate,
    responses(
        (status = 201, description = "Created", body = CustomerView),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/customers")]
pub async fn create_customer(
    tenant: Tenant,
    state: web::Data<AppState>,
    post: IdempotentPost,
    body: JsonBody<CustomerCreate>,
) -> Result<HttpResponse, ApiError> {
    let JsonBody { value, raw } = body;
    post.respond(
        &tenant,
        &state.db,
        &raw,
        StatusCode::CREATED,
        move || value.parse(),
        |conn, fields| {
            let view = CustomerView::from(customer::create(conn, &fields)?);
            events::record(conn, EventType::CustomerCreated, &view)?;
            Ok(view)
        },
    )
    .await
}

/// Get a customer
#[utoipa::path(
    tag = "customers",
    params(("customer_id" = i64, Path, minimum = 1, description = "The customer's id")),
    responses(
        (status = 200, description = "The customer", body = CustomerView),
        (status = 404, description = "No such customer in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/customers/{customer_id}")]
pub async fn get_customer(
    tenant: Tenant,
    id: CustomerId,
    state: web::Data<AppState>,
) -> Result<web::Json<CustomerView>, ApiError> {
    let found = tenant
        .transaction(&state.db, move |conn| Ok(customer::find(conn, id)?))
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(web::Json(found.into()))
}

/// Change a customer
#[utoipa::path(
    tag = "customers",
    params(("customer_id" = i64, Path, minimum = 1, description = "The customer's id")),
    request_body = CustomerPatch,
    responses(
        (status = 200, description = "The changed customer", body = CustomerView),
        (status = 404, description = "No such customer in this account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/v1/customers/{customer_id}")]
pub async fn update_customer(
    tenant: Tenant,
    id: CustomerId,
    state: web::Data<AppState>,
    body: JsonBody<CustomerPatch>,
) -> Result<web::Json<CustomerView>, ApiError> {
    let patch = body.value;
    let updated = tenant
        .transaction(&state.db, move |conn| {
            let changes = patch.parse()?;
            let view = CustomerView::from(
                customer::update(conn, id, &changes)?.ok_or_else(|| not_found(id))?,
            );
            events::record(conn, EventType::CustomerUpdated, &view)?;
            Ok(view)
        })
        .await?;
    Ok(web::Json(updated))
}

/// Delete a customer (only while it has no invoices)
#[utoipa::path(
    tag = "customers",
    params(("customer_id" = i64, Path, minimum = 1, description = "The customer's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such customer in this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The customer has invoices", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/customers/{customer_id}")]
pub async fn delete_customer(
    tenant: Tenant,
    id: CustomerId,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let outcome = tenant
        .transaction(&state.db, move |conn| {
            // What the event shows: the customer as it was.
            let before = customer::find(conn, id)?;
            let outcome = customer::delete(conn, id)?;
            if let (Deletion::Deleted, Some(before)) = (outcome, before) {
                events::record(
                    conn,
                    EventType::CustomerDeleted,
                    &CustomerView::from(before),
                )?;
            }
            Ok(outcome)
        })
        .await?;
    match outcome {
        Deletion::Deleted => Ok(HttpResponse::NoContent().finish()),
        Deletion::NotFound => Err(not_found(id)),
        Deletion::HasInvoices => Err(ApiError::conflict(
            "customer-has-invoices",
            format!("Customer {id} has invoices; it can only be deleted once it has none"),
        )),
    }
}
