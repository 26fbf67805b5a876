//! `payments`: immutable once recorded.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{Page, PageRequest};
use crate::db::TenantConn;
use crate::domain::{InvoiceId, Money, PaymentId, PaymentMethod, RowId};
use crate::schema::payments;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = payments, primary_key(account_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Payment {
    pub account_id: String,
    pub id: i64,
    pub invoice_id: i64,
    pub amount: BigDecimal,
    pub paid_at: DateTime<Utc>,
    pub method: Option<PaymentMethod>,
    pub reference: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A payment's fields, already validated.
#[derive(Debug, Clone)]
pub struct PaymentFields {
    pub amount: Money,
    /// `None`: now.
    pub paid_at: Option<DateTime<Utc>>,
    pub method: Option<PaymentMethod>,
    pub reference: Option<String>,
}

// NULL for None (not DEFAULT): an insert that may say DEFAULT varies its
// SQL with the data, so Diesel would not keep it prepared. `paid_at` is
// added only when given, so that its column default (the database's now())
// applies otherwise.
#[derive(Insertable)]
#[diesel(table_name = payments, treat_none_as_default_value = false)]
struct NewPayment<'a> {
    account_id: &'a str,
    invoice_id: i64,
    amount: &'a BigDecimal,
    method: Option<PaymentMethod>,
    reference: Option<&'a str>,
}

pub fn insert(
    conn: &mut TenantConn<'_>,
    invoice: InvoiceId,
    fields: &PaymentFields,
) -> QueryResult<Payment> {
    let account_id = conn.account_id().to_owned();
    let row = NewPayment {
        account_id: &account_id,
        invoice_id: invoice.get(),
        amount: fields.amount.value(),
        method: fields.method,
        reference: fields.reference.as_deref(),
    };
    match fields.paid_at {
        Some(paid_at) => diesel::insert_into(payments::table)
            .values((row, payments::paid_at.eq(paid_at)))
            .returning(Payment::as_returning())
            .get_result(conn.pg()),
        None => diesel::insert_into(payments::table)
            .values(row)
            .returning(Payment::as_returning())
            .get_result(conn.pg()),
    }
}

pub fn find(conn: &mut TenantConn<'_>, id: PaymentId) -> QueryResult<Option<Payment>> {
    let account_id = conn.account_id().to_owned();
    payments::table
        .find((account_id, id.get()))
        .select(Payment::as_select())
        .first(conn.pg())
        .optional()
}

/// Payments in id order, of one invoice or of all.
pub fn list(
    conn: &mut TenantConn<'_>,
    invoice: Option<InvoiceId>,
    page: &PageRequest,
) -> QueryResult<Page<Payment>> {
    let account_id = conn.account_id().to_owned();
    let mut query = payments::table
        .filter(payments::account_id.eq(account_id))
        .filter(payments::id.gt(page.after.unwrap_or(0)))
        .order(payments::id)
        .limit(page.fetch_limit())
        .select(Payment::as_select())
        .into_boxed();
    if let Some(invoice) = invoice {
        query = query.filter(payments::invoice_id.eq(invoice.get()));
    }
    Ok(Page::from_rows(query.load(conn.pg())?, page))
}
