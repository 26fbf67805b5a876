//! Payments: recorded on issued invoices, immutable afterwards (there is no
//! PATCH or DELETE; those methods answer 405).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, Problem};
use super::extract::{JsonBody, QueryParams};
use super::idempotency::IdempotentPost;
use super::invoices::record_settlement;
use super::pagination::{List, page_request};
use super::tenant::Tenant;
use crate::domain::{
    DecimalInput, EventType, InvoiceId, InvoiceStatus, Money, OptionalText, PaymentId,
    PaymentMethod, RowId, Validation, amount_input_schema, parse_timestamp,
};
use crate::events;
use crate::invoicing;
use crate::models::payment::PaymentFields;
use crate::views::{InvoiceView, PaymentView};

pub fn routes(config: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    config
        .service(list_invoice_payments)
        .service(record_payment)
        .service(list_payments)
        .service(get_payment);
}

/// A payment of an issued invoice: at most its balance due.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentCreate {
    /// At most the balance due.
    #[schema(schema_with = amount_input_schema)]
    pub amount: DecimalInput,
    /// When it was paid (RFC 3339); default now.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub paid_at: Option<String>,
    pub method: Option<PaymentMethod>,
    /// The payer's or the bank's reference.
    #[schema(max_length = 200)]
    pub reference: Option<String>,
}

impl PaymentCreate {
    fn parse(self) -> Result<PaymentFields, ApiError> {
        let mut v = Validation::new();
        let amount = v.check("amount", Money::parse_positive(&self.amount));
        let paid_at = v.check(
            "paid_at",
            self.paid_at.as_deref().map(parse_timestamp).transpose(),
        );
        let reference = v.check(
            "reference",
            OptionalText::<200>::parse(self.reference.as_deref()).map(OptionalText::into_inner),
        );
        let (Some(amount), Some(paid_at), Some(reference)) = (amount, paid_at, reference) else {
            return Err(v.into_errors().into());
        };
        Ok(PaymentFields {
            amount,
            paid_at,
            method: self.method,
            reference,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListInvoicePaymentsQuery {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Return payments with an id greater than this.
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListPaymentsQuery {
    /// Only this invoice's payments.
    #[param(minimum = 1)]
    pub invoice_id: Option<i64>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Return payments with an id greater than this.
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// The invoice's payments
#[utoipa::path(
    tag = "payments",
    params(("invoice_id" = i64, Path, minimum = 1, description = "The invoice's id"), ListInvoicePaymentsQuery),
    responses(
        (status = 200, description = "A page of the invoice's payments, in id order", body = List<PaymentView>),
        (status = 404, description = "No such invoice in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/invoices/{invoice_id}/payments")]
pub async fn list_invoice_payments(
    tenant: Tenant,
    invoice: InvoiceId,
    state: web::Data<AppState>,
    query: QueryParams<ListInvoicePaymentsQuery>,
) -> Result<web::Json<List<PaymentView>>, ApiError> {
    let query = query.0;
    let page = tenant
        .transaction(&state.db, move |conn| {
            let page = page_request(query.limit, query.after)?;
            Ok(invoicing::invoice_payments(conn, invoice, &page)?)
        })
        .await?;
    Ok(web::Json(List::from_page(
        page,
        |p| p.id,
        PaymentView::from,
    )))
}

/// Record a payment on an issued invoice
#[utoipa::path(
    tag = "payments",
    params(("invoice_id" = i64, Path, minimum = 1, description = "The invoice's id")),
    request_body = PaymentCreate,
    responses(
        (status = 201, description = "The payment; the invoice is paid when it clears the balance", body = PaymentView),
        (status = 404, description = "No such invoice in this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The invoice is not issued, or the amount exceeds the balance due", body = Problem,
         content_type = "application/problem+json"),
    )
)]
#[post("/v1/invoices/{invoice_id}/payments")]
pub async fn record_payment(
    tenant: Tenant,
    invoice: InvoiceId,
    state: web::Data<AppState>,
    post: IdempotentPost,
    body: JsonBody<PaymentCreate>,
) -> Result<HttpResponse, ApiError> {
    let JsonBody { value, raw } = body;
    post.respond(
        &tenant,
        &state.db,
        &raw,
        StatusCode::CREATED,
        move || value.parse(),
        move |conn, fields| {
            let payment = PaymentView::from(invoicing::record_payment(conn, invoice, &fields)?);
            events::record(conn, EventType::PaymentCreated, &payment)?;
            // A payment is only taken while a balance is due: the invoice
            // was issued before it.
            let now = InvoiceView::from(invoicing::get_invoice(conn, invoice)?);
            record_settlement(conn, InvoiceStatus::Issued, &now)?;
            Ok(payment)
        },
    )
    .await
}

/// List the account's payments
#[utoipa::path(
    tag = "payments",
    params(ListPaymentsQuery),
    responses((status = 200, description = "A page of payments, in id order", body = List<PaymentView>))
)]
#[get("/v1/payments")]
pub async fn list_payments(
    tenant: Tenant,
    state: web::Data<AppState>,
    query: QueryParams<ListPaymentsQuery>,
) -> Result<web::Json<List<PaymentView>>, ApiError> {
    let query = query.0;
    let page = tenant
        .transaction(&state.db, move |conn| {
            let page = page_request(query.limit, query.after)?;
            let invoice = query
                .invoice_id
                .map(|id| {
                    InvoiceId::from_i64(id).ok_or_else(|| {
                        ApiError::bad_request(
                            "Query parameter invoice_id must be a positive integer",
                        )
                    })
                })
                .transpose()?;
            Ok(invoicing::list_payments(conn, invoice, &page)?)
        })
        .await?;
    Ok(web::Json(List::from_page(
        page,
        |p| p.id,
        PaymentView::from,
    )))
}

/// Get a payment
#[utoipa::path(
    tag = "payments",
    params(("payment_id" = i64, Path, minimum = 1, description = "The payment's id")),
    responses(
        (status = 200, description = "The payment", body = PaymentView),
        (status = 404, description = "No such payment in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/payments/{payment_id}")]
pub async fn get_payment(
    tenant: Tenant,
    id: PaymentId,
    state: web::Data<AppState>,
) -> Result<web::Json<PaymentView>, ApiError> {
    let payment = tenant
        .transaction(&state.db, move |conn| Ok(invoicing::get_payment(conn, id)?))
        .await?;
    Ok(web::Json(payment.into()))
}
