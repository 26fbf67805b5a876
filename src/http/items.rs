//! /v1/invoices/{invoice_id}/items: an invoice's lines, changed only while
//! it is a draft.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, Problem};
use super::extract::{JsonBody, present};
use super::idempotency::IdempotentPost;
use super::pagination::List;
use crate::domain::{
    DecimalInput, InvoiceId, ItemId, Money, Name, Quantity, TaxCategory, TaxRate, Validation,
    parse_exemption_reason, price_input_schema, quantity_input_schema, tax_rate_input_schema,
};

/// A tax rate input that may also be null (meaning the default, 0).
fn optional_tax_rate_input_schema() -> utoipa::openapi::schema::Schema {
    let mut schema = tax_rate_input_schema();
    if let utoipa::openapi::schema::Schema::OneOf(one_of) = &mut schema {
        one_of.items.push(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::Null)
                .into(),
        );
    }
    schema
}
use super::invoices::record_invoice_updated;
use super::tenant::Tenant;
use crate::invoicing::{
    self, InvoicingError, LinePatch, NewLine, check_line, check_tax_fields, default_category,
};
use crate::models::invoice_item::ItemFields;
use crate::views::ItemView;

pub fn routes(config: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    config
        .service(list_items)
        .service(add_item)
        .service(get_item)
        .service(update_item)
        .service(delete_item);
}

/// A new line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemCreate {
    #[schema(min_length = 1, max_length = 1000)]
    pub description: String,
    #[schema(schema_with = quantity_input_schema)]
    pub quantity: DecimalInput,
    #[schema(schema_with = price_input_schema)]
    pub unit_price: DecimalInput,
    /// Default 0.
    #[schema(schema_with = optional_tax_rate_input_schema)]
    pub tax_rate: Option<DecimalInput>,
    /// Default `S` when tax_rate is above 0, else `Z`. `E`, `AE`, `K`, `G`
    /// and `O` carry 0 % and need a tax_exemption_reason.
    pub tax_category: Option<TaxCategory>,
    /// Why no VAT is charged: text, or a VATEX code (`VATEX-EU-AE`).
    #[schema(max_length = 1000)]
    pub tax_exemption_reason: Option<String>,
    /// 1-based; default: after the last line. Lines at or after it move down.
    #[schema(minimum = 1, maximum = 2147483647)]
    pub position: Option<i64>,
}

/// Changes to a line; only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 1000)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = quantity_input_schema)]
    pub quantity: Option<Option<DecimalInput>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = price_input_schema)]
    pub unit_price: Option<Option<DecimalInput>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = tax_rate_input_schema)]
    pub tax_rate: Option<Option<DecimalInput>>,
    /// A new rate alone moves a line between `S` and `Z`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = TaxCategory)]
    pub tax_category: Option<Option<TaxCategory>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub tax_exemption_reason: Option<Option<String>>,
    /// Moves the line; the others shift to keep 1..n.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i64, minimum = 1, maximum = 2147483647)]
    pub position: Option<Option<i64>>,
}

fn parse_position(position: i64) -> Result<i64, String> {
    if (1..=i64::from(i32::MAX)).contains(&position) {
        Ok(position)
    } else {
        Err("must be 1 or more".into())
    }
}

fn parse_description(text: &str) -> Result<String, String> {
    Name::<1000>::parse(text).map(Name::into_inner)
}

impl ItemCreate {
    /// Parses into `v` (nested under `items[i]` for inline items).
    pub fn parse_into(self, v: &mut Validation) -> Option<NewLine> {
        let description = v.check("description", parse_description(&self.description));
        let quantity = v.check("quantity", Quantity::parse(&self.quantity));
        let unit_price = v.check("unit_price", Money::parse_non_negative(&self.unit_price));
        let tax_rate = v.check(
            "tax_rate",
            self.tax_rate
                .as_ref()
                .map_or(Ok(TaxRate::zero()), TaxRate::parse),
        );
        let position = v.check("position", self.position.map(parse_position).transpose());
        let reason = v.check(
            "tax_exemption_reason",
            self.tax_exemption_reason
                .as_deref()
                .map(parse_exemption_reason)
                .transpose(),
        );
        let (
            Some(description),
            Some(quantity),
            Some(unit_price),
            Some(tax_rate),
            Some(position),
            Some(reason),
        ) = (
            description,
            quantity,
            unit_price,
            tax_rate,
            position,
            reason,
        )
        else {
            return None;
        };
        if let Err(error) = check_line(&quantity, &unit_price) {
            v.reject("unit_price", error.to_string());
            return None;
        }
        let category = self
            .tax_category
            .unwrap_or_else(|| default_category(&tax_rate));
        if let Err(InvoicingError::TaxRule { field, message }) =
            check_tax_fields("", category, &tax_rate, reason.as_deref())
        {
            v.reject(&field, message);
            return None;
        }
        Some(NewLine {
            position,
            fields: ItemFields {
                description,
                quantity,
                unit_price,
                tax_rate,
                tax_category: category,
                tax_exemption_reason: reason,
            },
        })
    }
}

