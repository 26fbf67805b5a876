//! Producing, storing and serving an invoice's or a credit note's
//! documents.
//!
//! The mechanism of "fixed at issue": the transaction that issues an
//! invoice (or creates a credit note) renders its documents and stores them
//! (`documents` table) before it commits; if rendering fails, the issue
//! fails with it. From then on every request is answered from the stored
//! bytes, never re-rendered: a change to the account's profile, to the
//! templates or to this renderer cannot alter what the customer received.
//! What is stored at issue: the PDF in the document's language (the
//! customer's, else the account's) and, when the data makes a valid
//! e-invoice, the CII (which that PDF embeds) and the UBL. A PDF in another
//! language is rendered on its first request from the same fixed data,
//! with the same embedded CII, and stored from then on; so is everything of
//! an invoice issued before documents were stored, or imported.
//!
//! A draft's PDF is a preview marked DRAFT, rendered on every request and
//! never stored; a draft has no e-invoice.

use sha2::{Digest, Sha256};

use super::model::{BuyerParty, Document, ModelError, SellerParty, fixed_buyer, fixed_seller};
use super::requirements::{Missing, einvoice_gaps, xrechnung_gaps};
use super::{DocumentKind, cii, pdf, ubl};
use crate::db::TenantConn;
use crate::domain::{InvoiceStatus, Locale};
use crate::models::credit_note::Full as CreditNoteRows;
use crate::models::document::{self, Owner, Stored};
use crate::models::invoice::{Invoice, Totals};
use crate::models::invoice_item::Item;
use crate::models::{account, customer};

/// What the documents are made from.
pub enum Subject<'a> {
    Invoice {
        invoice: &'a Invoice,
        items: &'a [Item],
        totals: &'a Totals,
    },
    CreditNote {
        note: &'a CreditNoteRows,
        /// The invoice it corrects.
        invoice: &'a Invoice,
    },
}

impl Subject<'_> {
    fn owner(&self) -> Owner {
        match self {
            Subject::Invoice { invoice, .. } => Owner::Invoice(invoice.id),
            Subject::CreditNote { note, .. } => Owner::CreditNote(note.note.id),
        }
    }

    fn is_draft(&self) -> bool {
        matches!(self, Subject::Invoice { invoice, .. } if invoice.status == InvoiceStatus::Draft)
    }

    fn describe(&self) -> String {
        match self {
            Subject::Invoice { invoice, .. } => format!("invoice {}", invoice.id),
            Subject::CreditNote { note, .. } => format!("credit note {}", note.note.id),
        }
    }
}

/// An e-invoice syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Cii,
    Ubl,
}

impl Syntax {
    pub fn as_str(self) -> &'static str {
        match self {
            Syntax::Cii => "cii",
            Syntax::Ubl => "ubl",
        }
    }
}

/// A document as a response carries it.
#[derive(Debug, Clone)]
pub struct Served {
    pub content: Vec<u8>,
    /// SHA-256 of `content`.
    pub sha256: Vec<u8>,
    pub media_type: &'static str,
    /// What a browser saves it as.
    pub file_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("{0} is a draft: a draft has no e-invoice; issue it first (its PDF is a preview)")]
    Draft(String),
    #[error("{what} cannot be an EN 16931 e-invoice: {}", describe(.missing))]
    NotAnEInvoice { what: String, missing: Vec<Missing> },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
}

fn describe(missing: &[Missing]) -> String {
    missing
        .iter()
        .map(|m| format!("{} ({})", m.field, m.message))
        .collect::<Vec<_>>()
        .join("; ")
}

pub type Result<T> = std::result::Result<T, DocumentError>;

/// The parties a document of `invoice` shows: those fixed at its issue,
/// else (a draft, an invoice issued before they were fixed, an imported
/// one) the account's profile and the customer as they are now.
fn seller_and_buyer(
    conn: &mut TenantConn<'_>,
    invoice: &Invoice,
    profile: &account::Profile,
) -> Result<(SellerParty, BuyerParty)> {
    let seller = fixed_seller(invoice)?.unwrap_or_else(|| SellerParty::from(profile));
    let buyer = match fixed_buyer(invoice)? {
        Some(buyer) => buyer,
        None => {
            let id = crate::domain::CustomerId::from_db(invoice.customer_id);
            let customer = customer::find(conn, id)?.ok_or(diesel::result::Error::NotFound)?;
            BuyerParty::from(&customer)
        }
    };
    Ok((seller, buyer))
}

/// What the subject says.
pub fn model(conn: &mut TenantConn<'_>, subject: &Subject<'_>) -> Result<Document> {
    let profile = account::profile(conn)?;
    match subject {
        Subject::Invoice {
            invoice,
            items,
            totals,
        } => {
            let (seller, buyer) = seller_and_buyer(conn, invoice, &profile)?;
            Ok(Document::invoice(
                invoice,
                items,
                totals,
                seller,
                buyer,
                profile.locale,
            ))
        }
        Subject::CreditNote { note, invoice } => {
            let (seller, buyer) = seller_and_buyer(conn, invoice, &profile)?;
            Ok(Document::credit_note(
                note,
                invoice,
                seller,
                buyer,
                profile.locale,
            ))
        }
    }
}

