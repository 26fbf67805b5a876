//! Webhooks: endpoints an account registers, and the sender that delivers
//! its events to them, signed as Standard Webhooks 1.0 prescribes.

pub mod client;
pub mod destination;
pub mod sender;
pub mod signing;

use crate::db::TenantConn;
use crate::domain::{EventId, EventType, WebhookEndpointId};
use crate::models::event;
use crate::models::webhook_delivery::{self, Delivery};
use crate::models::webhook_endpoint::{self, EndpointChanges, EndpointFields, WebhookEndpoint};

/// Endpoints one account may have (SPEC §11).
pub const MAX_ENDPOINTS: i64 = 16;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("an account has at most {MAX_ENDPOINTS} webhook endpoints; delete one first")]
    TooManyEndpoints,
    #[error("no webhook endpoint {0} in this account")]
    EndpointNotFound(WebhookEndpointId),
    #[error("no event {0} in this account")]
    EventNotFound(EventId),
    #[error("no enabled webhook endpoint subscribes to event {id} ({event_type})")]
    NoSubscriber { id: EventId, event_type: String },
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
}

pub type Result<T> = std::result::Result<T, WebhookError>;

/// Creates an endpoint, at most MAX_ENDPOINTS per account.
///
/// The limit holds under concurrent creations because the insert takes the
/// account's next endpoint id, which row-locks its id counter until commit:
/// a second creation waits at its insert until the first has committed (or
/// rolled back), and its count, a new snapshot taken after that wait, then
/// sees the first one's endpoint.
pub fn create_endpoint(
    conn: &mut TenantConn<'_>,
    fields: &EndpointFields,
) -> Result<WebhookEndpoint> {
    let endpoint = webhook_endpoint::create(conn, fields)?;
    if webhook_endpoint::count(conn)? > MAX_ENDPOINTS {
        return Err(WebhookError::TooManyEndpoints);
    }
    Ok(endpoint)
}

pub fn update_endpoint(
    conn: &mut TenantConn<'_>,
    id: WebhookEndpointId,
    changes: &EndpointChanges,
) -> Result<WebhookEndpoint> {
    webhook_endpoint::update(conn, id, changes)?.ok_or(WebhookError::EndpointNotFound(id))
}

/// Queues `event` again for every enabled endpoint that subscribes to its
/// type, due at once; its `webhook-id` stays the same, so a receiver that
/// has it already can tell.
pub fn redeliver(conn: &mut TenantConn<'_>, id: EventId) -> Result<Vec<Delivery>> {
    let found = event::find(conn, id)?.ok_or(WebhookError::EventNotFound(id))?;
    let event_type = EventType::parse(&found.event_type).ok_or_else(|| {
        WebhookError::Database(diesel::result::Error::DeserializationError(
            format!("unknown event type {:?}", found.event_type).into(),
        ))
    })?;
    let deliveries = webhook_delivery::queue(conn, EventId::from_db(found.id), event_type)?;
    if deliveries.is_empty() {
        return Err(WebhookError::NoSubscriber {
            id,
            event_type: found.event_type,
        });
    }
    Ok(deliveries)
}

/// The endpoint, or EndpointNotFound.
pub fn endpoint(conn: &mut TenantConn<'_>, id: WebhookEndpointId) -> Result<WebhookEndpoint> {
    webhook_endpoint::find(conn, id)?.ok_or(WebhookError::EndpointNotFound(id))
}
