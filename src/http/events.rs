//! /v1/events: the account's audit trail, and redelivery of one event to
//! its webhook endpoints. Events are never changed or deleted through the
//! API (PATCH and DELETE answer 405).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, Problem};
use super::extract::QueryParams;
use super::pagination::{List, page_request};
use super::tenant::Tenant;
use crate::domain::{EventId, EventType};
use crate::models::event;
use crate::views::{DeliveryView, EventView};
use crate::webhooks;

pub fn routes(config: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    config
        .service(list_events)
        .service(get_event)
        .service(redeliver_event);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEventsQuery {
    /// Only events of this type, e.g. `invoice.paid`.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<EventType>)]
    pub event_type: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Return events with an id greater than this (the previous page's `next_after`).
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// List the account's events
#[utoipa::path(
    tag = "events",
    params(ListEventsQuery),
    responses(
        (status = 200, description = "A page of events, oldest first", body = List<EventView>),
        (status = 400, description = "Malformed query, or an unknown type", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/events")]
pub async fn list_events(
    tenant: Tenant,
    state: web::Data<AppState>,
    query: QueryParams<ListEventsQuery>,
) -> Result<web::Json<List<EventView>>, ApiError> {
    let query = query.0;
    let page = tenant
        .transaction(&state.db, move |conn| {
            let page = page_request(query.limit, query.after)?;
            let only = query
                .event_type
                .map(|name| {
                    EventType::parse(&name).ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "Query parameter type {name:?} is not an event type"
                        ))
                    })
                })
                .transpose()?;
            Ok(event::list(conn, only, &page)?)
        })
        .await?;
    Ok(web::Json(List::from_page(page, |e| e.id, EventView::from)))
}

/// Get an event
#[utoipa::path(
    tag = "events",
    params(("event_id" = i64, Path, minimum = 1, description = "The event's id")),
    responses(
        (status = 200, description = "The event", body = EventView),
        (status = 404, description = "No such event in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/events/{event_id}")]
pub async fn get_event(
    tenant: Tenant,
    id: EventId,
    state: web::Data<AppState>,
) -> Result<web::Json<EventView>, ApiError> {
    let found = tenant
        .transaction(&state.db, move |conn| Ok(event::find(conn, id)?))
        .await?
        .ok_or_else(|| ApiError::not_found("event", id))?;
    Ok(web::Json(found.into()))
}

/// The deliveries a redelivery queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct Redelivery {
    pub deliveries: Vec<DeliveryView>,
}

/// Queue an event again for its webhook endpoints
#[utoipa::path(
    tag = "events",
    params(("event_id" = i64, Path, minimum = 1, description = "The event's id")),
    responses(
        (status = 202, description = "Queued for every enabled endpoint that subscribes to its type, with the same webhook-id", body = Redelivery),
        (status = 404, description = "No such event in this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No enabled endpoint subscribes to its type", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/events/{event_id}/redeliver")]
pub async fn redeliver_event(
    tenant: Tenant,
    id: EventId,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let deliveries = tenant
        .transaction(&state.db, move |conn| Ok(webhooks::redeliver(conn, id)?))
        .await?;
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(Redelivery {
        deliveries: deliveries.into_iter().map(DeliveryView::from).collect(),
    }))
}
