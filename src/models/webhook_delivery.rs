//! `webhook_deliveries` (one event to one endpoint) and `webhook_attempts`
//! (each time the sender tried).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Interval, Text, Timestamptz};

use super::{Page, PageRequest};
use crate::db::TenantConn;
use crate::domain::{EventId, EventType, RowId, WebhookEndpointId};
use crate::schema::{webhook_attempts, webhook_deliveries};

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = webhook_deliveries, check_for_backend(diesel::pg::Pg))]
pub struct Delivery {
    pub account_id: String,
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: i64,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Queues `event` for every enabled endpoint of the account that
/// subscribes to `event_type` (its types, or `*`), due at once. Runs in the
/// transaction that writes the event: it commits with it or not at all.
pub fn queue(
    conn: &mut TenantConn<'_>,
    event: EventId,
    event_type: EventType,
) -> QueryResult<Vec<Delivery>> {
    let account_id = conn.account_id().to_owned();
    diesel::sql_query(
        "INSERT INTO webhook_deliveries AS queued \
             (account_id, endpoint_id, event_id, status, attempts, next_attempt_at) \
         SELECT account_id, id, $2, 'pending', 0, now() FROM webhook_endpoints \
         WHERE account_id = $1 AND enabled AND (event_types @> ARRAY[$3] OR event_types @> ARRAY['*']) \
         ORDER BY id \
         RETURNING queued.account_id, queued.id, queued.endpoint_id, queued.event_id, queued.status, \
                   queued.attempts, queued.next_attempt_at, queued.created_at",
    )
    .bind::<Text, _>(account_id)
    .bind::<BigInt, _>(event.get())
    .bind::<Text, _>(event_type.as_str())
    .load(conn.pg())
}

/// A due delivery of some account, as the sender finds it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Due {
    #[diesel(sql_type = Text)]
    pub account_id: String,
    #[diesel(sql_type = BigInt)]
    pub delivery_id: i64,
}

/// Up to `limit` due deliveries of enabled endpoints, of any account,
/// oldest due first (the owner's `due_webhook_deliveries`), not locked:
/// [`claim`] decides which of them this sender gets.
pub fn due(conn: &mut PgConnection, now: DateTime<Utc>, limit: i32) -> QueryResult<Vec<Due>> {
    diesel::sql_query("SELECT account_id, delivery_id FROM due_webhook_deliveries($1, $2)")
        .bind::<Timestamptz, _>(now)
        .bind::<Integer, _>(limit)
        .load(conn)
}

/// A delivery the sender has claimed: its `attempt`th try.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claim {
    #[diesel(sql_type = Text)]
    pub account_id: String,
    #[diesel(sql_type = BigInt)]
    pub delivery_id: i64,
    #[diesel(sql_type = Integer)]
    pub attempt: i32,
}

/// Claims, of the deliveries `ids` of the connection's account, at most
/// `limit` that are still due, for `lease`: their due time moves a lease
/// ahead and their attempt is counted. Commit before sending: the claim is
/// what keeps other senders off them.
///
/// `FOR UPDATE SKIP LOCKED` passes over deliveries another sender is
/// claiming at this moment (it takes others instead of waiting), and the
/// due check, made on rows locked here, passes over those another sender
/// claimed and committed meanwhile: each delivery goes to one sender. One
/// account at a time, so that on Citus this is a single-shard statement.
pub fn claim(
    conn: &mut TenantConn<'_>,
    ids: &[i64],
    now: DateTime<Utc>,
    lease: std::time::Duration,
    limit: i32,
) -> QueryResult<Vec<Claim>> {
    let lease = diesel::data_types::PgInterval::from_microseconds(
        i64::try_from(lease.as_micros()).unwrap_or(i64::MAX),
    );
    let account_id = conn.account_id().to_owned();
    diesel::sql_query(
        "UPDATE webhook_deliveries AS claimed \
         SET next_attempt_at = $3 + $4, attempts = claimed.attempts + 1 \
         WHERE claimed.account_id = $1 AND claimed.id IN ( \
             SELECT id FROM webhook_deliveries \
             WHERE account_id = $1 AND id = ANY($2) AND status = 'pending' AND next_attempt_at <= $3 \
             ORDER BY next_attempt_at, id \
             LIMIT $5 \
             FOR UPDATE SKIP LOCKED) \
         RETURNING claimed.account_id, claimed.id AS delivery_id, claimed.attempts AS attempt",
    )
    .bind::<Text, _>(account_id)
    .bind::<diesel::sql_types::Array<BigInt>, _>(ids)
    .bind::<Timestamptz, _>(now)
    .bind::<Interval, _>(lease)
    .bind::<Integer, _>(limit)
    .load(conn.pg())
}

