//! Credit notes: `POST /v1/invoices/{id}/credit_notes` issues one; they are
//! listed per invoice and per account, and never change (PATCH and DELETE
//! answer 405).

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
    CreditNoteId, DecimalInput, EventType, InvoiceId, InvoiceStatus, ItemId, Money, Name, Quantity,
    RowId, TaxCategory, TaxRate, Validation, parse_exemption_reason, price_input_schema,
    quantity_input_schema, tax_rate_input_schema,
};
use crate::events;
use crate::invoicing::{
    self, CreditLine, CreditRequest, FullCreditNote, InvoicingError, MAX_ITEMS, check_tax_fields,
    default_category,
};
use crate::views::{CreditNoteView, InvoiceView};

pub fn routes(config: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    config
        .service(create_credit_note)
        .service(list_invoice_credit_notes)
        .service(list_credit_notes)
        .service(get_credit_note);
}

impl From<FullCreditNote> for CreditNoteView {
    fn from(full: FullCreditNote) -> Self {
        CreditNoteView::new(full.note, full.invoice_number, full.invoice_issue_date)
    }
}

/// A line to credit: `item_id` and `quantity` (of one of the invoice's
/// items, at its price and tax), or a free line with `description`,
/// `quantity`, `unit_price` and its tax.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditLineInput {
    #[schema(minimum = 1)]
    pub item_id: Option<i64>,
    #[schema(schema_with = quantity_input_schema)]
    pub quantity: DecimalInput,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    #[schema(schema_with = price_input_schema)]
    pub unit_price: Option<DecimalInput>,
    #[schema(schema_with = tax_rate_input_schema)]
    pub tax_rate: Option<DecimalInput>,
    pub tax_category: Option<TaxCategory>,
    #[schema(max_length = 1000)]
    pub tax_exemption_reason: Option<String>,
}

/// A credit note: a `reason`, and `lines` or `full: true` (everything the
/// invoice still has uncredited).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditNoteCreate {
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
    #[schema(max_items = 500)]
    pub lines: Option<Vec<CreditLineInput>>,
    pub full: Option<bool>,
}

impl CreditLineInput {
    fn parse_into(self, v: &mut Validation) -> Option<CreditLine> {
        let quantity = v.check("quantity", Quantity::parse(&self.quantity));
        if let Some(item) = self.item_id {
            for (field, given) in [
                ("description", self.description.is_some()),
                ("unit_price", self.unit_price.is_some()),
                ("tax_rate", self.tax_rate.is_some()),
                ("tax_category", self.tax_category.is_some()),
                ("tax_exemption_reason", self.tax_exemption_reason.is_some()),
            ] {
                if given {
                    v.reject(field, "comes from the item: give item_id and quantity only");
                }
            }
            let item = v.check(
                "item_id",
                ItemId::from_i64(item).ok_or_else(|| "must be an item id".to_owned()),
            );
            return Some(CreditLine::Item {
                item: item?,
                quantity: quantity?,
            });
        }
        let description = v.check(
            "description",
            match &self.description {
                Some(text) => Name::<1000>::parse(text).map(Name::into_inner),
                None => Err("is required for a line without item_id".into()),
            },
        );
        let unit_price = v.check(
            "unit_price",
            match &self.unit_price {
                Some(price) => Money::parse_non_negative(price),
                None => Err("is required for a line without item_id".into()),
            },
        );
        let tax_rate = v.check(
            "tax_rate",
            self.tax_rate
                .as_ref()
                .map_or(Ok(TaxRate::zero()), TaxRate::parse),
        );
        let reason = v.check(
            "tax_exemption_reason",
            self.tax_exemption_reason
                .as_deref()
                .map(parse_exemption_reason)
                .transpose(),
        );
        let (description, quantity, unit_price, tax_rate, reason) =
            (description?, quantity?, unit_price?, tax_rate?, reason?);
        let category = self
            .tax_category
            .unwrap_or_else(|| default_category(&tax_rate));
        if let Err(InvoicingError::TaxRule { field, message }) =
            check_tax_fields("", category, &tax_rate, reason.as_deref())
        {
            v.reject(&field, message);
            return None;
        }
        Some(CreditLine::Free {
            description,
            quantity,
            unit_price,
            tax_rate,
            tax_category: category,
            tax_exemption_reason: reason,
        })
    }
}

