//! Credit notes: the only correction of an issued invoice.
//!
//! A credit note credits quantities of the invoice's items, free lines, or
//! everything still uncredited (`full`; voiding issues one of those, the
//! cancellation). The rules, checked with the invoice row locked (so
//! concurrent credit notes and payments take turns):
//!
//! - its total is at most what the invoice still has uncredited;
//! - a line credits at most what is left of its item (invoiced less
//!   earlier credits), and the line that credits the rest of an item takes
//!   exactly the amounts left, so that an item credited in parts adds up
//!   to the cent;
//! - in `document` rounding likewise per breakdown entry: the credit note
//!   that credits the rest of an entry takes exactly the tax left.
//!
//! Its effect: the invoice's `amount_credited` grows; an issued invoice
//! whose balance reaches 0 becomes `paid` when something was paid, `void`
//! when nothing was; credited beyond what is due, the difference is owed
//! back (`amount_refundable`).

use std::collections::HashMap;

use bigdecimal::{BigDecimal, Zero};

use super::{InvoicingError, Result, check_line, check_tax_fields, locked, totals_of};
use crate::db::TenantConn;
use crate::documents::BuyerParty;
use crate::domain::{
    CreditNoteId, CreditNoteKind, InvoiceId, InvoiceStatus, ItemId, Money, Quantity, RowId,
    TaxCategory, TaxLine, TaxRate, TaxRounding, document_tax, line_amounts, tax_groups,
};
use crate::models::credit_note::{self, NewCreditNote, NewLine, NewTax};
use crate::models::invoice::{self, Invoice};
use crate::models::invoice_item::{self, Item};
use crate::models::{Page, PageRequest, account, customer};
use crate::numbering::{self, Series};
use crate::views::invoice::tax_lines;

