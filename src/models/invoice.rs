//! `invoices`, and the amounts derived from their items, payments and
//! credit notes.

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::fragments::{CreditsSum, ItemsSums, PaymentsSum};
use super::{Page, PageRequest};
use crate::db::TenantConn;
use crate::domain::{CustomerId, InvoiceId, InvoiceStatus, Money, RowId, TaxRounding};
use crate::schema::invoices;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = invoices, primary_key(account_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Invoice {
    pub account_id: String,
    pub id: i64,
    pub customer_id: i64,
    pub number: Option<String>,
    pub status: InvoiceStatus,
    pub currency: String,
    pub issue_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub tax_rounding: TaxRounding,
    pub service_date: Option<NaiveDate>,
    pub service_period_start: Option<NaiveDate>,
    pub service_period_end: Option<NaiveDate>,
    /// The seller (the account's profile) as it was at issue.
    pub seller: Option<serde_json::Value>,
    /// The buyer (the customer) as it was at issue.
    pub buyer: Option<serde_json::Value>,
}

impl Invoice {
    pub fn invoice_id(&self) -> InvoiceId {
        InvoiceId::from_db(self.id)
    }
}

/// An invoice's writable fields, already validated.
#[derive(Debug, Clone)]
pub struct InvoiceFields {
    pub customer_id: CustomerId,
    pub number: Option<String>,
    pub currency: String,
    pub issue_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub notes: Option<String>,
    pub service_date: Option<NaiveDate>,
    pub service_period: Option<(NaiveDate, NaiveDate)>,
}

/// A partial update of a draft: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, AsChangeset)]
#[diesel(table_name = invoices)]
pub struct InvoiceChanges {
    pub customer_id: Option<i64>,
    pub number: Option<Option<String>>,
    pub currency: Option<String>,
    pub issue_date: Option<Option<NaiveDate>>,
    pub due_date: Option<Option<NaiveDate>>,
    pub notes: Option<Option<String>>,
    pub service_date: Option<Option<NaiveDate>>,
    pub service_period_start: Option<Option<NaiveDate>>,
    pub service_period_end: Option<Option<NaiveDate>>,
}

impl InvoiceChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What issuing sets, all at once.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = invoices)]
pub struct Issue {
    pub status: InvoiceStatus,
    pub number: String,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub tax_rounding: TaxRounding,
    pub seller: serde_json::Value,
    pub buyer: serde_json::Value,
}

// NULL for None (not DEFAULT): an insert that may say DEFAULT varies its
// SQL with the data, so Diesel would not keep it prepared.
#[derive(Insertable)]
#[diesel(table_name = invoices, treat_none_as_default_value = false)]
struct NewInvoice<'a> {
    account_id: &'a str,
    customer_id: i64,
    number: Option<&'a str>,
    currency: &'a str,
    issue_date: Option<NaiveDate>,
    due_date: Option<NaiveDate>,
    notes: Option<&'a str>,
    tax_rounding: TaxRounding,
    service_date: Option<NaiveDate>,
    service_period_start: Option<NaiveDate>,
    service_period_end: Option<NaiveDate>,
}

/// What an invoice list is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    pub status: Option<InvoiceStatus>,
    pub customer_id: Option<CustomerId>,
    pub issued_from: Option<NaiveDate>,
    pub issued_to: Option<NaiveDate>,
}

/// The amounts derived from an invoice's items, payments and credit notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: Money,
    /// Σ line taxes (`line` rounding) or Σ breakdown taxes (`document`).
    pub tax_total: Money,
    pub amount_paid: Money,
    pub amount_credited: Money,
}

impl Totals {
    pub fn total(&self) -> Money {
        &self.subtotal + &self.tax_total
    }

    /// What is still to be paid: total − paid − credited, never below 0.
    pub fn balance_due(&self) -> Money {
        let left = &(&self.total() - &self.amount_paid) - &self.amount_credited;
        left.max(Money::zero())
    }

    /// What is owed back to the customer: paid and credited beyond the total.
    pub fn amount_refundable(&self) -> Money {
        let over = &(&self.amount_paid + &self.amount_credited) - &self.total();
        over.max(Money::zero())
    }

    /// What is still uncredited: what a credit note may credit at most.
    pub fn uncredited(&self) -> Money {
        &self.total() - &self.amount_credited
    }
}

fn money(sum: Option<BigDecimal>) -> Money {
    sum.map_or_else(Money::zero, Money::from_db)
}