/// What keeps the document from being a valid e-invoice in `syntax`.
pub fn gaps(document: &Document, syntax: Syntax) -> Vec<Missing> {
    let mut gaps = einvoice_gaps(
        &document.seller,
        &document.buyer,
        &document.currency,
        &document.tax_groups,
        document.delivery.is_some(),
    );
    if syntax == Syntax::Ubl {
        gaps.extend(xrechnung_gaps(
            &document.seller,
            &document.buyer,
            document.kind == DocumentKind::Invoice,
        ));
    }
    gaps
}

/// Renders and stores what is stored at issue (see the module's comment).
/// Called by the issuing transaction, and on the first fetch of a
/// document issued without them.
pub fn produce(conn: &mut TenantConn<'_>, subject: &Subject<'_>) -> Result<()> {
    let document = model(conn, subject)?;
    produce_from(conn, subject.owner(), &document)
}

fn produce_from(conn: &mut TenantConn<'_>, owner: Owner, document: &Document) -> Result<()> {
    let cii = gaps(document, Syntax::Cii)
        .is_empty()
        .then(|| cii::render(document));
    if let Some(cii) = &cii {
        document::insert(conn, owner, "cii", "", cii)?;
        if gaps(document, Syntax::Ubl).is_empty() {
            document::insert(conn, owner, "ubl", "", &ubl::render(document))?;
        }
    }
    let language = document.default_language;
    let rendered = pdf::render(document, language, cii.as_deref());
    document::insert(conn, owner, "pdf", language.as_str(), &rendered)?;
    Ok(())
}

fn file_name(document_name: &str, extension: &str) -> String {
    let safe: String = document_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.{extension}")
}

fn base_name(subject: &Subject<'_>) -> String {
    match subject {
        Subject::Invoice { invoice, .. } => match (&invoice.number, invoice.status) {
            (Some(number), status) if status != InvoiceStatus::Draft => {
                format!("invoice-{number}")
            }
            _ => format!("invoice-{}-draft", invoice.id),
        },
        Subject::CreditNote { note, .. } => format!("credit-note-{}", note.note.number),
    }
}

fn served(stored: Stored, media_type: &'static str, file_name: String) -> Served {
    Served {
        content: stored.content,
        sha256: stored.sha256,
        media_type,
        file_name,
    }
}

/// The stored document, looked up first: a document is fetched far more
/// often than it is made. Only when it is missing is it asked whether the
/// subject has any documents at all; if not (issued before documents were
/// stored, or imported), they are produced now and looked up again.
fn find_or_produce(
    conn: &mut TenantConn<'_>,
    subject: &Subject<'_>,
    format: &str,
    language: Option<&str>,
) -> Result<Option<Stored>> {
    let owner = subject.owner();
    if let Some(stored) = document::find(conn, owner, format, language)? {
        return Ok(Some(stored));
    }
    if document::any(conn, owner)? {
        return Ok(None);
    }
    produce(conn, subject)?;
    Ok(document::find(conn, owner, format, language)?)
}

/// The subject's PDF in `language` (else in the language it was issued
/// in); a draft's preview.
pub fn pdf(
    conn: &mut TenantConn<'_>,
    subject: &Subject<'_>,
    language: Option<Locale>,
) -> Result<Served> {
    let name = file_name(&base_name(subject), "pdf");
    if subject.is_draft() {
        let document = model(conn, subject)?;
        let content = pdf::render(
            &document,
            language.unwrap_or(document.default_language),
            None,
        );
        let sha256 = Sha256::digest(&content).to_vec();
        return Ok(Served {
            content,
            sha256,
            media_type: "application/pdf",
            file_name: name,
        });
    }
    let owner = subject.owner();
    let wanted = language.map(Locale::as_str);
    if let Some(stored) = find_or_produce(conn, subject, "pdf", wanted)? {
        return Ok(served(stored, "application/pdf", name));
    }
    // Another language than the one it was issued in: rendered now from
    // the same fixed data, with the same e-invoice embedded, and kept.
    let language = language.expect("the issue's PDF is stored");
    let document = model(conn, subject)?;
    let cii = document::find(conn, owner, "cii", Some(""))?;
    let rendered = pdf::render(&document, language, cii.as_ref().map(|c| &c.content[..]));
    let stored = document::insert(conn, owner, "pdf", language.as_str(), &rendered)?;
    Ok(served(stored, "application/pdf", name))
}

/// The subject's e-invoice in `syntax`.
pub fn xml(conn: &mut TenantConn<'_>, subject: &Subject<'_>, syntax: Syntax) -> Result<Served> {
    if subject.is_draft() {
        return Err(DocumentError::Draft(subject.describe()));
    }
    let owner = subject.owner();
    let name = file_name(
        &format!("{}-{}", base_name(subject), syntax.as_str()),
        "xml",
    );
    if let Some(stored) = find_or_produce(conn, subject, syntax.as_str(), Some(""))? {
        return Ok(served(stored, "application/xml", name));
    }
    let document = model(conn, subject)?;
    let missing = gaps(&document, syntax);
    if !missing.is_empty() {
        return Err(DocumentError::NotAnEInvoice {
            what: subject.describe(),
            missing,
        });
    }
    // Valid now but not stored: documents produced while this syntax could
    // not be made (the UBL of an invoice issued without what XRechnung
    // needs, say, or an e-invoice rule of an older version). What the
    // customer was sent stays as it was; this syntax is made now, from the
    // same fixed data, and kept.
    let rendered = match syntax {
        Syntax::Cii => cii::render(&document),
        Syntax::Ubl => ubl::render(&document),
    };
    let stored = document::insert(conn, owner, syntax.as_str(), "", &rendered)?;
    Ok(served(stored, "application/xml", name))
}
