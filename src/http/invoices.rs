//! /v1/invoices: invoices with their items and derived amounts, and their
//! lifecycle actions.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, Problem};
use super::extract::{JsonBody, QueryParams, present};
use super::idempotency::IdempotentPost;
use super::items::ItemCreate;
use super::pagination::{List, page_request};
use super::tenant::Tenant;
use crate::domain::{
    Currency, CustomerId, EventType, InvoiceId, InvoiceStatus, OptionalText, RowId, Validation,
    parse_date,
};
use crate::events;
use crate::invoicing::{self, FullInvoice, MAX_ITEMS};
use crate::models::invoice::{InvoiceChanges, InvoiceFields, InvoiceFilter};
use crate::views::{CreditNoteView, InvoiceView};

pub fn routes(config: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    config
        .service(list_invoices)
        .service(create_invoice)
        .service(get_invoice)
        .service(update_invoice)
        .service(delete_invoice)
        .service(issue_invoice)
        .service(void_invoice);
}

impl From<FullInvoice> for InvoiceView {
    fn from(full: FullInvoice) -> Self {
        InvoiceView::full(full.invoice, &full.totals, full.items, full.credit_note_ids)
    }
}

/// A new invoice, a draft; its items may be given at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceCreate {
    /// A customer of this account.
    #[schema(minimum = 1)]
    pub customer_id: i64,
    /// Unique within the account when set.
    #[schema(max_length = 100)]
    pub number: Option<String>,
    /// Three upper-case letters (ISO 4217).
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub issue_date: Option<String>,
    /// Not before issue_date.
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<String>,
    #[schema(max_length = 5000)]
    pub notes: Option<String>,
    /// The day the goods or service were delivered (EN 16931 BT-72).
    #[schema(value_type = Option<String>, format = Date)]
    pub service_date: Option<String>,
    /// Or the span they were delivered over (BG-14); not both.
    #[schema(value_type = Option<ServicePeriodInput>)]
    pub service_period: Option<ServicePeriodInput>,
    /// At most 500.
    #[serde(default)]
    #[schema(max_items = 500)]
    pub items: Vec<ItemCreate>,
}

/// Changes to a draft invoice: only the fields given change; null clears
/// an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoicePatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i64, minimum = 1)]
    pub customer_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub number: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, pattern = "^[A-Z]{3}$")]
    pub currency: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Date)]
    pub issue_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 5000)]
    pub notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Date)]
    pub service_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ServicePeriodInput>)]
    pub service_period: Option<Option<ServicePeriodInput>>,
}

/// A service period as a request sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePeriodInput {
    #[schema(value_type = String, format = Date)]
    pub start: String,
    #[schema(value_type = String, format = Date)]
    pub end: String,
}

impl ServicePeriodInput {
    fn parse(&self) -> Result<(NaiveDate, NaiveDate), String> {
        let start = parse_date(&self.start).map_err(|m| format!("start {m}"))?;
        let end = parse_date(&self.end).map_err(|m| format!("end {m}"))?;
        if end < start {
            return Err(format!("end must not be before start ({start})"));
        }
        Ok((start, end))
    }
}

fn one_of_service_date_or_period(v: &mut Validation, date: bool, period: bool) {
    if date && period {
        v.reject(
            "service_period",
            "give a service_date or a service_period, not both",
        );
    }
}

fn parse_customer(id: i64) -> Result<CustomerId, String> {
    CustomerId::from_i64(id).ok_or_else(|| "must be a customer id (a positive integer)".into())
}

fn parse_number(number: Option<&str>) -> Result<Option<String>, String> {
    OptionalText::<100>::parse(number).map(OptionalText::into_inner)
}

fn parse_notes(notes: Option<&str>) -> Result<Option<String>, String> {
    OptionalText::<5000>::parse(notes).map(OptionalText::into_inner)
}

fn parse_optional_date(date: Option<&str>) -> Result<Option<NaiveDate>, String> {
    date.map(parse_date).transpose()
}

fn due_not_before_issue(v: &mut Validation, issue: Option<NaiveDate>, due: Option<NaiveDate>) {
    if let (Some(issue), Some(due)) = (issue, due)
        && due < issue
    {
        v.reject(
            "due_date",
            format!("must not be before issue_date ({issue})"),
        );
    }
}