pub fn insert(
    conn: &mut TenantConn<'_>,
    fields: &InvoiceFields,
    tax_rounding: TaxRounding,
) -> QueryResult<Invoice> {
    let account_id = conn.account_id().to_owned();
    diesel::insert_into(invoices::table)
        .values(NewInvoice {
            account_id: &account_id,
            customer_id: fields.customer_id.get(),
            number: fields.number.as_deref(),
            currency: &fields.currency,
            issue_date: fields.issue_date,
            due_date: fields.due_date,
            notes: fields.notes.as_deref(),
            tax_rounding,
            service_date: fields.service_date,
            service_period_start: fields.service_period.map(|(start, _)| start),
            service_period_end: fields.service_period.map(|(_, end)| end),
        })
        .returning(Invoice::as_returning())
        .get_result(conn.pg())
}

pub fn find(conn: &mut TenantConn<'_>, id: InvoiceId) -> QueryResult<Option<Invoice>> {
    let account_id = conn.account_id().to_owned();
    invoices::table
        .find((account_id, id.get()))
        .select(Invoice::as_select())
        .first(conn.pg())
        .optional()
}

/// Reads and row-locks the invoice until the transaction ends: every change
/// to an invoice, its items, its payments or its credit notes takes this
/// lock first, so they happen one at a time per invoice.
pub fn lock(conn: &mut TenantConn<'_>, id: InvoiceId) -> QueryResult<Option<Invoice>> {
    let account_id = conn.account_id().to_owned();
    invoices::table
        .find((account_id, id.get()))
        .select(Invoice::as_select())
        .for_update()
        .first(conn.pg())
        .optional()
}

pub fn update(
    conn: &mut TenantConn<'_>,
    id: InvoiceId,
    changes: &InvoiceChanges,
) -> QueryResult<Invoice> {
    let account_id = conn.account_id().to_owned();
    diesel::update(invoices::table.find((account_id, id.get())))
        .set(changes)
        .returning(Invoice::as_returning())
        .get_result(conn.pg())
}

/// A draft's tax rounding follows the account's setting until it is issued.
pub fn set_tax_rounding(
    conn: &mut TenantConn<'_>,
    id: InvoiceId,
    tax_rounding: TaxRounding,
) -> QueryResult<Invoice> {
    let account_id = conn.account_id().to_owned();
    diesel::update(invoices::table.find((account_id, id.get())))
        .set(invoices::tax_rounding.eq(tax_rounding))
        .returning(Invoice::as_returning())
        .get_result(conn.pg())
}

/// Issues a draft: number, dates, rounding and parties fixed at once.
pub fn issue(conn: &mut TenantConn<'_>, id: InvoiceId, issue: &Issue) -> QueryResult<Invoice> {
    let account_id = conn.account_id().to_owned();
    diesel::update(invoices::table.find((account_id, id.get())))
        .set(issue)
        .returning(Invoice::as_returning())
        .get_result(conn.pg())
}

/// Moves an issued invoice to `status` (paid, void).
pub fn set_status(
    conn: &mut TenantConn<'_>,
    id: InvoiceId,
    status: InvoiceStatus,
) -> QueryResult<Invoice> {
    let account_id = conn.account_id().to_owned();
    diesel::update(invoices::table.find((account_id, id.get())))
        .set(invoices::status.eq(status))
        .returning(Invoice::as_returning())
        .get_result(conn.pg())
}

pub fn delete(conn: &mut TenantConn<'_>, id: InvoiceId) -> QueryResult<usize> {
    let account_id = conn.account_id().to_owned();
    diesel::delete(invoices::table.find((account_id, id.get()))).execute(conn.pg())
}

// The derived amounts come as columns beside an invoice row: correlated
// subqueries (see `fragments`), each an index lookup on `(account_id,
// invoice_id)`, so a row and its amounts take one statement, and a page
// one statement whatever its size.
/// [subtotal, line-rounded tax, document-rounded tax] (see ItemsSums).
type ItemSums = Option<Vec<Option<BigDecimal>>>;
type Sums = (ItemSums, Option<BigDecimal>, Option<BigDecimal>);

fn totals_of(invoice: &Invoice, (items, paid, credited): Sums) -> Totals {
    let items = items.unwrap_or_default();
    let sum = |index: usize| items.get(index).cloned().flatten();
    let (subtotal, line_tax, document_tax) = (sum(0), sum(1), sum(2));
    Totals {
        subtotal: money(subtotal),
        tax_total: money(match invoice.tax_rounding {
            TaxRounding::Line => line_tax,
            TaxRounding::Document => document_tax,
        }),
        amount_paid: money(paid),
        amount_credited: money(credited),
    }
}

