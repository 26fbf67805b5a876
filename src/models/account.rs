//! `accounts`: the tenant registry. Administration only (the owner role).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{Page, PageRequest};
use crate::domain::{AccountId, Name};
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
