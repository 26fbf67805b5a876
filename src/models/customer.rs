//! `customers`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{Page, PageRequest};
use crate::db::TenantConn;
use crate::domain::{Address, CustomerId, Locale, RowId};
use crate::schema::{customers, invoices};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = customers, primary_key(account_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Customer {
    pub account_id: String,
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Also the buyer's VAT id (the API's `vat_id`).
    pub tax_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub billing_line1: Option<String>,
    pub billing_line2: Option<String>,
    pub billing_postal_code: Option<String>,
    pub billing_city: Option<String>,
    pub billing_country: Option<String>,
    pub buyer_reference: Option<String>,
    pub locale: Option<Locale>,
}

impl Customer {
    /// The structured billing address, when any part of it is known.
    pub fn billing_address(&self) -> Option<Address> {
        let address = Address {
            line1: self.billing_line1.clone(),
            line2: self.billing_line2.clone(),
            postal_code: self.billing_postal_code.clone(),
            city: self.billing_city.clone(),
            country: self.billing_country.clone(),
        };
        (address != Address::default()).then_some(address)
    }
}

/// A customer's writable fields, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerFields {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub tax_id: Option<String>,
    pub billing_address: Option<Address>,
    pub buyer_reference: Option<String>,
    pub locale: Option<Locale>,
}

/// A partial update: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, AsChangeset)]
#[diesel(table_name = customers)]
pub struct CustomerChanges {
    pub name: Option<String>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub tax_id: Option<Option<String>>,
    pub billing_line1: Option<Option<String>>,
    pub billing_line2: Option<Option<String>>,
    pub billing_postal_code: Option<Option<String>>,
    pub billing_city: Option<Option<String>>,
    pub billing_country: Option<Option<String>>,
    pub buyer_reference: Option<Option<String>>,
    pub locale: Option<Option<Locale>>,
}

impl CustomerChanges {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Replaces the whole billing address (a PATCH sets every part).
    pub fn set_billing_address(&mut self, address: Option<Address>) {
        let address = address.unwrap_or_default();
        self.billing_line1 = Some(address.line1);
        self.billing_line2 = Some(address.line2);
        self.billing_postal_code = Some(address.postal_code);
        self.billing_city = Some(address.city);
        self.billing_country = Some(address.country);
    }
}

// NULL for None (not DEFAULT): an insert that may say DEFAULT varies its
// SQL with the data, so Diesel would not keep it prepared.
#[derive(Insertable)]
#[diesel(table_name = customers, treat_none_as_default_value = false)]
struct NewCustomer<'a> {
    account_id: &'a str,
    name: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    address: Option<&'a str>,
    tax_id: Option<&'a str>,
    billing_line1: Option<&'a str>,
    billing_line2: Option<&'a str>,
    billing_postal_code: Option<&'a str>,
    billing_city: Option<&'a str>,
    billing_country: Option<&'a str>,
    buyer_reference: Option<&'a str>,
    locale: Option<Locale>,
}

/// What a customer list is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Case-insensitive substring of the name or the e-mail address.
    pub search: Option<String>,
}

/// Escapes LIKE's wildcards so that a search for `50%` finds "50%".
pub fn like_pattern(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub fn create(conn: &mut TenantConn<'_>, fields: &CustomerFields) -> QueryResult<Customer> {
    let account_id = conn.account_id().to_owned();
    let billing = fields.billing_address.clone().unwrap_or_default();
    diesel::insert_into(customers::table)
        .values(NewCustomer {
            account_id: &account_id,
            name: &fields.name,
            email: fields.email.as_deref(),
            phone: fields.phone.as_deref(),
            address: fields.address.as_deref(),
            tax_id: fields.tax_id.as_deref(),
            billing_line1: billing.line1.as_deref(),
            billing_line2: billing.line2.as_deref(),
            billing_postal_code: billing.postal_code.as_deref(),
            billing_city: billing.city.as_deref(),
            billing_country: billing.country.as_deref(),
            buyer_reference: fields.buyer_reference.as_deref(),
            locale: fields.locale,
        })
        .returning(Customer::as_returning())
        .get_result(conn.pg())
}

pub fn find(conn: &mut TenantConn<'_>, id: CustomerId) -> QueryResult<Option<Customer>> {
    let account_id = conn.account_id().to_owned();
    customers::table
        .find((account_id, id.get()))
        .select(Customer::as_select())
        .first(conn.pg())
        .optional()
}

pub fn list(
    conn: &mut TenantConn<'_>,
    filter: &CustomerFilter,
    page: &PageRequest,
) -> QueryResult<Page<Customer>> {
    let account_id = conn.account_id().to_owned();
    let mut query = customers::table
        .filter(customers::account_id.eq(account_id))
        .filter(customers::id.gt(page.after.unwrap_or(0)))
        .order(customers::id)
        .limit(page.fetch_limit())
        .select(Customer::as_select())
        .into_boxed();
    if let Some(search) = &filter.search {
        let pattern = like_pattern(search);
        query = query.filter(
            customers::name
                .ilike(pattern.clone())
                .or(customers::email.ilike(pattern)),
        );
    }
    Ok(Page::from_rows(query.load(conn.pg())?, page))
}

/// Applies `changes`; `None` when the account has no such customer.
pub fn update(
    conn: &mut TenantConn<'_>,
    id: CustomerId,
    changes: &CustomerChanges,
) -> QueryResult<Option<Customer>> {
    if changes.is_empty() {
        return find(conn, id);
    }
    let account_id = conn.account_id().to_owned();
    diesel::update(customers::table.find((account_id, id.get())))
        .set(changes)
        .returning(Customer::as_returning())
        .get_result(conn.pg())
        .optional()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    NotFound,
    /// Invoices reference the customer; it stays.
    HasInvoices,
}

pub fn delete(conn: &mut TenantConn<'_>, id: CustomerId) -> QueryResult<Deletion> {
    let account_id = conn.account_id().to_owned();
    // Lock the row first so that no invoice can be created for it between
    // the check and the delete.
    let locked: Option<i64> = customers::table
        .find((&account_id, id.get()))
        .select(customers::id)
        .for_update()
        .first(conn.pg())
        .optional()?;
    if locked.is_none() {
        return Ok(Deletion::NotFound);
    }
    let has_invoices = diesel::select(diesel::dsl::exists(
        invoices::table
            .filter(invoices::account_id.eq(&account_id))
            .filter(invoices::customer_id.eq(id.get())),
    ))
    .get_result::<bool>(conn.pg())?;
    if has_invoices {
        return Ok(Deletion::HasInvoices);
    }
    diesel::delete(customers::table.find((&account_id, id.get()))).execute(conn.pg())?;
    Ok(Deletion::Deleted)
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_wildcards_in_searches_are_literal() {
        assert_eq!(like_pattern("ann"), "%ann%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
