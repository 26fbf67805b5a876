//! Events: every change a client or an accountant may need to know of,
//! written in the transaction that makes the change (the transactional
//! outbox; see the events migration for why that makes "a committed change
//! has exactly one event, a rolled-back one none" hold), with who made it
//! and in which request, and queued at once for the webhook endpoints that
//! subscribe to it.
//!
//! The callers are the routes that change something: each records the
//! object as the API shows it after the change (before it, for a
//! deletion), so an event's `data` is what a GET would have answered.

use serde::Serialize;

use crate::db::TenantConn;
use crate::domain::{EventId, EventType};
use crate::models::event::{self, Event};
use crate::models::webhook_delivery;

/// Records `event_type` with `data` for the connection's account and actor,
/// and queues it for every endpoint that subscribes to it.
pub fn record(
    conn: &mut TenantConn<'_>,
    event_type: EventType,
    data: &impl Serialize,
) -> diesel::QueryResult<Event> {
    let data = serde_json::to_value(data)
        .map_err(|error| diesel::result::Error::SerializationError(Box::new(error)))?;
    let event = event::insert(conn, event_type, &data)?;
    webhook_delivery::queue(conn, EventId::from_db(event.id), event_type)?;
    conn.count_event();
    Ok(event)
}

/// Days events are kept when EVENT_RETENTION_DAYS is not set.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
