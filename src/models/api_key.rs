//! `api_keys`: how a tenant proves who it is.
//!
//! A key is `inv_` followed by 48 hex digits (192 random bits). Only its
//! SHA-256 is stored: a fast hash suffices because the key is
//! high-entropy (nothing to brute-force), and it keeps authentication cheap
//! on every request. The first 12 characters (`inv_` + 8 hex) are stored as
//! `prefix`: not secret, they let a person tell keys apart and let
//! authentication find the candidate row by index; the hash is then
//! compared in constant time.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::fragments::KeyUseIsStale;
use crate::db::TenantConn;
use crate::domain::{ApiKeyId, Name, RowId};
use crate::schema::api_keys;

const KEY_PREFIX: &str = "inv_";
const RANDOM_BYTES: usize = 24;
const PREFIX_LEN: usize = KEY_PREFIX.len() + 8;

/// How stale `last_used_at` may get before a request refreshes it: writing
/// it on every request would serialise an account's requests on its key row.
macro_rules! last_used_resolution {
    () => {
        "1 minute"
    };
}
const LAST_USED_RESOLUTION: &str = last_used_resolution!();
pub(super) const LAST_USED_RESOLUTION_SQL: &str = concat!(
    "coalesce(last_used_at < now() - interval '",
    last_used_resolution!(),
    "', true)"
);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub struct ApiKey {
    pub account_id: String,
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key just created: the only moment its secret exists outside the client.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub record: ApiKey,
    pub secret: String,
}

#[derive(Insertable)]
#[diesel(table_name = api_keys)]
struct NewApiKey<'a> {
    account_id: &'a str,
    name: &'a str,
    prefix: &'a str,
    key_hash: &'a [u8],
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn generate_secret() -> String {
    let mut bytes = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    let mut secret = String::with_capacity(KEY_PREFIX.len() + 2 * RANDOM_BYTES);
    secret.push_str(KEY_PREFIX);
    for byte in bytes {
        secret.push_str(&format!("{byte:02x}"));
    }
    secret
}

/// Whether `presented` has the shape of one of our keys.
pub fn well_formed(presented: &str) -> bool {
    presented.len() == KEY_PREFIX.len() + 2 * RANDOM_BYTES
        && presented.starts_with(KEY_PREFIX)
        && presented[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Creates a key for the connection's account.
pub fn create(conn: &mut TenantConn<'_>, name: &Name) -> QueryResult<IssuedKey> {
    let secret = generate_secret();
    let account_id = conn.account_id().to_owned();
    let record = diesel::insert_into(api_keys::table)
        .values(NewApiKey {
            account_id: &account_id,
            name: name.as_str(),
            prefix: &secret[..PREFIX_LEN],
            key_hash: &hash(&secret),
        })
        .returning(ApiKey::as_returning())
        .get_result(conn.pg())?;
    Ok(IssuedKey { record, secret })
}

/// The id of the live key of the connection's account that `presented` is,
/// if any. Refreshes `last_used_at` when it is older than a minute (one
/// extra statement, at most once a minute per key).
pub fn authenticate(conn: &mut TenantConn<'_>, presented: &str) -> QueryResult<Option<ApiKeyId>> {
    if !well_formed(presented) {
        return Ok(None);
    }
    let account_id = conn.account_id().to_owned();
    let candidates: Vec<(i64, Vec<u8>, bool)> = api_keys::table
        .filter(api_keys::account_id.eq(&account_id))
        .filter(api_keys::prefix.eq(&presented[..PREFIX_LEN]))
        .filter(api_keys::revoked_at.is_null())
        .select((api_keys::id, api_keys::key_hash, KeyUseIsStale))
        .load(conn.pg())?;
    let presented_hash = hash(presented);
    let Some((id, _, stale)) = candidates
        .into_iter()
        .find(|(_, stored, _)| bool::from(stored.as_slice().ct_eq(&presented_hash)))
    else {
        return Ok(None);
    };
    if stale {
        diesel::sql_query(format!(
            "UPDATE api_keys SET last_used_at = now()
             WHERE account_id = $1 AND id = $2
               AND (last_used_at IS NULL OR last_used_at < now() - interval '{LAST_USED_RESOLUTION}')"
        ))
        .bind::<diesel::sql_types::Text, _>(&account_id)
        .bind::<diesel::sql_types::BigInt, _>(id)
        .execute(conn.pg())?;
    }
    Ok(Some(ApiKeyId::from_db(id)))
}

/// The account's keys in id order (never their secrets or hashes).
pub fn list(
    conn: &mut TenantConn<'_>,
    page: &super::PageRequest,
) -> QueryResult<super::Page<ApiKey>> {
    let account_id = conn.account_id().to_owned();
    let rows = api_keys::table
        .filter(api_keys::account_id.eq(&account_id))
        .filter(api_keys::id.gt(page.after.unwrap_or(0)))
        .order(api_keys::id)
        .limit(page.fetch_limit())
        .select(ApiKey::as_select())
        .load(conn.pg())?;
    Ok(super::Page::from_rows(rows, page))
}

/// Revokes the key (at once: the next request with it is refused). `None`
/// when the account has no such key; revoking twice keeps the first time.
pub fn revoke(conn: &mut TenantConn<'_>, id: ApiKeyId) -> QueryResult<Option<ApiKey>> {
    let account_id = conn.account_id().to_owned();
    diesel::update(api_keys::table.find((&account_id, id.get())))
        .filter(api_keys::revoked_at.is_null())
        .set(api_keys::revoked_at.eq(diesel::dsl::now))
        .execute(conn.pg())?;
    api_keys::table
        .find((&account_id, id.get()))
        .select(ApiKey::as_select())
        .first(conn.pg())
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let (a, b) = (generate_secret(), generate_secret());
        assert!(well_formed(&a) && well_formed(&b));
        assert_ne!(a, b);
        assert_eq!(a.len(), 52);
    }

    #[test]
    fn malformed_keys_are_recognised_without_a_query() {
        let key = generate_secret();
        for bad in [
            &key[..51],
            &format!("{key}0"),
            &key.to_uppercase(),
            &key.replacen("inv_", "xyz_", 1),
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}
