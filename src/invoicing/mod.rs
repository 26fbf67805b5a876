//! The invoicing rules: what may happen to an invoice, its items, its
//! payments and its credit notes, and when. Every operation runs inside the
//! request's tenant transaction; every change locks the invoice row first
//! ([`invoice::lock`]), so changes to one invoice happen one at a time and
//! checks (still a draft? enough balance? enough left to credit?) hold
//! until the commit.
//!
//! Lifecycle: `draft` → `issued` → `paid` (its balance paid, or paid in
//! part and credited for the rest), `issued` → `void` (credited in full
//! with nothing paid: by a credit note, or by voiding it, which issues the
//! cancellation credit note). An invoice whose total is 0.00 is `paid` as
//! soon as it is issued. Only drafts change; an issued invoice is corrected
//! by credit notes alone. The database refuses anything else too (the
//! issued_invoices_are_fixed migration).

mod credit_notes;
mod issuing;

pub use credit_notes::{
    CreditLine, CreditRequest, FullCreditNote, create_credit_note, get_credit_note,
    list_credit_notes,
};
pub use issuing::{issue_invoice, void_invoice};

use bigdecimal::BigDecimal;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::TenantConn;
use crate::documents::Missing;
use crate::domain::{
    CustomerId, InvoiceId, InvoiceStatus, ItemId, Money, PaymentId, Quantity, TaxCategory, TaxRate,
    TaxRounding, breakdown, line_amounts,
};
use crate::models::account;
use crate::models::invoice::{
    self, Invoice, InvoiceChanges, InvoiceFields, InvoiceFilter, Settled, Totals,
};
use crate::models::invoice_item::{self, Item, ItemChanges, ItemFields};
use crate::models::payment::{self, Payment, PaymentFields};
use crate::models::{Page, PageRequest};
use crate::numbering::NumberingError;
use crate::views::invoice::tax_lines;

