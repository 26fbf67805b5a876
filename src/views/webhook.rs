use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::models::webhook_delivery::{Attempt, Delivery};
use crate::models::webhook_endpoint::WebhookEndpoint;

/// Where the account's events are sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookEndpointView {
    pub id: i64,
    pub url: String,
    /// The event types it receives; `["*"]` for all.
    pub events: Vec<String>,
    pub description: Option<String>,
    /// A disabled endpoint is sent nothing; what was queued for it waits.
    pub enabled: bool,
    /// The signing secret: only in the answer to its creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpointView {
    /// With the secret: the one time it is shown.
    pub fn with_secret(row: WebhookEndpoint) -> Self {
        let secret = row.secret.clone();
        Self {
            secret: Some(secret),
            ..Self::from(row)
        }
    }
}

impl From<WebhookEndpoint> for WebhookEndpointView {
    fn from(row: WebhookEndpoint) -> Self {
        Self {
            events: row.event_names(),
            id: row.id,
            url: row.url,
            description: row.description,
            enabled: row.enabled,
            secret: None,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// One event queued for one endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: i64,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryView {
    fn from(row: Delivery) -> Self {
        Self {
            id: row.id,
            endpoint_id: row.endpoint_id,
            event_id: row.event_id,
            status: row.status,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            created_at: row.created_at,
        }
    }
}

/// One attempt to send a delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryAttemptView {
    pub id: i64,
    pub delivery_id: i64,
    pub event_id: i64,
    /// 1 for the first try, 2 for the first retry, …
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status; null when it gave none.
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    /// Why it did not count as delivered; null when it did.
    pub error: Option<String>,
}

impl From<Attempt> for DeliveryAttemptView {
    fn from(row: Attempt) -> Self {
        Self {
            id: row.id,
            delivery_id: row.delivery_id,
            event_id: row.event_id,
            attempt: row.attempt,
            attempted_at: row.attempted_at,
            status_code: row.status_code,
            latency_ms: row.latency_ms,
            error: row.error,
        }
    }
}
