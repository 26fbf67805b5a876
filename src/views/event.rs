use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::EventType;
use crate::models::event::Event;

/// Something that changed in the account: the audit trail, and what
/// webhooks deliver.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    /// Per account, increasing in commit order.
    pub id: i64,
    #[serde(rename = "type")]
    #[schema(value_type = EventType)]
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    /// The object as the API showed it after the change (before it, for a
    /// deletion).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The X-Request-Id of the request that made the change.
    pub request_id: Option<String>,
    /// The API key that made it; null for the admin API and the importer.
    pub api_key_id: Option<i64>,
}

impl From<Event> for EventView {
    fn from(row: Event) -> Self {
        Self {
            id: row.id,
            event_type: row.event_type,
            created_at: row.created_at,
            data: row.data,
            request_id: row.request_id,
            api_key_id: row.api_key_id,
        }
    }
}