impl InvoiceCreate {
    fn parse(self) -> Result<(InvoiceFields, Vec<invoicing::NewLine>), ApiError> {
        let mut v = Validation::new();
        let customer_id = v.check("customer_id", parse_customer(self.customer_id));
        let number = v.check("number", parse_number(self.number.as_deref()));
        let currency = v.check("currency", Currency::parse(&self.currency));
        let issue_date = v.check(
            "issue_date",
            parse_optional_date(self.issue_date.as_deref()),
        );
        let due_date = v.check("due_date", parse_optional_date(self.due_date.as_deref()));
        let notes = v.check("notes", parse_notes(self.notes.as_deref()));
        let service_date = v.check(
            "service_date",
            parse_optional_date(self.service_date.as_deref()),
        );
        let service_period = v.check(
            "service_period",
            self.service_period
                .as_ref()
                .map(ServicePeriodInput::parse)
                .transpose(),
        );
        one_of_service_date_or_period(
            &mut v,
            self.service_date.is_some(),
            self.service_period.is_some(),
        );
        due_not_before_issue(&mut v, issue_date.flatten(), due_date.flatten());
        let mut lines = Vec::with_capacity(self.items.len());
        if self.items.len() > MAX_ITEMS {
            v.reject(
                "items",
                format!(
                    "must have at most {MAX_ITEMS} items, not {}",
                    self.items.len()
                ),
            );
        } else {
            for (index, item) in self.items.into_iter().enumerate() {
                let mut nested = Validation::nested(format!("items[{index}]"));
                let line = item.parse_into(&mut nested);
                match (line, nested.into_result()) {
                    (Some(line), Ok(())) => lines.push(line),
                    (_, Err(errors)) => v.absorb(errors),
                    (None, Ok(())) => v.reject(&format!("items[{index}]"), "is invalid"),
                }
            }
        }
        let (
            Some(customer_id),
            Some(number),
            Some(currency),
            Some(issue_date),
            Some(due_date),
            Some(notes),
            Some(service_date),
            Some(service_period),
            true,
        ) = (
            customer_id,
            number,
            currency,
            issue_date,
            due_date,
            notes,
            service_date,
            service_period,
            v.is_ok(),
        )
        else {
            return Err(v.into_errors().into());
        };
        Ok((
            InvoiceFields {
                customer_id,
                number,
                currency: currency.into_inner(),
                issue_date,
                due_date,
                notes,
                service_date,
                service_period,
            },
            lines,
        ))
    }
}

