//! The documents a customer receives: `GET /v1/invoices/{id}/pdf` and
//! `/xml`, and the same for credit notes. An issued document is served as
//! it was stored when it was issued, byte for byte, with its SHA-256 as
//! the `ETag` (`If-None-Match` answers 304); a draft's PDF is a preview.

use actix_web::http::header::{self, EntityTag, Header, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, Problem};
use super::extract::QueryParams;
use super::tenant::Tenant;
use crate::db::TenantConn;
use crate::documents::issued::{self, DocumentError, Served, Subject, Syntax};
use crate::domain::{CreditNoteId, InvoiceId, Locale};
use crate::invoicing;

pub fn routes(config: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    config
        .service(invoice_pdf)
        .service(invoice_xml)
        .service(credit_note_pdf)
        .service(credit_note_xml);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PdfQuery {
    /// The language: `en` or `de`. Without it, the language the document
    /// was issued in (the customer's `locale`, else the account's).
    #[param(value_type = Option<Locale>)]
    pub lang: Option<Locale>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum XmlSyntax {
    /// UN/CEFACT CII D16B, Factur-X EN 16931: the XML the PDF embeds.
    #[default]
    Cii,
    /// UBL 2.1 Invoice / CreditNote (XRechnung 3.0 when the customer has a
    /// buyer_reference).
    Ubl,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct XmlQuery {
    /// `cii` (the default) or `ubl`.
    #[param(value_type = Option<XmlSyntax>)]
    pub syntax: Option<XmlSyntax>,
}

/// The bytes of a PDF or an XML document.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct DocumentBytes(#[allow(dead_code)] Vec<u8>);

/// The document, or 304 when the client's copy (`If-None-Match`) is it.
fn respond(req: &HttpRequest, served: Served) -> HttpResponse {
    let hex: String = served.sha256.iter().map(|b| format!("{b:02x}")).collect();
    let tag = EntityTag::new_strong(hex);
    let fresh = match IfNoneMatch::parse(req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(&tag)),
        Err(_) => false,
    };
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header(header::ETag(tag))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    if fresh {
        return response.finish();
    }
    response
        .content_type(served.media_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{}\"", served.file_name),
        ))
        .body(served.content)
}

