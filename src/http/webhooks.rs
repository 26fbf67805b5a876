//! /v1/webhook_endpoints: where the account's events are sent, and the log
//! of what was sent.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, Problem};
use super::extract::{JsonBody, QueryParams, present};
use super::idempotency::IdempotentPost;
use super::pagination::{List, page_request};
use super::tenant::Tenant;
use crate::domain::{EventSelection, OptionalText, Validation, WebhookEndpointId};
use crate::models::webhook_delivery;
use crate::models::webhook_endpoint::{self, EndpointChanges, EndpointFields};
use crate::views::{DeliveryAttemptView, WebhookEndpointView};
use crate::webhooks::{self, destination::Policy, signing};

pub fn routes(config: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    config
        .service(list_endpoints)
        .service(create_endpoint)
        .service(get_endpoint)
        .service(update_endpoint)
        .service(delete_endpoint)
        .service(list_deliveries);
}

/// A new webhook endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointCreate {
    /// An https URL whose host resolves to public addresses.
    #[schema(max_length = 2000)]
    pub url: String,
    /// Event types to receive, or `["*"]` for all.
    #[schema(value_type = Vec<String>, min_items = 1, max_items = 20)]
    pub events: Vec<String>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
}

/// Changes to an endpoint: only the fields given change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointPatch {
    #[schema(max_length = 2000)]
    pub url: Option<String>,
    #[schema(value_type = Option<Vec<String>>, min_items = 1, max_items = 20)]
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub description: Option<Option<String>>,
}

fn parse_events(names: &[String]) -> Result<Vec<String>, String> {
    EventSelection::parse(names).map(|selection| selection.to_names())
}

fn parse_description(value: Option<&str>) -> Result<Option<String>, String> {
    OptionalText::<1000>::parse(value).map(OptionalText::into_inner)
}

/// Checks `url` against the destination policy, resolving its host off the
/// async workers and before any transaction: a slow DNS answer holds no
/// connection.
async fn check_url(policy: &Policy, url: String) -> Result<String, ApiError> {
    let policy = policy.clone();
    web::block(move || policy.check(&url).map(|_| url))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|refusal| ApiError::invalid("url", refusal.reason()))
}

fn not_found(id: WebhookEndpointId) -> ApiError {
    ApiError::not_found("webhook endpoint", id)
}

/// List the account's webhook endpoints
#[utoipa::path(
    tag = "webhooks",
    responses((status = 200, description = "Every endpoint (at most 16), in id order; secrets are not shown", body = List<WebhookEndpointView>))
)]
#[get("/v1/webhook_endpoints")]
pub async fn list_endpoints(
    tenant: Tenant,
    state: web::Data<AppState>,
) -> Result<web::Json<List<WebhookEndpointView>>, ApiError> {
    let endpoints = tenant
        .transaction(&state.db, move |conn| Ok(webhook_endpoint::list(conn)?))
        .await?;
    Ok(web::Json(List {
        data: endpoints.into_iter().map(Into::into).collect(),
        has_more: false,
        next_after: None,
    }))
}