impl ItemPatch {
    fn parse(self) -> Result<LinePatch, ApiError> {
        let mut v = Validation::new();
        let description = v.change("description", self.description, |d| parse_description(&d));
        let quantity = v.change("quantity", self.quantity, |q| Quantity::parse(&q));
        let unit_price = v.change("unit_price", self.unit_price, |p| {
            Money::parse_non_negative(&p)
        });
        let tax_rate = v.change("tax_rate", self.tax_rate, |t| TaxRate::parse(&t));
        let position = v.change("position", self.position, parse_position);
        let tax_category = v.change("tax_category", self.tax_category, Ok::<_, String>);
        let reason = v.nullable_change("tax_exemption_reason", self.tax_exemption_reason, |r| {
            r.as_deref().map(parse_exemption_reason).transpose()
        });
        let (
            Some(description),
            Some(quantity),
            Some(unit_price),
            Some(tax_rate),
            Some(position),
            Some(tax_category),
            Some(tax_exemption_reason),
        ) = (
            description,
            quantity,
            unit_price,
            tax_rate,
            position,
            tax_category,
            reason,
        )
        else {
            return Err(v.into_errors().into());
        };
        Ok(LinePatch {
            description,
            quantity,
            unit_price,
            tax_rate,
            tax_category,
            tax_exemption_reason,
            position,
        })
    }
}

/// The invoice's lines, in position order (all of them: at most 500)
#[utoipa::path(
    tag = "items",
    params(("invoice_id" = i64, Path, minimum = 1, description = "The invoice's id")),
    responses(
        (status = 200, description = "Every line, in position order; has_more is always false", body = List<ItemView>),
        (status = 404, description = "No such invoice in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/invoices/{invoice_id}/items")]
pub async fn list_items(
    tenant: Tenant,
    invoice: InvoiceId,
    state: web::Data<AppState>,
) -> Result<web::Json<List<ItemView>>, ApiError> {
    let items = tenant
        .transaction(&state.db, move |conn| {
            Ok(invoicing::list_items(conn, invoice)?)
        })
        .await?;
    Ok(web::Json(List {
        data: items.into_iter().map(ItemView::from).collect(),
        has_more: false,
        next_after: None,
    }))
}

/// Add a line to a draft invoice
#[utoipa::path(
    tag = "items",
    params(("invoice_id" = i64, Path, minimum = 1, description = "The invoice's id")),
    request_body = ItemCreate,
    responses(
        (status = 201, description = "The new line", body = ItemView),
        (status = 404, description = "No such invoice in this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The invoice is not a draft, or has 500 lines", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/invoices/{invoice_id}/items")]
pub async fn add_item(
    tenant: Tenant,
    invoice: InvoiceId,
    state: web::Data<AppState>,
    post: IdempotentPost,
    body: JsonBody<ItemCreate>,
) -> Result<HttpResponse, ApiError> {
    let JsonBody { value, raw } = body;
    post.respond(
        &tenant,
        &state.db,
        &raw,
        StatusCode::CREATED,
        move || {
            let mut v = Validation::new();
            value
                .parse_into(&mut v)
                .ok_or_else(|| v.into_errors().into())
        },
        move |conn, line| {
            let item = ItemView::from(invoicing::add_item(conn, invoice, &line)?);
            record_invoice_updated(conn, invoice)?;
            Ok(item)
        },
    )
    .await
}

/// Get one line of an invoice
#[utoipa::path(
    tag = "items",
    params(
        ("invoice_id" = i64, Path, minimum = 1, description = "The invoice's id"),
        ("item_id" = i64, Path, minimum = 1, description = "The line's id"),
    ),
    responses(
        (status = 200, description = "The line", body = ItemView),
        (status = 404, description = "No such invoice or line in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/invoices/{invoice_id}/items/{item_id}")]
pub async fn get_item(
    tenant: Tenant,
    invoice: InvoiceId,
    item: ItemId,
    state: web::Data<AppState>,
) -> Result<web::Json<ItemView>, ApiError> {
    let found = tenant
        .transaction(&state.db, move |conn| {
            Ok(invoicing::get_item(conn, invoice, item)?)
        })
        .await?;
    Ok(web::Json(found.into()))
}

/// Change a line of a draft invoice
#[utoipa::path(
    tag = "items",
    params(
        ("invoice_id" = i64, Path, minimum = 1, description = "The invoice's id"),
        ("item_id" = i64, Path, minimum = 1, description = "The line's id"),
    ),
    request_body = ItemPatch,
    responses(
        (status = 200, description = "The changed line", body = ItemView),
        (status = 404, description = "No such invoice or line in this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The invoice is not a draft", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/v1/invoices/{invoice_id}/items/{item_id}")]
pub async fn update_item(
    tenant: Tenant,
    invoice: InvoiceId,
    item: ItemId,
    state: web::Data<AppState>,
    body: JsonBody<ItemPatch>,
) -> Result<web::Json<ItemView>, ApiError> {
    let patch = body.value;
    let updated = tenant
        .transaction(&state.db, move |conn| {
            let patch = patch.parse()?;
            let updated = invoicing::update_item(conn, invoice, item, &patch)?;
            record_invoice_updated(conn, invoice)?;
            Ok(updated)
        })
        .await?;
    Ok(web::Json(updated.into()))
}

/// Remove a line from a draft invoice
#[utoipa::path(
    tag = "items",
    params(
        ("invoice_id" = i64, Path, minimum = 1, description = "The invoice's id"),
        ("item_id" = i64, Path, minimum = 1, description = "The line's id"),
    ),
    responses(
        (status = 204, description = "Removed; the lines after it move up"),
        (status = 404, description = "No such invoice or line in this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The invoice is not a draft", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/invoices/{invoice_id}/items/{item_id}")]
pub async fn delete_item(
    tenant: Tenant,
    invoice: InvoiceId,
    item: ItemId,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    tenant
        .transaction(&state.db, move |conn| {
            invoicing::delete_item(conn, invoice, item)?;
            record_invoice_updated(conn, invoice)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
