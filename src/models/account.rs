//! `accounts`: the tenant registry (administration, as the owner) and each
//! account's own profile (read and changed by the account).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{Page, PageRequest};
use crate::db::TenantConn;
use crate::domain::{AccountId, Address, Locale, Name, NumberReset, TaxRounding};
use crate::schema::accounts;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
pub struct Account {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = accounts)]
struct NewAccount<'a> {
    id: &'a str,
    name: &'a str,
}

/// Inserts the account; `None` when the id is taken.
pub fn create(
    conn: &mut PgConnection,
    id: &AccountId,
    name: &Name,
) -> QueryResult<Option<Account>> {
    diesel::insert_into(accounts::table)
        .values(NewAccount {
            id: id.as_str(),
            name: name.as_str(),
        })
        .on_conflict_do_nothing()
        .returning(Account::as_returning())
        .get_result(conn)
        .optional()
}

pub fn find(conn: &mut PgConnection, id: &AccountId) -> QueryResult<Option<Account>> {
    accounts::table
        .find(id.as_str())
        .select(Account::as_select())
        .first(conn)
        .optional()
}

/// Accounts in id order, after the given id.
pub fn list(conn: &mut PgConnection, page: &PageRequest<AccountId>) -> QueryResult<Page<Account>> {
    let mut query = accounts::table
        .select(Account::as_select())
        .order(accounts::id)
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(accounts::id.gt(after.as_str().to_owned()));
    }
    Ok(Page::from_rows(query.load(conn)?, page))
}

/// An account's own profile: the seller on its invoices, and how it
/// numbers, rounds and words them.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub legal_name: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub address_postal_code: Option<String>,
    pub address_city: Option<String>,
    pub address_country: Option<String>,
    pub vat_id: Option<String>,
    pub tax_number: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
    pub locale: Locale,
    pub default_currency: Option<String>,
    pub payment_terms_days: i32,
    pub tax_rounding: TaxRounding,
    pub invoice_number_format: String,
    pub credit_note_number_format: String,
    pub number_reset: NumberReset,
    pub require_einvoice: bool,
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Profile {
    /// The postal address, when any part of it is known.
    pub fn address(&self) -> Option<Address> {
        let address = Address {
            line1: self.address_line1.clone(),
            line2: self.address_line2.clone(),
            postal_code: self.address_postal_code.clone(),
            city: self.address_city.clone(),
            country: self.address_country.clone(),
        };
        (address != Address::default()).then_some(address)
    }
}

/// Changes to a profile: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, AsChangeset)]
#[diesel(table_name = accounts)]
pub struct ProfileChanges {
    pub name: Option<String>,
    pub legal_name: Option<Option<String>>,
    pub address_line1: Option<Option<String>>,
    pub address_line2: Option<Option<String>>,
    pub address_postal_code: Option<Option<String>>,
    pub address_city: Option<Option<String>>,
    pub address_country: Option<Option<String>>,
    pub vat_id: Option<Option<String>>,
    pub tax_number: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub iban: Option<Option<String>>,
    pub bic: Option<Option<String>>,
    pub locale: Option<Locale>,
    pub default_currency: Option<Option<String>>,
    pub payment_terms_days: Option<i32>,
    pub tax_rounding: Option<TaxRounding>,
    pub invoice_number_format: Option<String>,
    pub credit_note_number_format: Option<String>,
    pub number_reset: Option<NumberReset>,
    pub require_einvoice: Option<bool>,
    pub timezone: Option<String>,
}

impl ProfileChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Replaces the whole address (a PATCH of `address` sets every part).
    pub fn set_address(&mut self, address: Option<Address>) {
        let address = address.unwrap_or_default();
        self.address_line1 = Some(address.line1);
        self.address_line2 = Some(address.line2);
        self.address_postal_code = Some(address.postal_code);
        self.address_city = Some(address.city);
        self.address_country = Some(address.country);
    }
}

/// The profile of the transaction's account.
pub fn profile(conn: &mut TenantConn<'_>) -> QueryResult<Profile> {
    let account_id = conn.account_id().to_owned();
    accounts::table
        .find(account_id)
        .select(Profile::as_select())
        .first(conn.pg())
}

pub fn update_profile(conn: &mut TenantConn<'_>, changes: &ProfileChanges) -> QueryResult<Profile> {
    if changes.is_empty() {
        return profile(conn);
    }
    let account_id = conn.account_id().to_owned();
    diesel::update(accounts::table.find(account_id))
        .set(changes)
        .returning(Profile::as_returning())
        .get_result(conn.pg())
}

/// Whether PostgreSQL knows the time zone (an IANA name like Europe/Berlin).
pub fn timezone_exists(conn: &mut TenantConn<'_>, name: &str) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Known {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        known: bool,
    }
    let known: Known =
        diesel::sql_query("SELECT EXISTS (SELECT FROM pg_timezone_names WHERE name = $1) AS known")
            .bind::<diesel::sql_types::Text, _>(name)
            .get_result(conn.pg())?;
    Ok(known.known)
}

/// Today, in the account's time zone: the date an invoice is issued on.
pub fn today(conn: &mut TenantConn<'_>, timezone: &str) -> QueryResult<chrono::NaiveDate> {
    #[derive(QueryableByName)]
    struct Today {
        #[diesel(sql_type = diesel::sql_types::Date)]
        today: chrono::NaiveDate,
    }
    let today: Today = diesel::sql_query("SELECT (now() AT TIME ZONE $1)::date AS today")
        .bind::<diesel::sql_types::Text, _>(timezone)
        .get_result(conn.pg())?;
    Ok(today.today)
}