/// A page of invoices with their derived amounts, in one statement.
pub fn list(
    conn: &mut TenantConn<'_>,
    filter: &InvoiceFilter,
    page: &PageRequest,
) -> QueryResult<Page<(Invoice, Totals)>> {
    let account_id = conn.account_id().to_owned();
    let sums = (
        ItemsSums(account_id.clone()),
        PaymentsSum(account_id.clone()),
        CreditsSum(account_id.clone()),
    );
    let mut query = invoices::table
        .filter(invoices::account_id.eq(account_id))
        .filter(invoices::id.gt(page.after.unwrap_or(0)))
        .order(invoices::id)
        .limit(page.fetch_limit())
        .select((Invoice::as_select(), sums))
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(invoices::status.eq(status));
    }
    if let Some(customer) = filter.customer_id {
        query = query.filter(invoices::customer_id.eq(customer.get()));
    }
    if let Some(from) = filter.issued_from {
        query = query.filter(invoices::issue_date.ge(from));
    }
    if let Some(to) = filter.issued_to {
        query = query.filter(invoices::issue_date.le(to));
    }
    let rows: Vec<(Invoice, Sums)> = query.load(conn.pg())?;
    Ok(Page::from_rows(
        rows.into_iter()
            .map(|(invoice, sums)| {
                let totals = totals_of(&invoice, sums);
                (invoice, totals)
            })
            .collect(),
        page,
    ))
}

/// What has been paid and credited on an invoice, in one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub paid: Money,
    pub credited: Money,
}

/// The invoice and what has been paid and credited on it, in one statement.
pub fn find_with_settled(
    conn: &mut TenantConn<'_>,
    id: InvoiceId,
) -> QueryResult<Option<(Invoice, Settled)>> {
    let account_id = conn.account_id().to_owned();
    let sums = (
        PaymentsSum(account_id.clone()),
        CreditsSum(account_id.clone()),
    );
    let row: Option<(Invoice, Option<BigDecimal>, Option<BigDecimal>)> = invoices::table
        .find((account_id, id.get()))
        .select((Invoice::as_select(), sums.0, sums.1))
        .first(conn.pg())
        .optional()?;
    Ok(row.map(|(invoice, paid, credited)| {
        (
            invoice,
            Settled {
                paid: money(paid),
                credited: money(credited),
            },
        )
    }))
}

/// What has been paid and credited on one invoice. After [`lock`], in its
/// own statement: under READ COMMITTED a statement reads what was
/// committed when it began, so amounts read by the locking statement itself
/// would miss the payments committed while it waited for the lock.
pub fn settled(conn: &mut TenantConn<'_>, id: InvoiceId) -> QueryResult<Settled> {
    let account_id = conn.account_id().to_owned();
    let sums = (
        PaymentsSum(account_id.clone()),
        CreditsSum(account_id.clone()),
    );
    let (paid, credited): (Option<BigDecimal>, Option<BigDecimal>) = invoices::table
        .find((account_id, id.get()))
        .select(sums)
        .first(conn.pg())?;
    Ok(Settled {
        paid: money(paid),
        credited: money(credited),
    })
}

/// The ids of the invoice's credit notes, oldest first.
pub fn credit_note_ids(conn: &mut TenantConn<'_>, id: InvoiceId) -> QueryResult<Vec<i64>> {
    use crate::schema::credit_notes;
    let account_id = conn.account_id().to_owned();
    credit_notes::table
        .filter(credit_notes::account_id.eq(account_id))
        .filter(credit_notes::invoice_id.eq(id.get()))
        .order(credit_notes::id)
        .select(credit_notes::id)
        .load(conn.pg())
}

/// The number and issue date of each of the invoices `ids`: what credit
/// notes refer to them by. One statement.
/// What a credit note refers to its invoice by: its number and issue date.
pub type Reference = (Option<String>, Option<NaiveDate>);

pub fn references(
    conn: &mut TenantConn<'_>,
    ids: &[i64],
) -> QueryResult<std::collections::HashMap<i64, Reference>> {
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let account_id = conn.account_id().to_owned();
    let rows: Vec<(i64, Option<String>, Option<NaiveDate>)> = invoices::table
        .filter(invoices::account_id.eq(account_id))
        .filter(invoices::id.eq_any(ids))
        .select((invoices::id, invoices::number, invoices::issue_date))
        .load(conn.pg())?;
    Ok(rows
        .into_iter()
        .map(|(id, number, date)| (id, (number, date)))
        .collect())
}
