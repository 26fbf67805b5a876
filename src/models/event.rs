//! `events`: the account's audit trail and the webhooks' outbox.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{Page, PageRequest};
use crate::db::TenantConn;
use crate::domain::{EventId, EventType, RowId};
use crate::schema::events;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events, check_for_backend(diesel::pg::Pg))]
pub struct Event {
    pub account_id: String,
    pub id: i64,
    #[diesel(column_name = type_)]
    pub event_type: String,
    pub data: serde_json::Value,
    pub request_id: Option<String>,
    pub api_key_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
struct NewEvent<'a> {
    account_id: &'a str,
    #[diesel(column_name = type_)]
    event_type: &'a str,
    data: &'a serde_json::Value,
    request_id: Option<&'a str>,
    api_key_id: Option<i64>,
}

/// Writes an event of the connection's account and actor.
pub fn insert(
    conn: &mut TenantConn<'_>,
    event_type: EventType,
    data: &serde_json::Value,
) -> QueryResult<Event> {
    let account_id = conn.account_id().to_owned();
    let actor = conn.actor().clone();
    diesel::insert_into(events::table)
        .values(NewEvent {
            account_id: &account_id,
            event_type: event_type.as_str(),
            data,
            request_id: actor.request_id.as_deref(),
            api_key_id: actor.api_key_id,
        })
        .returning(Event::as_returning())
        .get_result(conn.pg())
}

pub fn find(conn: &mut TenantConn<'_>, id: EventId) -> QueryResult<Option<Event>> {
    let account_id = conn.account_id().to_owned();
    events::table
        .find((account_id, id.get()))
        .select(Event::as_select())
        .first(conn.pg())
        .optional()
}

pub fn list(
    conn: &mut TenantConn<'_>,
    only: Option<EventType>,
    page: &PageRequest,
) -> QueryResult<Page<Event>> {
    let account_id = conn.account_id().to_owned();
    let mut query = events::table
        .filter(events::account_id.eq(account_id))
        .filter(events::id.gt(page.after.unwrap_or(0)))
        .order(events::id)
        .limit(page.fetch_limit())
        .select(Event::as_select())
        .into_boxed();
    if let Some(kind) = only {
        query = query.filter(events::type_.eq(kind.as_str()));
    }
    Ok(Page::from_rows(query.load(conn.pg())?, page))
}

#[derive(QueryableByName)]
struct Pruned {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pruned: i64,
}

/// Deletes up to `batch` events older than `retention_days`, of every
/// account (the owner's `prune_expired_events`: the app role may not delete
/// events). Returns how many went.
pub fn prune_expired(conn: &mut PgConnection, retention_days: u32, batch: i32) -> QueryResult<i64> {
    let pruned: Pruned =
        diesel::sql_query("SELECT prune_expired_events(make_interval(days => $1), $2) AS pruned")
            .bind::<diesel::sql_types::Integer, _>(
                i32::try_from(retention_days).unwrap_or(i32::MAX),
            )
            .bind::<diesel::sql_types::Integer, _>(batch)
            .get_result(conn)?;
    Ok(pruned.pruned)
}
