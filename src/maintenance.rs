//! Housekeeping every `serve` instance does now and then: forgetting what
//! no longer needs to be kept. Safe to run on many instances at once (each
//! pass deletes what is expired; two passes at once delete it once).

use diesel::PgConnection;
use diesel::QueryResult;

use crate::models::{event, idempotency_key};

/// How often `serve` runs a pass.
pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

/// Rows deleted per statement, so that no pass holds many locks for long.
const BATCH: i32 = 10_000;

/// What one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub idempotency_keys: i64,
    pub events: i64,
}

/// One pass: expired Idempotency-Keys, and events (with their deliveries)
/// older than `event_retention_days`, of every account.
pub fn run_once(conn: &mut PgConnection, event_retention_days: u32) -> QueryResult<Pruned> {
    let mut pruned = Pruned::default();
    loop {
        let removed = event::prune_expired(conn, event_retention_days, BATCH)?;
        pruned.events += removed;
        if removed < i64::from(BATCH) {
            break;
        }
    }
    loop {
        let removed = idempotency_key::prune_expired(conn, BATCH)?;
        pruned.idempotency_keys += removed;
        if removed < i64::from(BATCH) {
            break;
        }
    }
    Ok(pruned)
}