#[derive(QueryableByName)]
struct Depth {
    #[diesel(sql_type = BigInt)]
    depth: i64,
}

/// Deliveries due at `now` over every account.
pub fn queue_depth(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<i64> {
    let row: Depth = diesel::sql_query("SELECT webhook_queue_depth($1) AS depth")
        .bind::<Timestamptz, _>(now)
        .get_result(conn)?;
    Ok(row.depth)
}

pub fn find(conn: &mut TenantConn<'_>, id: i64) -> QueryResult<Option<Delivery>> {
    let account_id = conn.account_id().to_owned();
    webhook_deliveries::table
        .find((account_id, id))
        .select(Delivery::as_select())
        .first(conn.pg())
        .optional()
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Delivered,
    RetryAt(DateTime<Utc>),
    Failed,
}

/// One attempt as the log keeps it.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
}

/// Logs attempt `attempt` of `delivery` and moves the delivery on, unless a
/// later claim owns it now (its lease ran out while this attempt was under
/// way and another sender took it): then only the log records this one.
pub fn record_attempt(
    conn: &mut TenantConn<'_>,
    delivery: &Delivery,
    attempt: i32,
    record: &AttemptRecord,
    next: Next,
) -> QueryResult<bool> {
    let account_id = conn.account_id().to_owned();
    diesel::insert_into(webhook_attempts::table)
        .values((
            webhook_attempts::account_id.eq(&account_id),
            webhook_attempts::delivery_id.eq(delivery.id),
            webhook_attempts::endpoint_id.eq(delivery.endpoint_id),
            webhook_attempts::event_id.eq(delivery.event_id),
            webhook_attempts::attempt.eq(attempt),
            webhook_attempts::attempted_at.eq(record.attempted_at),
            webhook_attempts::status_code.eq(record.status_code),
            webhook_attempts::latency_ms.eq(record.latency_ms),
            webhook_attempts::error.eq(record.error.as_deref()),
        ))
        .execute(conn.pg())?;
    let (status, next_attempt_at) = match next {
        Next::Delivered => ("delivered", None),
        Next::RetryAt(at) => ("pending", Some(at)),
        Next::Failed => ("failed", None),
    };
    let moved = diesel::update(
        webhook_deliveries::table
            .find((&account_id, delivery.id))
            .filter(webhook_deliveries::attempts.eq(attempt))
            .filter(webhook_deliveries::status.eq("pending")),
    )
    .set((
        webhook_deliveries::status.eq(status),
        webhook_deliveries::next_attempt_at.eq(next_attempt_at),
    ))
    .execute(conn.pg())?;
    Ok(moved > 0)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_attempts, check_for_backend(diesel::pg::Pg))]
pub struct Attempt {
    pub id: i64,
    pub delivery_id: i64,
    pub endpoint_id: i64,
    pub event_id: i64,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
}

/// An endpoint's attempts, oldest first.
pub fn attempts_of_endpoint(
    conn: &mut TenantConn<'_>,
    endpoint: WebhookEndpointId,
    page: &PageRequest,
) -> QueryResult<Page<Attempt>> {
    let account_id = conn.account_id().to_owned();
    let rows = webhook_attempts::table
        .filter(webhook_attempts::account_id.eq(account_id))
        .filter(webhook_attempts::endpoint_id.eq(endpoint.get()))
        .filter(webhook_attempts::id.gt(page.after.unwrap_or(0)))
        .order(webhook_attempts::id)
        .limit(page.fetch_limit())
        .select(Attempt::as_select())
        .load(conn.pg())?;
    Ok(Page::from_rows(rows, page))
}