impl CreditNoteCreate {
    fn parse(self) -> Result<(String, CreditRequest), ApiError> {
        let mut v = Validation::new();
        let reason = v.check(
            "reason",
            Name::<1000>::parse(&self.reason).map(Name::into_inner),
        );
        let request = match (self.lines, self.full) {
            (Some(_), Some(true)) => {
                v.reject("full", "give lines or full: true, not both");
                None
            }
            (None, Some(true)) => Some(CreditRequest::Full),
            (None, _) => {
                v.reject(
                    "lines",
                    "are required (or full: true, to credit everything left)",
                );
                None
            }
            (Some(lines), _) if lines.is_empty() => {
                v.reject("lines", "must hold at least one line");
                None
            }
            (Some(lines), _) if lines.len() > MAX_ITEMS => {
                v.reject("lines", format!("must hold at most {MAX_ITEMS} lines"));
                None
            }
            (Some(lines), _) => {
                let mut parsed = Vec::with_capacity(lines.len());
                for (index, line) in lines.into_iter().enumerate() {
                    let mut nested = Validation::nested(format!("lines[{index}]"));
                    let line = line.parse_into(&mut nested);
                    match (line, nested.into_result()) {
                        (Some(line), Ok(())) => parsed.push(line),
                        (_, Err(errors)) => v.absorb(errors),
                        (None, Ok(())) => v.reject(&format!("lines[{index}]"), "is invalid"),
                    }
                }
                Some(CreditRequest::Lines(parsed))
            }
        };
        match (reason, request, v.is_ok()) {
            (Some(reason), Some(request), true) => Ok((reason, request)),
            _ => Err(v.into_errors().into()),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListCreditNotesQuery {
    /// Only this invoice's credit notes.
    #[param(minimum = 1)]
    pub invoice_id: Option<i64>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Return credit notes with an id greater than this.
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListInvoiceCreditNotesQuery {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Return credit notes with an id greater than this.
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

fn page_of(page: crate::models::Page<FullCreditNote>) -> List<CreditNoteView> {
    List::from_page(page, |n| n.note.note.id, CreditNoteView::from)
}

/// Issue a credit note for an issued or paid invoice
#[utoipa::path(
    tag = "credit notes",
    params(("invoice_id" = i64, Path, minimum = 1, description = "The invoice it corrects")),
    request_body = CreditNoteCreate,
    responses(
        (status = 201, description = "The credit note, issued and numbered", body = CreditNoteView),
        (status = 404, description = "No such invoice in this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not issued or paid, or more than is left to credit", body = Problem,
         content_type = "application/problem+json"),
    )
)]
#[post("/v1/invoices/{invoice_id}/credit_notes")]
pub async fn create_credit_note(
    tenant: Tenant,
    invoice: InvoiceId,
    state: web::Data<AppState>,
    post: IdempotentPost,
    body: JsonBody<CreditNoteCreate>,
) -> Result<HttpResponse, ApiError> {
    let JsonBody { value, raw } = body;
    post.respond(
        &tenant,
        &state.db,
        &raw,
        StatusCode::CREATED,
        move || value.parse(),
        move |conn, (reason, request)| {
            let before = crate::models::invoice::find(conn, invoice)?
                .map_or(InvoiceStatus::Issued, |found| found.status);
            let note = CreditNoteView::from(invoicing::create_credit_note(
                conn, invoice, &reason, &request,
            )?);
            events::record(conn, EventType::CreditNoteCreated, &note)?;
            // Crediting what was left to pay settles the invoice (paid), or
            // cancels it (void) when nothing was paid.
            let now = InvoiceView::from(invoicing::get_invoice(conn, invoice)?);
            record_settlement(conn, before, &now)?;
            Ok(note)
        },
    )
    .await
}

/// An invoice's credit notes
#[utoipa::path(
    tag = "credit notes",
    params(("invoice_id" = i64, Path, minimum = 1, description = "The invoice's id"), ListInvoiceCreditNotesQuery),
    responses(
        (status = 200, description = "A page of its credit notes, in id order", body = List<CreditNoteView>),
        (status = 404, description = "No such invoice in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/invoices/{invoice_id}/credit_notes")]
pub async fn list_invoice_credit_notes(
    tenant: Tenant,
    invoice: InvoiceId,
    state: web::Data<AppState>,
    query: QueryParams<ListInvoiceCreditNotesQuery>,
) -> Result<web::Json<List<CreditNoteView>>, ApiError> {
    let query = query.0;
    let page = tenant
        .transaction(&state.db, move |conn| {
            let page = page_request(query.limit, query.after)?;
            Ok(invoicing::list_credit_notes(
                conn,
                Some(invoice),
                true,
                &page,
            )?)
        })
        .await?;
    Ok(web::Json(page_of(page)))
}

/// The account's credit notes
#[utoipa::path(
    tag = "credit notes",
    params(ListCreditNotesQuery),
    responses((status = 200, description = "A page of credit notes, in id order", body = List<CreditNoteView>))
)]
#[get("/v1/credit_notes")]
pub async fn list_credit_notes(
    tenant: Tenant,
    state: web::Data<AppState>,
    query: QueryParams<ListCreditNotesQuery>,
) -> Result<web::Json<List<CreditNoteView>>, ApiError> {
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
            Ok(invoicing::list_credit_notes(conn, invoice, false, &page)?)
        })
        .await?;
    Ok(web::Json(page_of(page)))
}

/// Get a credit note
#[utoipa::path(
    tag = "credit notes",
    params(("credit_note_id" = i64, Path, minimum = 1, description = "The credit note's id")),
    responses(
        (status = 200, description = "The credit note", body = CreditNoteView),
        (status = 404, description = "No such credit note in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/credit_notes/{credit_note_id}")]
pub async fn get_credit_note(
    tenant: Tenant,
    id: CreditNoteId,
    state: web::Data<AppState>,
) -> Result<web::Json<CreditNoteView>, ApiError> {
    let note = tenant
        .transaction(&state.db, move |conn| {
            Ok(invoicing::get_credit_note(conn, id)?)
        })
        .await?;
    Ok(web::Json(note.into()))
}