/// Runs `work` in the tenant's transaction and answers what it served.
async fn document<F>(
    tenant: Tenant,
    state: web::Data<AppState>,
    req: HttpRequest,
    work: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(&mut TenantConn<'_>) -> Result<Served, ApiError> + Send + 'static,
{
    let served = tenant.transaction(&state.db, work).await?;
    Ok(respond(&req, served))
}

/// The invoice's documents are made from it, its items and its amounts.
fn of_invoice(
    conn: &mut TenantConn<'_>,
    id: InvoiceId,
    serve: impl FnOnce(&mut TenantConn<'_>, &Subject<'_>) -> Result<Served, DocumentError>,
) -> Result<Served, ApiError> {
    let full = invoicing::get_invoice(conn, id)?;
    let subject = Subject::Invoice {
        invoice: &full.invoice,
        items: &full.items,
        totals: &full.totals,
    };
    Ok(serve(conn, &subject)?)
}

/// A credit note's documents are made from it and the invoice it corrects.
fn of_credit_note(
    conn: &mut TenantConn<'_>,
    id: CreditNoteId,
    serve: impl FnOnce(&mut TenantConn<'_>, &Subject<'_>) -> Result<Served, DocumentError>,
) -> Result<Served, ApiError> {
    let note = invoicing::get_credit_note(conn, id)?.note;
    let invoice = invoicing::get_invoice(conn, InvoiceId::from_db(note.note.invoice_id))?;
    let subject = Subject::CreditNote {
        note: &note,
        invoice: &invoice.invoice,
    };
    Ok(serve(conn, &subject)?)
}

/// An invoice as a PDF
///
/// A4, PDF/A-3b, with the EN 16931 CII XML embedded as `factur-x.xml`
/// (Factur-X / ZUGFeRD) when the invoice makes a valid e-invoice. An issued
/// invoice's PDF is the one stored when it was issued; a draft's is a
/// preview marked DRAFT, made anew on every request.
#[utoipa::path(
    tag = "documents",
    params(("invoice_id" = i64, Path, minimum = 1, description = "The invoice's id"), PdfQuery),
    responses(
        (status = 200, description = "The PDF; ETag is its SHA-256", body = DocumentBytes, content_type = "application/pdf"),
        (status = 304, description = "If-None-Match named this very document"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/invoices/{invoice_id}/pdf")]
pub async fn invoice_pdf(
    tenant: Tenant,
    id: InvoiceId,
    query: QueryParams<PdfQuery>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let language = query.0.lang;
    document(tenant, state, req, move |conn| {
        of_invoice(conn, id, |conn, subject| {
            issued::pdf(conn, subject, language)
        })
    })
    .await
}

/// An invoice as an EN 16931 e-invoice
///
/// `syntax=cii` (the default): UN/CEFACT CII D16B as Factur-X EN 16931, the
/// same bytes the PDF embeds. `syntax=ubl`: UBL 2.1, XRechnung 3.0 when the
/// customer has a buyer_reference. 409 for a draft, and for an invoice whose
/// data cannot make a valid e-invoice (naming what is missing).
#[utoipa::path(
    tag = "documents",
    params(("invoice_id" = i64, Path, minimum = 1, description = "The invoice's id"), XmlQuery),
    responses(
        (status = 200, description = "The XML; ETag is its SHA-256", body = DocumentBytes, content_type = "application/xml"),
        (status = 304, description = "If-None-Match named this very document"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice in this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A draft, or data that cannot make a valid e-invoice (errors name what is missing)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/invoices/{invoice_id}/xml")]
pub async fn invoice_xml(
    tenant: Tenant,
    id: InvoiceId,
    query: QueryParams<XmlQuery>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let syntax = syntax(query.0.syntax);
    document(tenant, state, req, move |conn| {
        of_invoice(conn, id, |conn, subject| issued::xml(conn, subject, syntax))
    })
    .await
}

fn syntax(requested: Option<XmlSyntax>) -> Syntax {
    match requested.unwrap_or_default() {
        XmlSyntax::Cii => Syntax::Cii,
        XmlSyntax::Ubl => Syntax::Ubl,
    }
}

/// A credit note as a PDF
///
/// A4, PDF/A-3b, with its EN 16931 CII XML (type 381) embedded as
/// `factur-x.xml`; stored when the credit note was issued.
#[utoipa::path(
    tag = "documents",
    params(("credit_note_id" = i64, Path, minimum = 1, description = "The credit note's id"), PdfQuery),
    responses(
        (status = 200, description = "The PDF; ETag is its SHA-256", body = DocumentBytes, content_type = "application/pdf"),
        (status = 304, description = "If-None-Match named this very document"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such credit note in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/credit_notes/{credit_note_id}/pdf")]
pub async fn credit_note_pdf(
    tenant: Tenant,
    id: CreditNoteId,
    query: QueryParams<PdfQuery>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let language = query.0.lang;
    document(tenant, state, req, move |conn| {
        of_credit_note(conn, id, |conn, subject| {
            issued::pdf(conn, subject, language)
        })
    })
    .await
}

/// A credit note as an EN 16931 e-invoice
///
/// Type 381, referring to the invoice it corrects (BT-25, BT-26); `syntax`
/// as for invoices.
#[utoipa::path(
    tag = "documents",
    params(("credit_note_id" = i64, Path, minimum = 1, description = "The credit note's id"), XmlQuery),
    responses(
        (status = 200, description = "The XML; ETag is its SHA-256", body = DocumentBytes, content_type = "application/xml"),
        (status = 304, description = "If-None-Match named this very document"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such credit note in this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Data that cannot make a valid e-invoice (errors name what is missing)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/credit_notes/{credit_note_id}/xml")]
pub async fn credit_note_xml(
    tenant: Tenant,
    id: CreditNoteId,
    query: QueryParams<XmlQuery>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let syntax = syntax(query.0.syntax);
    document(tenant, state, req, move |conn| {
        of_credit_note(conn, id, |conn, subject| issued::xml(conn, subject, syntax))
    })
    .await
}
