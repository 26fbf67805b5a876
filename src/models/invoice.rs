//! `invoices`, and the amounts derived from their items and payments.

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sum;
use diesel::prelude::*;

use super::fragments::{ItemsSums, PaymentsSum};
use super::{Page, PageRequest};
use crate::db::TenantConn;
use crate::domain::{CustomerId, InvoiceId, InvoiceStatus, Money, RowId};
use crate::schema::{invoices, payments};

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
}

impl InvoiceChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
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
}

/// What an invoice list is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    pub status: Option<InvoiceStatus>,
    pub customer_id: Option<CustomerId>,
    pub issued_from: Option<NaiveDate>,
    pub issued_to: Option<NaiveDate>,
}

/// The amounts derived from an invoice's items and payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: Money,
    pub tax_total: Money,
    pub amount_paid: Money,
}

impl Totals {
    pub fn total(&self) -> Money {
        &self.subtotal + &self.tax_total
    }

    pub fn balance_due(&self) -> Money {
        &self.total() - &self.amount_paid
    }
}

fn money(sum: Option<BigDecimal>) -> Money {
    sum.map_or_else(Money::zero, Money::from_db)
}

pub fn insert(conn: &mut TenantConn<'_>, fields: &InvoiceFields) -> QueryResult<Invoice> {
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
/// to an invoice, its items or its payments takes this lock first, so they
/// happen one at a time per invoice.
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

/// Moves the invoice to `status`; issuing also fixes the issue date (today
/// unless it was set).
pub fn set_status(
    conn: &mut TenantConn<'_>,
    id: InvoiceId,
    status: InvoiceStatus,
) -> QueryResult<Invoice> {
    let account_id = conn.account_id().to_owned();
    let target = invoices::table.find((account_id, id.get()));
    if status == InvoiceStatus::Issued {
        diesel::update(target)
            .set((
                invoices::status.eq(status),
                invoices::issue_date.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Date>,
                >(
                    "coalesce(issue_date, (now() AT TIME ZONE 'UTC')::date)"
                )),
            ))
            .returning(Invoice::as_returning())
            .get_result(conn.pg())
    } else {
        diesel::update(target)
            .set(invoices::status.eq(status))
            .returning(Invoice::as_returning())
            .get_result(conn.pg())
    }
}

pub fn delete(conn: &mut TenantConn<'_>, id: InvoiceId) -> QueryResult<usize> {
    let account_id = conn.account_id().to_owned();
    diesel::delete(invoices::table.find((account_id, id.get()))).execute(conn.pg())
}

// The derived amounts come as columns beside an invoice row: correlated
// subqueries (see `fragments`), each an index lookup on `(account_id,
// invoice_id)`, so a row and its amounts take one statement, and a page
// one statement whatever its size.
type ItemSums = Option<(Option<BigDecimal>, Option<BigDecimal>)>;
type AmountsRow = (Invoice, ItemSums, Option<BigDecimal>);

fn totals_of(items: ItemSums, paid: Option<BigDecimal>) -> Totals {
    let (subtotal, tax) = items.unwrap_or_default();
    Totals {
        subtotal: money(subtotal),
        tax_total: money(tax),
        amount_paid: money(paid),
    }
}

fn with_totals((invoice, items, paid): AmountsRow) -> (Invoice, Totals) {
    (invoice, totals_of(items, paid))
}

/// A page of invoices with their derived amounts, in one statement.
pub fn list(
    conn: &mut TenantConn<'_>,
    filter: &InvoiceFilter,
    page: &PageRequest,
) -> QueryResult<Page<(Invoice, Totals)>> {
    let account_id = conn.account_id().to_owned();
    let mut query = invoices::table
        .filter(invoices::account_id.eq(account_id))
        .filter(invoices::id.gt(page.after.unwrap_or(0)))
        .order(invoices::id)
        .limit(page.fetch_limit())
        .select((Invoice::as_select(), ItemsSums, PaymentsSum))
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
    let rows: Vec<AmountsRow> = query.load(conn.pg())?;
    Ok(Page::from_rows(
        rows.into_iter().map(with_totals).collect(),
        page,
    ))
}

/// The invoice and what has been paid on it, in one statement.
pub fn find_with_amount_paid(
    conn: &mut TenantConn<'_>,
    id: InvoiceId,
) -> QueryResult<Option<(Invoice, Money)>> {
    let account_id = conn.account_id().to_owned();
    let row: Option<(Invoice, Option<BigDecimal>)> = invoices::table
        .find((account_id, id.get()))
        .select((Invoice::as_select(), PaymentsSum))
        .first(conn.pg())
        .optional()?;
    Ok(row.map(|(invoice, paid)| (invoice, money(paid))))
}

/// The invoice's derived amounts, in one statement. After [`lock`], in
/// its own statement: under READ COMMITTED a statement reads what was
/// committed when it began, so amounts read by the locking statement itself
/// would miss the payments committed while it waited for the lock.
pub fn totals(conn: &mut TenantConn<'_>, id: InvoiceId) -> QueryResult<Totals> {
    let account_id = conn.account_id().to_owned();
    let (items, paid): (ItemSums, Option<BigDecimal>) = invoices::table
        .find((account_id, id.get()))
        .select((ItemsSums, PaymentsSum))
        .first(conn.pg())?;
    Ok(totals_of(items, paid))
}

/// What has been paid on one invoice.
pub fn amount_paid(conn: &mut TenantConn<'_>, id: InvoiceId) -> QueryResult<Money> {
    let account_id = conn.account_id().to_owned();
    let paid: Option<BigDecimal> = payments::table
        .filter(payments::account_id.eq(account_id))
        .filter(payments::invoice_id.eq(id.get()))
        .select(sum(payments::amount))
        .first(conn.pg())?;
    Ok(money(paid))
}
