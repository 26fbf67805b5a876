//! Issuing and voiding: the two moments an invoice becomes, and stops
//! being, a document a business stands by.

use chrono::Days;

use super::credit_notes::{CreditRequest, FullCreditNote, create_credit_note_locked};
use super::{FullInvoice, InvoicingError, Result, full, locked, locked_draft, totals_of};
use crate::db::TenantConn;
use crate::documents::issued::Subject;
use crate::documents::requirements::legal_gaps;
use crate::documents::{self, BuyerParty, Missing, SellerParty, einvoice_gaps, xrechnung_gaps};
use crate::domain::{CreditNoteKind, InvoiceId, InvoiceStatus, TaxRounding, tax_groups};
use crate::models::account;
use crate::models::customer;
use crate::models::invoice::{self, Issue, Settled};
use crate::models::invoice_item;
use crate::numbering::{self, Series};
use crate::views::invoice::tax_lines;

/// draft → issued (or paid, when its total is 0.00), all in the request's
/// transaction:
///
/// - it needs at least one item, the seller's legal name and address with
///   its country, the customer's billing address with its country, the
///   buyer's VAT id for reverse-charge and intra-community lines, one
///   exemption reason per breakdown entry, and in `line` rounding no entry
///   whose line taxes stray 1.00 or more from its own (BR-CO-17); with
///   `require_einvoice`, everything an EN 16931 e-invoice needs. Anything
///   missing is named, and nothing is written (no number is taken);
/// - the issue date becomes today in the account's time zone unless set,
///   the due date the issue date plus the payment terms unless set;
/// - the number comes from the account's invoice series, unless the draft
///   has one already;
/// - the tax rounding, the seller (the account's profile) and the buyer
///   (the customer) are fixed on the invoice as they are now.
pub fn issue_invoice(conn: &mut TenantConn<'_>, id: InvoiceId) -> Result<FullInvoice> {
    let draft = locked_draft(conn, id, "issued")?;
    let items = invoice_item::for_invoice(conn, id)?;
    if items.is_empty() {
        return Err(InvoicingError::NoItems(id));
    }
    // Read, not locked: every insert of the account key-shares its row, and
    // an issue holding it locked while waiting for the account's event
    // counter deadlocked with them (on Citus, where a row lock on the
    // reference table is a lock on its shard, so did two issues). The
    // issue fixes the profile as it read it.
    let profile = account::profile(conn)?;
    let customer = customer::find(conn, crate::domain::CustomerId::from_db(draft.customer_id))?
        .ok_or(InvoicingError::Database(diesel::result::Error::NotFound))?;
    let seller = SellerParty::from(&profile);
    let buyer = BuyerParty::from(&customer);
    let rounding = profile.tax_rounding;
    let groups = tax_groups(&tax_lines(&items));
    let has_delivery = draft.service_date.is_some() || draft.service_period_start.is_some();
    let mut missing = if profile.require_einvoice {
        let mut gaps = einvoice_gaps(&seller, &buyer, &draft.currency, &groups, has_delivery);
        gaps.extend(xrechnung_gaps(&seller, &buyer, true));
        gaps
    } else {
        legal_gaps(&seller, &buyer, &groups)
    };
    if rounding == TaxRounding::Line {
        for group in groups.iter().filter(|g| g.breaks_br_co_17()) {
            missing.push(Missing {
                field: "items".into(),
                message: format!(
                    "the line taxes of tax category {} at {} % add up to {}, 1.00 or more away from \
                     the {} their subtotals make: its e-invoice would be invalid (EN 16931 \
                     BR-CO-17); split the lines across invoices or use tax_rounding: document",
                    group.category,
                    group.rate,
                    group.line_tax,
                    group.document_tax()
                ),
            });
        }
    }
    if !missing.is_empty() {
        return Err(InvoicingError::Incomplete { id, missing });
    }
    let today = account::today(conn, &profile.timezone)?;
    let issue_date = draft.issue_date.unwrap_or(today);
    let due_date = match draft.due_date {
        Some(due) => due,
        None => issue_date
            .checked_add_days(Days::new(
                u64::try_from(profile.payment_terms_days).unwrap_or(0),
            ))
            .unwrap_or(issue_date),
    };
    if due_date < issue_date {
        return Err(InvoicingError::Transition {
            id,
            status: InvoiceStatus::Draft,
            reason: "its due_date is before the issue date it would get (today): set issue_date or due_date first",
        });
    }
    let number = match &draft.number {
        Some(number) => number.clone(),
        None => numbering::assign(conn, Series::Invoice, &profile, issue_date)?,
    };
    let nothing_settled = Settled {
        paid: crate::domain::Money::zero(),
        credited: crate::domain::Money::zero(),
    };
    let total = totals_of(&items, nothing_settled, rounding).total();
    let status = if total.is_zero() {
        InvoiceStatus::Paid
    } else {
        InvoiceStatus::Issued
    };
    let snapshot = |value: serde_json::Result<serde_json::Value>| {
        value.map_err(|e| {
            InvoicingError::Database(diesel::result::Error::SerializationError(e.into()))
        })
    };
    let issued = invoice::issue(
        conn,
        id,
        &Issue {
            status,
            number,
            issue_date,
            due_date,
            tax_rounding: rounding,
            seller: snapshot(serde_json::to_value(&seller))?,
            buyer: snapshot(serde_json::to_value(&buyer))?,
        },
    )?;
    let issued = full(conn, issued)?;
    // Its documents, fixed from now on (see documents::issued).
    documents::issued::produce(
        conn,
        &Subject::Invoice {
            invoice: &issued.invoice,
            items: &issued.items,
            totals: &issued.totals,
        },
    )?;
    Ok(issued)
}

/// issued → void, only while nothing is paid: issues the cancellation
/// credit note for everything still uncredited, in the same transaction,
/// and the invoice becomes void. Answers the void invoice and that credit
/// note.
pub fn void_invoice(
    conn: &mut TenantConn<'_>,
    id: InvoiceId,
) -> Result<(FullInvoice, FullCreditNote)> {
    let invoice = locked(conn, id)?;
    if invoice.status != InvoiceStatus::Issued {
        return Err(InvoicingError::Transition {
            id,
            status: invoice.status,
            reason: "only an issued invoice can be voided (delete a draft instead)",
        });
    }
    let settled = invoice::settled(conn, id)?;
    if !settled.paid.is_zero() {
        return Err(InvoicingError::PartlyPaid {
            id,
            paid: settled.paid,
        });
    }
    let reason = match &invoice.number {
        Some(number) => format!("Cancellation of invoice {number}"),
        None => format!("Cancellation of invoice {id}"),
    };
    let cancellation = create_credit_note_locked(
        conn,
        invoice,
        &reason,
        &CreditRequest::Full,
        CreditNoteKind::Cancellation,
    )?;
    let voided = invoice::find(conn, id)?.ok_or(InvoicingError::InvoiceNotFound(id))?;
    Ok((full(conn, voided)?, cancellation))
}