/// A line of a credit-note request.
#[derive(Debug, Clone)]
pub enum CreditLine {
    /// A quantity of one of the invoice's items, at its price and tax.
    Item { item: ItemId, quantity: Quantity },
    /// Anything else, priced and taxed as given.
    Free {
        description: String,
        quantity: Quantity,
        unit_price: Money,
        tax_rate: TaxRate,
        tax_category: TaxCategory,
        tax_exemption_reason: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub enum CreditRequest {
    Lines(Vec<CreditLine>),
    /// Everything the invoice still has uncredited.
    Full,
}

/// A credit note, with the number and issue date of the invoice it corrects.
#[derive(Debug, Clone)]
pub struct FullCreditNote {
    pub note: credit_note::Full,
    pub invoice_number: Option<String>,
    pub invoice_issue_date: Option<chrono::NaiveDate>,
}

pub fn create_credit_note(
    conn: &mut TenantConn<'_>,
    invoice: InvoiceId,
    reason: &str,
    request: &CreditRequest,
) -> Result<FullCreditNote> {
    let locked_invoice = locked(conn, invoice)?;
    let kind = match request {
        CreditRequest::Full => CreditNoteKind::Full,
        CreditRequest::Lines(_) => CreditNoteKind::Lines,
    };
    create_credit_note_locked(conn, locked_invoice, reason, request, kind)
}

/// What is left of an item to credit, and what crediting a quantity of it
/// costs: (quantity, subtotal, tax) left.
struct ItemLeft {
    quantity: BigDecimal,
    subtotal: BigDecimal,
    tax: BigDecimal,
}

fn zero() -> BigDecimal {
    BigDecimal::zero()
}

/// The credit line for `quantity` of `item`, given what is left of it: the
/// rest of an item takes exactly the amounts left; a part, its own amounts,
/// but never more than is left.
fn item_line(item: &Item, quantity: &BigDecimal, left: &ItemLeft) -> NewLine {
    let (subtotal, tax) = if *quantity == left.quantity {
        (left.subtotal.clone(), left.tax.clone())
    } else {
        let (subtotal, tax) = line_amounts(
            &Quantity::from_db(quantity.clone()),
            &Money::from_db(item.unit_price.clone()),
            &TaxRate::from_db(item.tax_rate.clone()),
        );
        (
            subtotal.min(left.subtotal.clone()),
            tax.min(left.tax.clone()),
        )
    };
    NewLine {
        item_id: Some(item.id),
        description: item.description.clone(),
        quantity: quantity.clone(),
        unit_price: item.unit_price.clone(),
        tax_rate: item.tax_rate.clone(),
        tax_category: item.tax_category,
        tax_exemption_reason: item.tax_exemption_reason.clone(),
        subtotal,
        tax,
    }
}

/// The buyer the invoice was issued to (an invoice issued before the
/// buyer was kept with it: the customer as it is).
fn buyer_of(conn: &mut TenantConn<'_>, invoice: &Invoice) -> Result<BuyerParty> {
    if let Some(buyer) = invoice
        .buyer
        .clone()
        .and_then(|value| serde_json::from_value::<BuyerParty>(value).ok())
    {
        return Ok(buyer);
    }
    let customer = customer::find(
        conn,
        crate::domain::CustomerId::from_db(invoice.customer_id),
    )?
    .ok_or(InvoicingError::Database(diesel::result::Error::NotFound))?;
    Ok(BuyerParty::from(&customer))
}

/// The lines a request credits, with their amounts.
fn credit_lines(
    conn: &mut TenantConn<'_>,
    invoice: &Invoice,
    items: &[Item],
    request: &CreditRequest,
) -> Result<Vec<NewLine>> {
    let id = invoice.invoice_id();
    let credited = credit_note::credited_by_item(conn, id)?;
    let mut left: HashMap<i64, ItemLeft> = items
        .iter()
        .map(|item| {
            let (quantity, subtotal, tax) = credited
                .get(&item.id)
                .cloned()
                .unwrap_or_else(|| (zero(), zero(), zero()));
            (
                item.id,
                ItemLeft {
                    quantity: &item.quantity - quantity,
                    subtotal: &item.subtotal - subtotal,
                    tax: &item.tax - tax,
                },
            )
        })
        .collect();
    let mut lines = Vec::new();
    match request {
        CreditRequest::Full => {
            if credit_note::has_free_lines(conn, id)? {
                return Err(InvoicingError::NothingToCredit(format!(
                    "invoice {id} has been credited by free lines, so what is left of it is not a \
                     quantity of its items: credit the rest with lines"
                )));
            }
            for item in items {
                let rest = &left[&item.id];
                if rest.quantity > zero() {
                    lines.push(item_line(item, &rest.quantity.clone(), rest));
                }
            }
            if lines.is_empty() {
                return Err(InvoicingError::NothingToCredit(format!(
                    "invoice {id} has nothing left to credit"
                )));
            }
        }
        CreditRequest::Lines(requested) => {
            let buyer_vat_id = buyer_of(conn, invoice)?.vat_id();
            for (index, line) in requested.iter().enumerate() {
                let prefix = format!("lines[{index}]");
                match line {
                    CreditLine::Item { item, quantity } => {
                        let Some(found) = items.iter().find(|i| i.id == item.get()) else {
                            return Err(InvoicingError::TaxRule {
                                field: format!("{prefix}.item_id"),
                                message: format!("invoice {id} has no item {item}"),
                            });
                        };
                        let rest = left
                            .get_mut(&found.id)
                            .expect("every item has what is left");
                        if quantity.value() > &rest.quantity {
                            return Err(InvoicingError::CreditExceedsItem {
                                field: format!("{prefix}.quantity"),
                                message: format!(
                                    "item {item} has {} of {} left to credit, not {quantity}",
                                    Quantity::from_db(rest.quantity.clone()),
                                    Quantity::from_db(found.quantity.clone())
                                ),
                            });
                        }
                        let credit = item_line(found, quantity.value(), rest);
                        rest.quantity -= quantity.value();
                        rest.subtotal -= &credit.subtotal;
                        rest.tax -= &credit.tax;
                        lines.push(credit);
                    }
                    CreditLine::Free {
                        description,
                        quantity,
                        unit_price,
                        tax_rate,
                        tax_category,
                        tax_exemption_reason,
                    } => {
                        check_tax_fields(
                            &prefix,
                            *tax_category,
                            tax_rate,
                            tax_exemption_reason.as_deref(),
                        )?;
                        if tax_category.needs_buyer_vat_id() && buyer_vat_id.is_none() {
                            return Err(InvoicingError::TaxRule {
                                field: format!("{prefix}.tax_category"),
                                message: format!(
                                    "{tax_category} (the buyer pays the VAT) needs the customer's VAT id"
                                ),
                            });
                        }
                        check_line(quantity, unit_price)?;
                        let (subtotal, tax) = line_amounts(quantity, unit_price, tax_rate);
                        lines.push(NewLine {
                            item_id: None,
                            description: description.clone(),
                            quantity: quantity.value().clone(),
                            unit_price: unit_price.value().clone(),
                            tax_rate: tax_rate.value().clone(),
                            tax_category: *tax_category,
                            tax_exemption_reason: tax_exemption_reason.clone(),
                            subtotal,
                            tax,
                        });
                    }
                }
            }
        }
    }
    Ok(lines)
}

/// The credit note's breakdown. In `document` rounding an entry that
/// credits the rest of the invoice's entry takes exactly the tax left.
fn credit_breakdown(
    conn: &mut TenantConn<'_>,
    invoice: &Invoice,
    items: &[Item],
    lines: &[NewLine],
) -> Result<Vec<NewTax>> {
    let invoice_groups = tax_groups(&tax_lines(items));
    let credited = credit_note::credited_by_group(conn, invoice.invoice_id())?;
    let mut entries = Vec::new();
    let taxed: Vec<TaxLine> = lines.iter().map(NewLine::tax_line).collect();
    for group in tax_groups(&taxed) {
        if group.reasons.len() > 1 {
            return Err(InvoicingError::TaxRule {
                field: "lines".into(),
                message: format!(
                    "the lines of tax category {} at {} % give different exemption reasons; one \
                     breakdown entry states one reason",
                    group.category, group.rate
                ),
            });
        }
        let tax = match invoice.tax_rounding {
            TaxRounding::Line => group.line_tax.clone(),
            TaxRounding::Document => {
                let (earlier_taxable, earlier_tax) = credited
                    .iter()
                    .find(|(category, rate, _, _)| {
                        *category == group.category && *rate == group.rate
                    })
                    .map(|(_, _, taxable, tax)| (taxable.clone(), tax.clone()))
                    .unwrap_or_else(|| (zero(), zero()));
                match invoice_groups
                    .iter()
                    .find(|g| g.category == group.category && g.rate == group.rate)
                {
                    Some(invoiced) if &earlier_taxable + &group.taxable == invoiced.taxable => {
                        (invoiced.document_tax() - earlier_tax).max(zero())
                    }
                    _ => document_tax(&group.taxable, &group.rate),
                }
            }
        };
        if invoice.tax_rounding == TaxRounding::Line && group.breaks_br_co_17() {
            return Err(InvoicingError::TaxRule {
                field: "lines".into(),
                message: format!(
                    "the line taxes of tax category {} at {} % stray 1.00 or more from what their \
                     subtotals make (EN 16931 BR-CO-17): credit fewer lines at once",
                    group.category, group.rate
                ),
            });
        }
        entries.push(NewTax {
            tax_category: group.category,
            tax_rate: group.rate.clone(),
            taxable_amount: group.taxable.clone(),
            tax_amount: tax,
            exemption_reason: group.reasons.first().cloned(),
        });
    }
    Ok(entries)
}

/// Issues a credit note on `invoice`, which the caller has locked.
pub(super) fn create_credit_note_locked(
    conn: &mut TenantConn<'_>,
    invoice: Invoice,
    reason: &str,
    request: &CreditRequest,
    kind: CreditNoteKind,
) -> Result<FullCreditNote> {
    let id = invoice.invoice_id();
    if !matches!(invoice.status, InvoiceStatus::Issued | InvoiceStatus::Paid) {
        return Err(InvoicingError::Transition {
            id,
            status: invoice.status,
            reason: "credit notes correct issued or paid invoices only",
        });
    }
    let items = invoice_item::for_invoice(conn, id)?;
    let settled = invoice::settled(conn, id)?;
    let totals = totals_of(&items, settled.clone(), invoice.tax_rounding);
    let lines = credit_lines(conn, &invoice, &items, request)?;
    let taxes = credit_breakdown(conn, &invoice, &items, &lines)?;
    let total = Money::from_db(
        taxes
            .iter()
            .fold(zero(), |sum, t| sum + &t.taxable_amount + &t.tax_amount),
    );
    if total.is_zero() {
        return Err(InvoicingError::NothingToCredit(
            "a credit note must credit something: its total is 0.00".into(),
        ));
    }
    let uncredited = totals.uncredited();
    if total > uncredited {
        return Err(InvoicingError::CreditExceedsInvoice {
            invoice: id,
            total,
            uncredited,
        });
    }
    let profile = account::profile(conn)?;
    let today = account::today(conn, &profile.timezone)?;
    let number = numbering::assign(conn, Series::CreditNote, &profile, today)?;
    let written = credit_note::insert(
        conn,
        &NewCreditNote {
            invoice: id,
            number,
            kind,
            reason: reason.to_owned(),
            currency: invoice.currency.clone(),
            issue_date: today,
            tax_rounding: invoice.tax_rounding,
        },
        &lines,
        &taxes,
    )?;
    // Its documents, fixed from now on (see documents::issued).
    crate::documents::issued::produce(
        conn,
        &crate::documents::issued::Subject::CreditNote {
            note: &written,
            invoice: &invoice,
        },
    )?;
    let credited = &settled.credited + &total;
    let balance = &(&totals.total() - &settled.paid) - &credited;
    if invoice.status == InvoiceStatus::Issued && balance <= Money::zero() {
        let status = if settled.paid.is_zero() {
            InvoiceStatus::Void
        } else {
            InvoiceStatus::Paid
        };
        invoice::set_status(conn, id, status)?;
    }
    Ok(FullCreditNote {
        note: written,
        invoice_number: invoice.number,
        invoice_issue_date: invoice.issue_date,
    })
}

pub fn get_credit_note(conn: &mut TenantConn<'_>, id: CreditNoteId) -> Result<FullCreditNote> {
    let note = credit_note::find(conn, id)?.ok_or(InvoicingError::CreditNoteNotFound(id.get()))?;
    let invoice = invoice::find(conn, InvoiceId::from_db(note.note.invoice_id))?;
    Ok(FullCreditNote {
        invoice_number: invoice.as_ref().and_then(|i| i.number.clone()),
        invoice_issue_date: invoice.and_then(|i| i.issue_date),
        note,
    })
}

/// The account's credit notes, or one invoice's (which must exist).
pub fn list_credit_notes(
    conn: &mut TenantConn<'_>,
    of_invoice: Option<InvoiceId>,
    must_exist: bool,
    page: &PageRequest,
) -> Result<Page<FullCreditNote>> {
    if let Some(id) = of_invoice
        && must_exist
    {
        invoice::find(conn, id)?.ok_or(InvoicingError::InvoiceNotFound(id))?;
    }
    let notes = credit_note::list(conn, of_invoice, page)?;
    let ids: Vec<i64> = notes.rows.iter().map(|n| n.note.invoice_id).collect();
    let invoices = invoice::references(conn, &ids)?;
    Ok(Page {
        has_more: notes.has_more,
        rows: notes
            .rows
            .into_iter()
            .map(|note| {
                let (invoice_number, invoice_issue_date) = invoices
                    .get(&note.note.invoice_id)
                    .cloned()
                    .unwrap_or((None, None));
                FullCreditNote {
                    note,
                    invoice_number,
                    invoice_issue_date,
                }
            })
            .collect(),
    })
}
