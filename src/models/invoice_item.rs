//! `invoice_items`: an invoice's lines, kept at positions 1..n.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::TenantConn;
use crate::domain::{InvoiceId, ItemId, Money, Quantity, RowId, TaxCategory, TaxRate};
use crate::schema::invoice_items;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = invoice_items, primary_key(account_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Item {
    pub account_id: String,
    pub id: i64,
    pub invoice_id: i64,
    pub position: i32,
    pub description: String,
    pub quantity: BigDecimal,
    pub unit_price: BigDecimal,
    pub tax_rate: BigDecimal,
    /// round(quantity × unit_price), computed by the database.
    pub subtotal: BigDecimal,
    /// round(subtotal × tax_rate / 100), computed by the database.
    pub tax: BigDecimal,
    pub created_at: DateTime<Utc>,
    pub tax_category: TaxCategory,
    pub tax_exemption_reason: Option<String>,
}

/// A line's writable fields, already validated.
#[derive(Debug, Clone)]
pub struct ItemFields {
    pub description: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub tax_rate: TaxRate,
    pub tax_category: TaxCategory,
    pub tax_exemption_reason: Option<String>,
}

/// Changes to a line: `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, AsChangeset)]
#[diesel(table_name = invoice_items)]
pub struct ItemChanges {
    pub description: Option<String>,
    pub quantity: Option<BigDecimal>,
    pub unit_price: Option<BigDecimal>,
    pub tax_rate: Option<BigDecimal>,
    pub position: Option<i32>,
    pub tax_category: Option<TaxCategory>,
    pub tax_exemption_reason: Option<Option<String>>,
}

#[derive(Insertable)]
#[diesel(table_name = invoice_items)]
struct NewItem<'a> {
    account_id: &'a str,
    invoice_id: i64,
    position: i32,
    description: &'a str,
    quantity: &'a BigDecimal,
    unit_price: &'a BigDecimal,
    tax_rate: &'a BigDecimal,
    tax_category: TaxCategory,
    tax_exemption_reason: Option<&'a str>,
}

/// The invoice's lines in position order.
pub fn for_invoice(conn: &mut TenantConn<'_>, invoice: InvoiceId) -> QueryResult<Vec<Item>> {
    let account_id = conn.account_id().to_owned();
    invoice_items::table
        .filter(invoice_items::account_id.eq(account_id))
        .filter(invoice_items::invoice_id.eq(invoice.get()))
        .order((invoice_items::position, invoice_items::id))
        .select(Item::as_select())
        .load(conn.pg())
}

pub fn count(conn: &mut TenantConn<'_>, invoice: InvoiceId) -> QueryResult<i64> {
    let account_id = conn.account_id().to_owned();
    invoice_items::table
        .filter(invoice_items::account_id.eq(account_id))
        .filter(invoice_items::invoice_id.eq(invoice.get()))
        .count()
        .get_result(conn.pg())
}

pub fn find(
    conn: &mut TenantConn<'_>,
    invoice: InvoiceId,
    id: ItemId,
) -> QueryResult<Option<Item>> {
    let account_id = conn.account_id().to_owned();
    invoice_items::table
        .find((account_id, id.get()))
        .filter(invoice_items::invoice_id.eq(invoice.get()))
        .select(Item::as_select())
        .first(conn.pg())
        .optional()
}

/// Inserts lines at the given positions, in one statement.
pub fn insert(
    conn: &mut TenantConn<'_>,
    invoice: InvoiceId,
    lines: &[(i32, &ItemFields)],
) -> QueryResult<Vec<Item>> {
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let account_id = conn.account_id().to_owned();
    let rows: Vec<NewItem<'_>> = lines
        .iter()
        .map(|(position, fields)| NewItem {
            account_id: &account_id,
            invoice_id: invoice.get(),
            position: *position,
            description: &fields.description,
            quantity: fields.quantity.value(),
            unit_price: fields.unit_price.value(),
            tax_rate: fields.tax_rate.value(),
            tax_category: fields.tax_category,
            tax_exemption_reason: fields.tax_exemption_reason.as_deref(),
        })
        .collect();
    let mut items: Vec<Item> = diesel::insert_into(invoice_items::table)
        .values(&rows)
        .returning(Item::as_returning())
        .get_results(conn.pg())?;
    items.sort_by_key(|item| (item.position, item.id));
    Ok(items)
}

/// Moves the lines at positions `from..=to` by `delta` (to make or close a gap).
pub fn shift(
    conn: &mut TenantConn<'_>,
    invoice: InvoiceId,
    from: i32,
    to: i32,
    delta: i32,
) -> QueryResult<usize> {
    let account_id = conn.account_id().to_owned();
    diesel::update(
        invoice_items::table
            .filter(invoice_items::account_id.eq(account_id))
            .filter(invoice_items::invoice_id.eq(invoice.get()))
            .filter(invoice_items::position.between(from, to)),
    )
    .set(invoice_items::position.eq(invoice_items::position + delta))
    .execute(conn.pg())
}

pub fn update(conn: &mut TenantConn<'_>, id: ItemId, changes: &ItemChanges) -> QueryResult<Item> {
    let account_id = conn.account_id().to_owned();
    diesel::update(invoice_items::table.find((account_id, id.get())))
        .set(changes)
        .returning(Item::as_returning())
        .get_result(conn.pg())
}

pub fn delete(conn: &mut TenantConn<'_>, id: ItemId) -> QueryResult<usize> {
    let account_id = conn.account_id().to_owned();
    diesel::delete(invoice_items::table.find((account_id, id.get()))).execute(conn.pg())
}