/// Create a webhook endpoint
#[utoipa::path(
    tag = "webhooks",
    request_body = WebhookEndpointCreate,
    responses(
        (status = 201, description = "Created, with its signing secret (shown only now)", body = WebhookEndpointView),
        (status = 409, description = "The account has 16 endpoints already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or a destination that is not https or not public", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/webhook_endpoints")]
pub async fn create_endpoint(
    tenant: Tenant,
    state: web::Data<AppState>,
    post: IdempotentPost,
    body: JsonBody<WebhookEndpointCreate>,
) -> Result<HttpResponse, ApiError> {
    let JsonBody { value, raw } = body;
    let url = check_url(&state.webhook_policy, value.url.clone()).await?;
    post.respond(
        &tenant,
        &state.db,
        &raw,
        StatusCode::CREATED,
        move || {
            let mut v = Validation::new();
            let events = v.check("events", parse_events(&value.events));
            let description = v.check(
                "description",
                parse_description(value.description.as_deref()),
            );
            let secret = signing::new_secret().map_err(|e| ApiError::internal(e.to_string()))?;
            match (events, description, v.is_ok()) {
                (Some(event_types), Some(description), true) => Ok(EndpointFields {
                    url,
                    event_types,
                    description,
                    secret,
                }),
                _ => Err(v.into_errors().into()),
            }
        },
        |conn, fields| {
            Ok(WebhookEndpointView::with_secret(webhooks::create_endpoint(
                conn, &fields,
            )?))
        },
    )
    .await
}

/// Get a webhook endpoint
#[utoipa::path(
    tag = "webhooks",
    params(("endpoint_id" = i64, Path, minimum = 1, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint (without its secret)", body = WebhookEndpointView),
        (status = 404, description = "No such endpoint in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/webhook_endpoints/{endpoint_id}")]
pub async fn get_endpoint(
    tenant: Tenant,
    id: WebhookEndpointId,
    state: web::Data<AppState>,
) -> Result<web::Json<WebhookEndpointView>, ApiError> {
    let found = tenant
        .transaction(&state.db, move |conn| Ok(webhooks::endpoint(conn, id)?))
        .await?;
    Ok(web::Json(found.into()))
}

/// Change a webhook endpoint
#[utoipa::path(
    tag = "webhooks",
    params(("endpoint_id" = i64, Path, minimum = 1, description = "The endpoint's id")),
    request_body = WebhookEndpointPatch,
    responses(
        (status = 200, description = "The changed endpoint", body = WebhookEndpointView),
        (status = 404, description = "No such endpoint in this account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/v1/webhook_endpoints/{endpoint_id}")]
pub async fn update_endpoint(
    tenant: Tenant,
    id: WebhookEndpointId,
    state: web::Data<AppState>,
    body: JsonBody<WebhookEndpointPatch>,
) -> Result<web::Json<WebhookEndpointView>, ApiError> {
    let patch = body.value;
    let url = match patch.url.clone() {
        Some(url) => Some(check_url(&state.webhook_policy, url).await?),
        None => None,
    };
    let updated = tenant
        .transaction(&state.db, move |conn| {
            let mut v = Validation::new();
            let events = match &patch.events {
                Some(names) => v.check("events", parse_events(names)).map(Some),
                None => Some(None),
            };
            let description = v.nullable_change("description", patch.description, |d| {
                parse_description(d.as_deref())
            });
            let (Some(event_types), Some(description), true) = (events, description, v.is_ok())
            else {
                return Err(v.into_errors().into());
            };
            let changes = EndpointChanges {
                url,
                event_types,
                description,
                enabled: patch.enabled,
            };
            Ok(webhooks::update_endpoint(conn, id, &changes)?)
        })
        .await?;
    Ok(web::Json(updated.into()))
}

/// Delete a webhook endpoint, with its deliveries and their log
#[utoipa::path(
    tag = "webhooks",
    params(("endpoint_id" = i64, Path, minimum = 1, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Deleted; nothing more is sent to it"),
        (status = 404, description = "No such endpoint in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/webhook_endpoints/{endpoint_id}")]
pub async fn delete_endpoint(
    tenant: Tenant,
    id: WebhookEndpointId,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let deleted = tenant
        .transaction(&state.db, move |conn| {
            Ok(webhook_endpoint::delete(conn, id)?)
        })
        .await?;
    if deleted {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found(id))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListDeliveriesQuery {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Return attempts with an id greater than this (the previous page's `next_after`).
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// The log of an endpoint's delivery attempts
#[utoipa::path(
    tag = "webhooks",
    params(("endpoint_id" = i64, Path, minimum = 1, description = "The endpoint's id"), ListDeliveriesQuery),
    responses(
        (status = 200, description = "A page of attempts, oldest first", body = List<DeliveryAttemptView>),
        (status = 404, description = "No such endpoint in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/webhook_endpoints/{endpoint_id}/deliveries")]
pub async fn list_deliveries(
    tenant: Tenant,
    id: WebhookEndpointId,
    state: web::Data<AppState>,
    query: QueryParams<ListDeliveriesQuery>,
) -> Result<web::Json<List<DeliveryAttemptView>>, ApiError> {
    let query = query.0;
    let page = tenant
        .transaction(&state.db, move |conn| {
            let page = page_request(query.limit, query.after)?;
            webhooks::endpoint(conn, id)?;
            Ok(webhook_delivery::attempts_of_endpoint(conn, id, &page)?)
        })
        .await?;
    Ok(web::Json(List::from_page(
        page,
        |a| a.id,
        DeliveryAttemptView::from,
    )))
}
