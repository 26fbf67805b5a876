//! `idempotency_keys`: first responses to POSTs that carried an
//! Idempotency-Key, kept 24 hours.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::fragments::RetentionStart;
use crate::db::TenantConn;
use crate::schema::idempotency_keys;

/// How long a key is remembered.
macro_rules! retention {
    () => {
        "24 hours"
    };
}
pub const RETENTION: &str = retention!();
pub(super) const RETENTION_SQL: &str = concat!("now() - interval '", retention!(), "'");

/// A response stored under a key.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys, check_for_backend(diesel::pg::Pg))]
pub struct StoredResponse {
    pub request_hash: Vec<u8>,
    pub response_status: i16,
    pub response_body: Vec<u8>,
}

#[derive(Insertable)]
#[diesel(table_name = idempotency_keys)]
struct NewStoredResponse<'a> {
    account_id: &'a str,
    key: &'a str,
    request_hash: &'a [u8],
    response_status: i16,
    response_body: &'a [u8],
}

/// Claims `key` for this transaction. `false` when another transaction
/// holds it: the first request with that key is still running.
pub fn try_claim(conn: &mut TenantConn<'_>, key: &str) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Claimed {
        #[diesel(sql_type = Bool)]
        claimed: bool,
    }
    let account_id = conn.account_id().to_owned();
    let claimed: Claimed = diesel::sql_query(
        "SELECT pg_try_advisory_xact_lock(hashtextextended($1 || '/' || $2, $3)) AS claimed",
    )
    .bind::<Text, _>(account_id)
    .bind::<Text, _>(key)
    // A seed of our own, so these locks do not collide with other users of
    // hashtextextended-based advisory locks.
    .bind::<BigInt, _>(0x6964_656d_706f_7465_i64)
    .get_result(conn.pg())?;
    Ok(claimed.claimed)
}

/// The response stored under `key` within the retention period.
pub fn find(conn: &mut TenantConn<'_>, key: &str) -> QueryResult<Option<StoredResponse>> {
    let account_id = conn.account_id().to_owned();
    idempotency_keys::table
        .find((account_id, key))
        .filter(idempotency_keys::created_at.gt(RetentionStart))
        .select(StoredResponse::as_select())
        .first(conn.pg())
        .optional()
}

/// Stores the response under `key` (replacing an expired one, which
/// [`find`] no longer sees).
pub fn store(
    conn: &mut TenantConn<'_>,
    key: &str,
    request_hash: &[u8],
    status: u16,
    body: &[u8],
) -> QueryResult<()> {
    let account_id = conn.account_id().to_owned();
    let row = NewStoredResponse {
        account_id: &account_id,
        key,
        request_hash,
        response_status: i16::try_from(status).unwrap_or(500),
        response_body: body,
    };
    diesel::insert_into(idempotency_keys::table)
        .values(&row)
        .on_conflict((idempotency_keys::account_id, idempotency_keys::key))
        .do_update()
        // Only the response: the app may not rewrite a key's identity.
        .set((
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::response_status.eq(row.response_status),
            idempotency_keys::response_body.eq(body),
            // The proposed row's, which its BEFORE INSERT trigger set to
            // now(): Citus refuses a function in DO UPDATE SET.
            idempotency_keys::created_at.eq(diesel::upsert::excluded(idempotency_keys::created_at)),
        ))
        .execute(conn.pg())?;
    Ok(())
}

/// Forgets expired keys of every account, oldest first, at most `batch` of
/// them (the owner's `prune_expired_idempotency_keys`, which the app role
/// may call: row-level security would confine a DELETE to one account).
pub fn prune_expired(conn: &mut PgConnection, batch: i32) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Pruned {
        #[diesel(sql_type = BigInt)]
        pruned: i64,
    }
    let pruned: Pruned = diesel::sql_query("SELECT prune_expired_idempotency_keys($1) AS pruned")
        .bind::<diesel::sql_types::Integer, _>(batch)
        .get_result(conn)?;
    Ok(pruned.pruned)
}