/// The most lines an invoice may have.
pub const MAX_ITEMS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum InvoicingError {
    #[error("invoice {0} not found")]
    InvoiceNotFound(InvoiceId),
    #[error("item {item} not found on invoice {invoice}")]
    ItemNotFound { invoice: InvoiceId, item: ItemId },
    #[error("payment {0} not found")]
    PaymentNotFound(PaymentId),
    #[error("credit note {0} not found")]
    CreditNoteNotFound(i64),
    #[error("there is no customer {0} in this account")]
    CustomerNotFound(CustomerId),
    #[error("another document of this account is already numbered {0:?}")]
    NumberTaken(String),
    #[error("invoice {id} is {status}: only a draft can be {action}")]
    NotDraft {
        id: InvoiceId,
        status: InvoiceStatus,
        action: &'static str,
    },
    #[error("invoice {id} is {status}: {reason}")]
    Transition {
        id: InvoiceId,
        status: InvoiceStatus,
        reason: &'static str,
    },
    #[error("invoice {0} has no items: add at least one before issuing it")]
    NoItems(InvoiceId),
    #[error("invoice {id} cannot be issued yet: {}", describe(.missing))]
    Incomplete {
        id: InvoiceId,
        missing: Vec<Missing>,
    },
    #[error("invoice {id} is paid in part ({paid}): void it only while nothing is paid")]
    PartlyPaid { id: InvoiceId, paid: Money },
    #[error("the payment of {amount} exceeds the balance due of {balance}")]
    Overpayment { amount: Money, balance: Money },
    #[error("invoice {0} already has {MAX_ITEMS} items, the most allowed")]
    TooManyItems(InvoiceId),
    #[error("position must be between 1 and {max}")]
    InvalidPosition { max: i64 },
    #[error("the line's subtotal (quantity × unit_price) must be less than 1000000000000")]
    LineTooLarge,
    #[error("due_date must not be before issue_date")]
    DueBeforeIssue,
    /// A rule between a line's tax fields, with the field to change.
    #[error("{field} {message}")]
    TaxRule { field: String, message: String },
    #[error(
        "the credit note's total {total} exceeds what invoice {invoice} still has uncredited, {uncredited}"
    )]
    CreditExceedsInvoice {
        invoice: InvoiceId,
        total: Money,
        uncredited: Money,
    },
    #[error("{field}: {message}")]
    CreditExceedsItem { field: String, message: String },
    #[error("{0}")]
    NothingToCredit(String),
    #[error(transparent)]
    Numbering(#[from] NumberingError),
    /// The documents of what was being issued could not be produced.
    #[error(transparent)]
    Documents(#[from] crate::documents::issued::DocumentError),
    #[error(transparent)]
    Database(#[from] DieselError),
}

fn describe(missing: &[Missing]) -> String {
    missing
        .iter()
        .map(|m| format!("{} ({})", m.field, m.message))
        .collect::<Vec<_>>()
        .join("; ")
}

type Result<T> = std::result::Result<T, InvoicingError>;

/// An invoice with its lines, derived amounts and credit notes.
#[derive(Debug, Clone)]
pub struct FullInvoice {
    pub invoice: Invoice,
    pub items: Vec<Item>,
    pub totals: Totals,
    pub credit_note_ids: Vec<i64>,
}

/// A new line; `position` 1-based, at the end when `None`.
#[derive(Debug, Clone)]
pub struct NewLine {
    pub position: Option<i64>,
    pub fields: ItemFields,
}

/// Changes to a line, already validated one by one.
#[derive(Debug, Clone, Default)]
pub struct LinePatch {
    pub description: Option<String>,
    pub quantity: Option<Quantity>,
    pub unit_price: Option<Money>,
    pub tax_rate: Option<TaxRate>,
    pub tax_category: Option<TaxCategory>,
    /// `Some(None)` clears it.
    pub tax_exemption_reason: Option<Option<String>>,
    pub position: Option<i64>,
}

fn constraint(error: &DieselError) -> Option<(DatabaseErrorKind, &str)> {
    match error {
        DieselError::DatabaseError(kind, info) => {
            crate::db::constraint_name(info.as_ref()).map(|name| (*kind, name))
        }
        _ => None,
    }
}

/// Turns the violations a client can cause into their meaning.
fn explain(
    error: DieselError,
    fields: Option<(&Option<String>, Option<CustomerId>)>,
) -> InvoicingError {
    match (constraint(&error), fields) {
        (
            Some((
                DatabaseErrorKind::UniqueViolation,
                "invoices_number_unique" | "document_numbers_pkey",
            )),
            Some((Some(number), _)),
        ) => InvoicingError::NumberTaken(number.clone()),
        (
            Some((DatabaseErrorKind::ForeignKeyViolation, "invoices_customer_fkey")),
            Some((_, Some(customer))),
        ) => InvoicingError::CustomerNotFound(customer),
        (Some((DatabaseErrorKind::CheckViolation, "invoices_due_on_or_after_issue")), _) => {
            InvoicingError::DueBeforeIssue
        }
        _ => InvoicingError::Database(error),
    }
}

/// The line's subtotal must fit its column.
pub fn check_line(quantity: &Quantity, unit_price: &Money) -> Result<()> {
    let (subtotal, _) = line_amounts(quantity, unit_price, &TaxRate::zero());
    if Money::fits_column(&subtotal) {
        Ok(())
    } else {
        Err(InvoicingError::LineTooLarge)
    }
}

/// The category a line gets when none is given: standard rated when taxed,
/// else zero rated.
pub fn default_category(rate: &TaxRate) -> TaxCategory {
    if rate.is_zero() {
        TaxCategory::Z
    } else {
        TaxCategory::S
    }
}

/// The rules between a line's rate, category and exemption reason (the
/// database holds the same ones): `S` exactly when the rate is above 0;
/// every other category 0 %; all but `S` and `Z` name their reason, and
/// those two none. `prefix` is the line's path (`items[2]`, or empty).
pub fn check_tax_fields(
    prefix: &str,
    category: TaxCategory,
    rate: &TaxRate,
    reason: Option<&str>,
) -> Result<()> {
    let field = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    let rule = |name: &str, message: String| {
        Err(InvoicingError::TaxRule {
            field: field(name),
            message,
        })
    };
    if category == TaxCategory::S && rate.is_zero() {
        return rule(
            "tax_rate",
            "must be above 0 for tax category S (standard rate); zero-rated lines are Z".into(),
        );
    }
    if category != TaxCategory::S && !rate.is_zero() {
        return rule(
            "tax_rate",
            format!("must be 0 for tax category {category}, which carries no VAT"),
        );
    }
    match (category.needs_exemption_reason(), reason) {
        (true, None) => rule(
            "tax_exemption_reason",
            format!(
                "is required for tax category {category}: say why no VAT is charged (text, or a VATEX code)"
            ),
        ),
        (false, Some(_)) => rule(
            "tax_exemption_reason",
            format!("must not be given for tax category {category}"),
        ),
        _ => Ok(()),
    }
}

/// The derived amounts of `items` and what is settled, in `mode`.
fn totals_of(items: &[Item], settled: Settled, mode: TaxRounding) -> Totals {
    let entries = breakdown(&tax_lines(items), mode);
    let sum = |amounts: &mut dyn Iterator<Item = &BigDecimal>| {
        Money::from_db(amounts.fold(BigDecimal::from(0), |sum, amount| sum + amount))
    };
    Totals {
        subtotal: sum(&mut entries.iter().map(|e| e.taxable_amount.value())),
        tax_total: sum(&mut entries.iter().map(|e| e.tax_amount.value())),
        amount_paid: settled.paid,
        amount_credited: settled.credited,
    }
}

fn locked(conn: &mut TenantConn<'_>, id: InvoiceId) -> Result<Invoice> {
    invoice::lock(conn, id)?.ok_or(InvoicingError::InvoiceNotFound(id))
}

fn locked_draft(conn: &mut TenantConn<'_>, id: InvoiceId, action: &'static str) -> Result<Invoice> {
    let invoice = locked(conn, id)?;
    if invoice.status != InvoiceStatus::Draft {
        return Err(InvoicingError::NotDraft {
            id,
            status: invoice.status,
            action,
        });
    }
    Ok(invoice)
}

/// The invoice with its lines, amounts and credit notes, read after a change.
fn full(conn: &mut TenantConn<'_>, invoice: Invoice) -> Result<FullInvoice> {
    let id = invoice.invoice_id();
    let items = invoice_item::for_invoice(conn, id)?;
    let settled = invoice::settled(conn, id)?;
    let totals = totals_of(&items, settled, invoice.tax_rounding);
    let credit_note_ids = invoice::credit_note_ids(conn, id)?;
    Ok(FullInvoice {
        invoice,
        items,
        totals,
        credit_note_ids,
    })
}

/// Lines in the order they will take: by requested position (stable), the
/// ones without one at the end; numbered 1..n.
fn arrange(lines: &[NewLine]) -> Vec<(i32, &ItemFields)> {
    let mut ordered: Vec<(usize, &NewLine)> = lines.iter().enumerate().collect();
    ordered.sort_by_key(|(index, line)| (line.position.unwrap_or(i64::MAX), *index));
    ordered
        .into_iter()
        .zip(1..)
        .map(|((_, line), position)| (position, &line.fields))
        .collect()
}

/// A draft follows its account's tax rounding until it is issued.
fn account_rounding(conn: &mut TenantConn<'_>) -> Result<TaxRounding> {
    Ok(account::profile(conn)?.tax_rounding)
}

pub fn create_invoice(
    conn: &mut TenantConn<'_>,
    fields: &InvoiceFields,
    lines: &[NewLine],
) -> Result<FullInvoice> {
    let rounding = account_rounding(conn)?;
    let invoice = invoice::insert(conn, fields, rounding)
        .map_err(|e| explain(e, Some((&fields.number, Some(fields.customer_id)))))?;
    let items = invoice_item::insert(conn, invoice.invoice_id(), &arrange(lines))?;
    let settled = Settled {
        paid: Money::zero(),
        credited: Money::zero(),
    };
    let totals = totals_of(&items, settled, rounding);
    Ok(FullInvoice {
        invoice,
        items,
        totals,
        credit_note_ids: Vec::new(),
    })
}

/// An invoice with its lines, amounts and credit notes: three statements.
pub fn get_invoice(conn: &mut TenantConn<'_>, id: InvoiceId) -> Result<FullInvoice> {
    let (invoice, settled) =
        invoice::find_with_settled(conn, id)?.ok_or(InvoicingError::InvoiceNotFound(id))?;
    let items = invoice_item::for_invoice(conn, id)?;
    let totals = totals_of(&items, settled, invoice.tax_rounding);
    let credit_note_ids = if invoice.status == InvoiceStatus::Draft {
        Vec::new()
    } else {
        invoice::credit_note_ids(conn, id)?
    };
    Ok(FullInvoice {
        invoice,
        items,
        totals,
        credit_note_ids,
    })
}

/// A page of invoices with their derived amounts: one statement whatever
/// the page size.
pub fn list_invoices(
    conn: &mut TenantConn<'_>,
    filter: &InvoiceFilter,
    page: &PageRequest,
) -> Result<Page<(Invoice, Totals)>> {
    Ok(invoice::list(conn, filter, page)?)
}

pub fn update_invoice(
    conn: &mut TenantConn<'_>,
    id: InvoiceId,
    changes: &InvoiceChanges,
) -> Result<FullInvoice> {
    let invoice = locked_draft(conn, id, "changed")?;
    let invoice = if changes.is_empty() {
        invoice
    } else {
        let customer = changes.customer_id.map(CustomerId::from_db);
        let number = changes.number.clone().flatten();
        invoice::update(conn, id, changes).map_err(|e| explain(e, Some((&number, customer))))?
    };
    // A draft follows the account's rounding: brought up to date on change.
    let rounding = account_rounding(conn)?;
    let invoice = if invoice.tax_rounding == rounding {
        invoice
    } else {
        invoice::set_tax_rounding(conn, id, rounding)?
    };
    full(conn, invoice)
}

pub fn delete_invoice(conn: &mut TenantConn<'_>, id: InvoiceId) -> Result<()> {
    locked_draft(conn, id, "deleted")?;
    invoice::delete(conn, id)?;
    Ok(())
}

pub fn list_items(conn: &mut TenantConn<'_>, invoice: InvoiceId) -> Result<Vec<Item>> {
    invoice::find(conn, invoice)?.ok_or(InvoicingError::InvoiceNotFound(invoice))?;
    Ok(invoice_item::for_invoice(conn, invoice)?)
}

pub fn get_item(conn: &mut TenantConn<'_>, invoice: InvoiceId, id: ItemId) -> Result<Item> {
    invoice_item::find(conn, invoice, id)?.ok_or(InvoicingError::ItemNotFound { invoice, item: id })
}

pub fn add_item(conn: &mut TenantConn<'_>, invoice: InvoiceId, line: &NewLine) -> Result<Item> {
    locked_draft(conn, invoice, "changed")?;
    let count = invoice_item::count(conn, invoice)?;
    if count >= MAX_ITEMS as i64 {
        return Err(InvoicingError::TooManyItems(invoice));
    }
    let position = line.position.unwrap_or(count + 1);
    if !(1..=count + 1).contains(&position) {
        return Err(InvoicingError::InvalidPosition { max: count + 1 });
    }
    let position = position as i32;
    invoice_item::shift(conn, invoice, position, i32::MAX - 1, 1)?;
    let mut inserted = invoice_item::insert(conn, invoice, &[(position, &line.fields)])?;
    inserted
        .pop()
        .ok_or_else(|| InvoicingError::Database(DieselError::NotFound))
}

pub fn update_item(
    conn: &mut TenantConn<'_>,
    invoice: InvoiceId,
    id: ItemId,
    patch: &LinePatch,
) -> Result<Item> {
    locked_draft(conn, invoice, "changed")?;
    let item = invoice_item::find(conn, invoice, id)?
        .ok_or(InvoicingError::ItemNotFound { invoice, item: id })?;
    let quantity = patch
        .quantity
        .clone()
        .unwrap_or_else(|| Quantity::from_db(item.quantity.clone()));
    let unit_price = patch
        .unit_price
        .clone()
        .unwrap_or_else(|| Money::from_db(item.unit_price.clone()));
    check_line(&quantity, &unit_price)?;
    // The tax fields as they will be: a new rate alone moves a line
    // between S and Z, the categories a rate decides.
    let rate = patch
        .tax_rate
        .clone()
        .unwrap_or_else(|| TaxRate::from_db(item.tax_rate.clone()));
    let category = match (patch.tax_category, &patch.tax_rate) {
        (Some(category), _) => category,
        (None, Some(rate)) if matches!(item.tax_category, TaxCategory::S | TaxCategory::Z) => {
            default_category(rate)
        }
        (None, _) => item.tax_category,
    };
    let reason = match &patch.tax_exemption_reason {
        Some(reason) => reason.clone(),
        None => item.tax_exemption_reason.clone(),
    };
    check_tax_fields("", category, &rate, reason.as_deref())?;
    if let Some(position) = patch.position {
        let count = invoice_item::count(conn, invoice)?;
        if !(1..=count).contains(&position) {
            return Err(InvoicingError::InvalidPosition { max: count });
        }
        let (from, to) = (item.position, position as i32);
        if to > from {
            invoice_item::shift(conn, invoice, from + 1, to, -1)?;
        } else if to < from {
            invoice_item::shift(conn, invoice, to, from - 1, 1)?;
        }
    }
    let changes = ItemChanges {
        description: patch.description.clone(),
        quantity: patch.quantity.clone().map(Quantity::into_inner),
        unit_price: patch.unit_price.clone().map(Money::into_inner),
        tax_rate: patch.tax_rate.clone().map(TaxRate::into_inner),
        position: patch.position.map(|p| p as i32),
        tax_category: (category != item.tax_category).then_some(category),
        tax_exemption_reason: (reason != item.tax_exemption_reason).then_some(reason),
    };
    if changes == ItemChanges::default() {
        return Ok(item);
    }
    Ok(invoice_item::update(conn, id, &changes)?)
}

pub fn delete_item(conn: &mut TenantConn<'_>, invoice: InvoiceId, id: ItemId) -> Result<()> {
    locked_draft(conn, invoice, "changed")?;
    let item = invoice_item::find(conn, invoice, id)?
        .ok_or(InvoicingError::ItemNotFound { invoice, item: id })?;
    invoice_item::delete(conn, id)?;
    invoice_item::shift(conn, invoice, item.position + 1, i32::MAX - 1, -1)?;
    Ok(())
}

/// Records a payment on an issued invoice; the invoice becomes paid in the
/// same transaction when the payment clears its balance. With the invoice
/// locked, concurrent payments and credit notes are checked one after
/// another, so together they can never exceed the total.
pub fn record_payment(
    conn: &mut TenantConn<'_>,
    id: InvoiceId,
    fields: &PaymentFields,
) -> Result<Payment> {
    let invoice = locked(conn, id)?;
    if invoice.status != InvoiceStatus::Issued {
        return Err(InvoicingError::Transition {
            id,
            status: invoice.status,
            reason: "payments are recorded on issued invoices only",
        });
    }
    let items = invoice_item::for_invoice(conn, id)?;
    let settled = invoice::settled(conn, id)?;
    let balance = totals_of(&items, settled, invoice.tax_rounding).balance_due();
    if fields.amount > balance {
        return Err(InvoicingError::Overpayment {
            amount: fields.amount.clone(),
            balance,
        });
    }
    let payment = payment::insert(conn, id, fields)?;
    if fields.amount == balance {
        invoice::set_status(conn, id, InvoiceStatus::Paid)?;
    }
    Ok(payment)
}

/// One invoice's payments in id order; the invoice must exist.
pub fn invoice_payments(
    conn: &mut TenantConn<'_>,
    invoice: InvoiceId,
    page: &PageRequest,
) -> Result<Page<Payment>> {
    invoice::find(conn, invoice)?.ok_or(InvoicingError::InvoiceNotFound(invoice))?;
    Ok(payment::list(conn, Some(invoice), page)?)
}

/// The account's payments in id order, narrowed to one invoice when given
/// (like any list filter, a filter matching nothing gives an empty list).
pub fn list_payments(
    conn: &mut TenantConn<'_>,
    invoice: Option<InvoiceId>,
    page: &PageRequest,
) -> Result<Page<Payment>> {
    Ok(payment::list(conn, invoice, page)?)
}

pub fn get_payment(conn: &mut TenantConn<'_>, id: PaymentId) -> Result<Payment> {
    payment::find(conn, id)?.ok_or(InvoicingError::PaymentNotFound(id))
}
