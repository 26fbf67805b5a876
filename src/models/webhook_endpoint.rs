//! `webhook_endpoints`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::TenantConn;
use crate::domain::{RowId, WebhookEndpointId};
use crate::schema::webhook_endpoints;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints, check_for_backend(diesel::pg::Pg))]
pub struct WebhookEndpoint {
    pub account_id: String,
    pub id: i64,
    pub url: String,
    pub event_types: Vec<Option<String>>,
    pub description: Option<String>,
    pub enabled: bool,
    pub secret: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    /// The subscribed type names (`"*"` for all); the column has no NULLs.
    pub fn event_names(&self) -> Vec<String> {
        self.event_types.iter().flatten().cloned().collect()
    }
}

/// A new endpoint's fields, already validated.
#[derive(Debug, Clone)]
pub struct EndpointFields {
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub secret: String,
}

/// A partial update: `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, AsChangeset)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

#[derive(Insertable)]
#[diesel(table_name = webhook_endpoints, treat_none_as_default_value = false)]
struct NewEndpoint<'a> {
    account_id: &'a str,
    url: &'a str,
    event_types: &'a [String],
    description: Option<&'a str>,
    enabled: bool,
    secret: &'a str,
}

pub fn create(conn: &mut TenantConn<'_>, fields: &EndpointFields) -> QueryResult<WebhookEndpoint> {
    let account_id = conn.account_id().to_owned();
    diesel::insert_into(webhook_endpoints::table)
        .values(NewEndpoint {
            account_id: &account_id,
            url: &fields.url,
            event_types: &fields.event_types,
            description: fields.description.as_deref(),
            enabled: true,
            secret: &fields.secret,
        })
        .returning(WebhookEndpoint::as_returning())
        .get_result(conn.pg())
}

/// How many endpoints the account has.
pub fn count(conn: &mut TenantConn<'_>) -> QueryResult<i64> {
    let account_id = conn.account_id().to_owned();
    webhook_endpoints::table
        .filter(webhook_endpoints::account_id.eq(account_id))
        .count()
        .get_result(conn.pg())
}

pub fn find(
    conn: &mut TenantConn<'_>,
    id: WebhookEndpointId,
) -> QueryResult<Option<WebhookEndpoint>> {
    let account_id = conn.account_id().to_owned();
    webhook_endpoints::table
        .find((account_id, id.get()))
        .select(WebhookEndpoint::as_select())
        .first(conn.pg())
        .optional()
}

/// Every endpoint of the account (at most MAX_ENDPOINTS), in id order.
pub fn list(conn: &mut TenantConn<'_>) -> QueryResult<Vec<WebhookEndpoint>> {
    let account_id = conn.account_id().to_owned();
    webhook_endpoints::table
        .filter(webhook_endpoints::account_id.eq(account_id))
        .order(webhook_endpoints::id)
        .select(WebhookEndpoint::as_select())
        .load(conn.pg())
}

/// Applies `changes`; `None` when the account has no such endpoint.
pub fn update(
    conn: &mut TenantConn<'_>,
    id: WebhookEndpointId,
    changes: &EndpointChanges,
) -> QueryResult<Option<WebhookEndpoint>> {
    if *changes == EndpointChanges::default() {
        return find(conn, id);
    }
    let account_id = conn.account_id().to_owned();
    diesel::update(webhook_endpoints::table.find((account_id, id.get())))
        .set((changes, webhook_endpoints::updated_at.eq(diesel::dsl::now)))
        .returning(WebhookEndpoint::as_returning())
        .get_result(conn.pg())
        .optional()
}

/// Deletes the endpoint with its deliveries and their log; whether it was there.
pub fn delete(conn: &mut TenantConn<'_>, id: WebhookEndpointId) -> QueryResult<bool> {
    let account_id = conn.account_id().to_owned();
    let deleted =
        diesel::delete(webhook_endpoints::table.find((account_id, id.get()))).execute(conn.pg())?;
    Ok(deleted > 0)
}