impl InvoicePatch {
    fn parse(self) -> Result<InvoiceChanges, ApiError> {
        let mut v = Validation::new();
        let customer_id = v.change("customer_id", self.customer_id, |id| {
            parse_customer(id).map(RowId::get)
        });
        let number = v.nullable_change("number", self.number, |n| parse_number(n.as_deref()));
        let currency = v.change("currency", self.currency, |c| {
            Currency::parse(&c).map(Currency::into_inner)
        });
        let issue_date = v.nullable_change("issue_date", self.issue_date, |d| {
            parse_optional_date(d.as_deref())
        });
        let due_date = v.nullable_change("due_date", self.due_date, |d| {
            parse_optional_date(d.as_deref())
        });
        let notes = v.nullable_change("notes", self.notes, |n| parse_notes(n.as_deref()));
        one_of_service_date_or_period(
            &mut v,
            matches!(self.service_date, Some(Some(_))),
            matches!(self.service_period, Some(Some(_))),
        );
        let service_date = v.nullable_change("service_date", self.service_date, |d| {
            parse_optional_date(d.as_deref())
        });
        let service_period = v.nullable_change("service_period", self.service_period, |p| {
            p.as_ref().map(ServicePeriodInput::parse).transpose()
        });
        due_not_before_issue(
            &mut v,
            issue_date.flatten().flatten(),
            due_date.flatten().flatten(),
        );
        let (
            Some(customer_id),
            Some(number),
            Some(currency),
            Some(issue_date),
            Some(due_date),
            Some(notes),
            Some(service_date),
            Some(service_period),
            true,
        ) = (
            customer_id,
            number,
            currency,
            issue_date,
            due_date,
            notes,
            service_date,
            service_period,
            v.is_ok(),
        )
        else {
            return Err(v.into_errors().into());
        };
        // A service date replaces a period and the other way round.
        let (service_date, service_period) = match (service_date, service_period) {
            (Some(Some(date)), None) => (Some(Some(date)), Some(None)),
            (None, Some(Some(period))) => (Some(None), Some(Some(period))),
            other => other,
        };
        Ok(InvoiceChanges {
            customer_id,
            number,
            currency,
            issue_date,
            due_date,
            notes,
            service_date,
            service_period_start: service_period.map(|p| p.map(|(start, _)| start)),
            service_period_end: service_period.map(|p| p.map(|(_, end)| end)),
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListInvoicesQuery {
    pub status: Option<InvoiceStatus>,
    #[param(minimum = 1)]
    pub customer_id: Option<i64>,
    /// Issued on or after this date (YYYY-MM-DD).
    #[param(value_type = Option<String>, format = Date)]
    pub issued_from: Option<String>,
    /// Issued on or before this date (YYYY-MM-DD).
    #[param(value_type = Option<String>, format = Date)]
    pub issued_to: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Return invoices with an id greater than this.
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

impl ListInvoicesQuery {
    fn filter(&self) -> Result<InvoiceFilter, ApiError> {
        let date = |name: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(parse_date)
                .transpose()
                .map_err(|message| {
                    ApiError::bad_request(format!("Query parameter {name} {message}"))
                })
        };
        let customer_id = self
            .customer_id
            .map(|id| {
                CustomerId::from_i64(id).ok_or_else(|| {
                    ApiError::bad_request("Query parameter customer_id must be a positive integer")
                })
            })
            .transpose()?;
        Ok(InvoiceFilter {
            status: self.status,
            customer_id,
            issued_from: date("issued_from", &self.issued_from)?,
            issued_to: date("issued_to", &self.issued_to)?,
        })
    }
}

const INVOICE_ID: &str = "The invoice's id";

/// List the account's invoices (without their items)
#[utoipa::path(
    tag = "invoices",
    params(ListInvoicesQuery),
    responses((status = 200, description = "A page of invoices, in id order", body = List<InvoiceView>))
)]
#[get("/v1/invoices")]
pub async fn list_invoices(
    tenant: Tenant,
    state: web::Data<AppState>,
    query: QueryParams<ListInvoicesQuery>,
) -> Result<web::Json<List<InvoiceView>>, ApiError> {
    let query = query.0;
    let page = tenant
        .transaction(&state.db, move |conn| {
            let page = page_request(query.limit, query.after)?;
            let filter = query.filter()?;
            Ok(invoicing::list_invoices(conn, &filter, &page)?)
        })
        .await?;
    Ok(web::Json(List::from_page(
        page,
        |(invoice, _)| invoice.id,
        |(invoice, totals)| InvoiceView::summary(invoice, &totals),
    )))
}

/// Create a draft invoice, with its items if given
#[utoipa::path(
    tag = "invoices",
    request_body = InvoiceCreate,
    responses(
        (status = 201, description = "The new draft", body = InvoiceView),
        (status = 409, description = "The number is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/invoices")]
pub async fn create_invoice(
    tenant: Tenant,
    state: web::Data<AppState>,
    post: IdempotentPost,
    body: JsonBody<InvoiceCreate>,
) -> Result<HttpResponse, ApiError> {
    let JsonBody { value, raw } = body;
    post.respond(
        &tenant,
        &state.db,
        &raw,
        StatusCode::CREATED,
        move || value.parse(),
        |conn, (fields, lines)| {
            let view = InvoiceView::from(invoicing::create_invoice(conn, &fields, &lines)?);
            events::record(conn, EventType::InvoiceCreated, &view)?;
            Ok(view)
        },
    )
    .await
}

/// Get an invoice with its items and derived amounts
#[utoipa::path(
    tag = "invoices",
    params(("invoice_id" = i64, Path, minimum = 1, description = INVOICE_ID)),
    responses(
        (status = 200, description = "The invoice", body = InvoiceView),
        (status = 404, description = "No such invoice in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/invoices/{invoice_id}")]
pub async fn get_invoice(
    tenant: Tenant,
    id: InvoiceId,
    state: web::Data<AppState>,
) -> Result<web::Json<InvoiceView>, ApiError> {
    let full = tenant
        .transaction(&state.db, move |conn| Ok(invoicing::get_invoice(conn, id)?))
        .await?;
    Ok(web::Json(full.into()))
}

/// Change a draft invoice
#[utoipa::path(
    tag = "invoices",
    params(("invoice_id" = i64, Path, minimum = 1, description = INVOICE_ID)),
    request_body = InvoicePatch,
    responses(
        (status = 200, description = "The changed invoice", body = InvoiceView),
        (status = 404, description = "No such invoice in this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft, or the number is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/v1/invoices/{invoice_id}")]
pub async fn update_invoice(
    tenant: Tenant,
    id: InvoiceId,
    state: web::Data<AppState>,
    body: JsonBody<InvoicePatch>,
) -> Result<web::Json<InvoiceView>, ApiError> {
    let patch = body.value;
    let full = tenant
        .transaction(&state.db, move |conn| {
            let changes = patch.parse()?;
            let view = InvoiceView::from(invoicing::update_invoice(conn, id, &changes)?);
            events::record(conn, EventType::InvoiceUpdated, &view)?;
            Ok(view)
        })
        .await?;
    Ok(web::Json(full))
}

/// Delete a draft invoice and its items
#[utoipa::path(
    tag = "invoices",
    params(("invoice_id" = i64, Path, minimum = 1, description = INVOICE_ID)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such invoice in this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/invoices/{invoice_id}")]
pub async fn delete_invoice(
    tenant: Tenant,
    id: InvoiceId,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    tenant
        .transaction(&state.db, move |conn| {
            // What the event shows: the draft as it was.
            let before = InvoiceView::from(invoicing::get_invoice(conn, id)?);
            invoicing::delete_invoice(conn, id)?;
            events::record(conn, EventType::InvoiceDeleted, &before)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Issue a draft (it needs at least one item)
#[utoipa::path(
    tag = "invoices",
    params(("invoice_id" = i64, Path, minimum = 1, description = INVOICE_ID)),
    responses(
        (status = 200, description = "The issued invoice; issue_date is today unless it was set", body = InvoiceView),
        (status = 404, description = "No such invoice in this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft, or no items", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/invoices/{invoice_id}/issue")]
pub async fn issue_invoice(
    tenant: Tenant,
    id: InvoiceId,
    state: web::Data<AppState>,
    post: IdempotentPost,
) -> Result<HttpResponse, ApiError> {
    post.respond(
        &tenant,
        &state.db,
        &[],
        StatusCode::OK,
        || Ok(()),
        move |conn, ()| {
            let view = InvoiceView::from(invoicing::issue_invoice(conn, id)?);
            events::record(conn, EventType::InvoiceIssued, &view)?;
            // A 0.00 invoice is paid the moment it is issued.
            record_settlement(conn, InvoiceStatus::Issued, &view)?;
            Ok(view)
        },
    )
    .await
}

/// Void an issued invoice (only while nothing is paid)
#[utoipa::path(
    tag = "invoices",
    params(("invoice_id" = i64, Path, minimum = 1, description = INVOICE_ID)),
    responses(
        (status = 200, description = "The void invoice", body = InvoiceView),
        (status = 404, description = "No such invoice in this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not issued, or partly paid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/invoices/{invoice_id}/void")]
pub async fn void_invoice(
    tenant: Tenant,
    id: InvoiceId,
    state: web::Data<AppState>,
    post: IdempotentPost,
) -> Result<HttpResponse, ApiError> {
    post.respond(
        &tenant,
        &state.db,
        &[],
        StatusCode::OK,
        || Ok(()),
        move |conn, ()| {
            let (voided, cancellation) = invoicing::void_invoice(conn, id)?;
            let view = InvoiceView::from(voided);
            events::record(conn, EventType::InvoiceVoided, &view)?;
            events::record(
                conn,
                EventType::CreditNoteCreated,
                &CreditNoteView::from(cancellation),
            )?;
            Ok(view)
        },
    )
    .await
}

/// Records `invoice.paid` or `invoice.voided` when the change that
/// produced `view` (a payment, a credit note, issuing a 0.00 invoice) moved
/// the invoice into that status from `before`.
pub(super) fn record_settlement(
    conn: &mut crate::db::TenantConn<'_>,
    before: InvoiceStatus,
    view: &InvoiceView,
) -> diesel::QueryResult<()> {
    if view.status == before {
        return Ok(());
    }
    match view.status {
        InvoiceStatus::Paid => events::record(conn, EventType::InvoicePaid, view).map(drop),
        InvoiceStatus::Void => events::record(conn, EventType::InvoiceVoided, view).map(drop),
        _ => Ok(()),
    }
}

/// Records `invoice.updated` with the invoice as it is now (after a change
/// to its lines).
pub(super) fn record_invoice_updated(
    conn: &mut crate::db::TenantConn<'_>,
    id: InvoiceId,
) -> Result<(), ApiError> {
    let view = InvoiceView::from(invoicing::get_invoice(conn, id)?);
    events::record(conn, EventType::InvoiceUpdated, &view)?;
    Ok(())
}
