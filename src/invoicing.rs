//! The invoicing rules: what may happen to an invoice, its items and its
//! payments, and when. Every operation runs inside the request's tenant
//! transaction; every change locks the invoice row first
//! ([`invoice::lock`]), so changes to one invoice happen one at a time and
//! checks (still a draft? enough balance?) hold until the commit.
//!
//! Lifecycle: `draft` → `issued` → `paid`, and `issued` → `void` while
//! nothing is paid. Only drafts change; payments go to issued invoices.

use bigdecimal::BigDecimal;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::TenantConn;
use crate::domain::{
    CustomerId, InvoiceId, InvoiceStatus, ItemId, Money, PaymentId, Quantity, TaxRate, line_amounts,
};
use crate::models::invoice::{self, Invoice, InvoiceChanges, InvoiceFields, InvoiceFilter, Totals};
use crate::models::invoice_item::{self, Item, ItemChanges, ItemFields};
use crate::models::payment::{self, Payment, PaymentFields};
use crate::models::{Page, PageRequest};

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
    #[error("there is no customer {0} in this account")]
    CustomerNotFound(CustomerId),
    #[error("another invoice of this account is already numbered {0:?}")]
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
    #[error(transparent)]
    Database(#[from] DieselError),
}

type Result<T> = std::result::Result<T, InvoicingError>;

/// An invoice with its lines and derived amounts.
#[derive(Debug, Clone)]
pub struct FullInvoice {
    pub invoice: Invoice,
    pub items: Vec<Item>,
    pub totals: Totals,
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
    pub position: Option<i64>,
}

fn constraint(error: &DieselError) -> Option<(DatabaseErrorKind, &str)> {
    match error {
        DieselError::DatabaseError(kind, info) => info.constraint_name().map(|name| (*kind, name)),
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
            Some((DatabaseErrorKind::UniqueViolation, "invoices_number_unique")),
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

fn totals_of(items: &[Item], amount_paid: Money) -> Totals {
    let sum = |value: fn(&Item) -> &BigDecimal| Money::from_db(items.iter().map(value).sum());
    Totals {
        subtotal: sum(|item| &item.subtotal),
        tax_total: sum(|item| &item.tax),
        amount_paid,
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

fn full(conn: &mut TenantConn<'_>, invoice: Invoice) -> Result<FullInvoice> {
    let id = invoice.invoice_id();
    let items = invoice_item::for_invoice(conn, id)?;
    let paid = invoice::amount_paid(conn, id)?;
    let totals = totals_of(&items, paid);
    Ok(FullInvoice {
        invoice,
        items,
        totals,
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

pub fn create_invoice(
    conn: &mut TenantConn<'_>,
    fields: &InvoiceFields,
    lines: &[NewLine],
) -> Result<FullInvoice> {
    let invoice = invoice::insert(conn, fields)
        .map_err(|e| explain(e, Some((&fields.number, Some(fields.customer_id)))))?;
    let items = invoice_item::insert(conn, invoice.invoice_id(), &arrange(lines))?;
    let totals = totals_of(&items, Money::zero());
    Ok(FullInvoice {
        invoice,
        items,
        totals,
    })
}

/// An invoice with its lines and amounts: two statements.
pub fn get_invoice(conn: &mut TenantConn<'_>, id: InvoiceId) -> Result<FullInvoice> {
    let (invoice, paid) =
        invoice::find_with_amount_paid(conn, id)?.ok_or(InvoicingError::InvoiceNotFound(id))?;
    let items = invoice_item::for_invoice(conn, id)?;
    let totals = totals_of(&items, paid);
    Ok(FullInvoice {
        invoice,
        items,
        totals,
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
    full(conn, invoice)
}

pub fn delete_invoice(conn: &mut TenantConn<'_>, id: InvoiceId) -> Result<()> {
    locked_draft(conn, id, "deleted")?;
    invoice::delete(conn, id)?;
    Ok(())
}

/// draft → issued; needs at least one item; the issue date becomes today
/// unless it was set.
pub fn issue_invoice(conn: &mut TenantConn<'_>, id: InvoiceId) -> Result<FullInvoice> {
    locked_draft(conn, id, "issued")?;
    if invoice_item::count(conn, id)? == 0 {
        return Err(InvoicingError::NoItems(id));
    }
    let invoice = invoice::set_status(conn, id, InvoiceStatus::Issued).map_err(|e| match explain(e, None) {
        InvoicingError::DueBeforeIssue => InvoicingError::Transition {
            id,
            status: InvoiceStatus::Draft,
            reason: "its due_date is before today, the issue date it would get: set issue_date or due_date first",
        },
        other => other,
    })?;
    full(conn, invoice)
}

/// issued → void, only while nothing is paid.
pub fn void_invoice(conn: &mut TenantConn<'_>, id: InvoiceId) -> Result<FullInvoice> {
    let invoice = locked(conn, id)?;
    if invoice.status != InvoiceStatus::Issued {
        return Err(InvoicingError::Transition {
            id,
            status: invoice.status,
            reason: "only an issued invoice can be voided (delete a draft instead)",
        });
    }
    let paid = invoice::amount_paid(conn, id)?;
    if !paid.is_zero() {
        return Err(InvoicingError::PartlyPaid { id, paid });
    }
    let invoice = invoice::set_status(conn, id, InvoiceStatus::Void)?;
    full(conn, invoice)
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
/// locked, concurrent payments are checked one after another, so together
/// they can never exceed the total.
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
    let balance = invoice::totals(conn, id)?.balance_due();
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
