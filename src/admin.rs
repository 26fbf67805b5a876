//! Administration: accounts and their API keys. Shared by the /admin API
//! and the `accounts` / `api-keys` commands; runs as the owner role, since
//! it spans accounts.

use diesel::prelude::*;

use crate::db::in_tenant_transaction;
use crate::domain::{AccountId, ApiKeyId, Name};
use crate::models::account::{self, Account};
use crate::models::api_key::{self, ApiKey, IssuedKey};
use crate::models::{Page, PageRequest};

/// The name of the key every new account starts with.
pub const FIRST_KEY_NAME: &str = "default";

/// Creates the account and its first API key, together or not at all;
/// `None` when the id is taken.
pub fn create_account(
    conn: &mut PgConnection,
    id: &AccountId,
    name: &Name,
) -> QueryResult<Option<(Account, IssuedKey)>> {
    conn.transaction(|conn| {
        let Some(created) = account::create(conn, id, name)? else {
            return Ok(None);
        };
        let first_key = Name::parse(FIRST_KEY_NAME).expect("the default key name is valid");
        let key = in_tenant_transaction(conn, id, |conn| api_key::create(conn, &first_key))?;
        Ok(Some((created, key)))
    })
}

pub fn list_accounts(
    conn: &mut PgConnection,
    page: &PageRequest<AccountId>,
) -> QueryResult<Page<Account>> {
    account::list(conn, page)
}

/// A new key for the account; `None` when there is no such account.
pub fn create_key(
    conn: &mut PgConnection,
    account: &AccountId,
    name: &Name,
) -> QueryResult<Option<IssuedKey>> {
    if account::find(conn, account)?.is_none() {
        return Ok(None);
    }
    in_tenant_transaction(conn, account, |conn| api_key::create(conn, name)).map(Some)
}

/// The account's keys; `None` when there is no such account.
pub fn list_keys(
    conn: &mut PgConnection,
    account: &AccountId,
    page: &PageRequest,
) -> QueryResult<Option<Page<ApiKey>>> {
    if account::find(conn, account)?.is_none() {
        return Ok(None);
    }
    in_tenant_transaction(conn, account, |conn| api_key::list(conn, page)).map(Some)
}

/// Revokes the key; `None` when the account has no such key.
pub fn revoke_key(
    conn: &mut PgConnection,
    account: &AccountId,
    key: ApiKeyId,
) -> QueryResult<Option<ApiKey>> {
    in_tenant_transaction(conn, account, |conn| api_key::revoke(conn, key))
}
