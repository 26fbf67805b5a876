//! Operations: liveness and readiness.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, Problem};
use crate::db::migrations;

pub fn routes(config: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    config.service(health).service(ready);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` (alive) or `ready` (the database answers, the schema is current).
    pub status: &'static str,
}

/// Liveness: 200 while the process runs
#[utoipa::path(tag = "operations", responses((status = 200, description = "The process runs", body = Status)))]
#[get("/health")]
pub async fn health() -> web::Json<Status> {
    web::Json(Status { status: "ok" })
}

/// Readiness: 200 when the database answers and no migration is pending
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Status),
        (status = 503, description = "The database is unreachable or migrations are pending", body = Problem,
         content_type = "application/problem+json"),
    )
)]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<web::Json<Status>, ApiError> {
    let pending = state
        .db
        .run(|conn, _| {
            migrations::pending(conn).map_err(|error| {
                ApiError::unavailable("The database does not answer", error.to_string())
            })
        })
        .await?;
    if !pending.is_empty() {
        return Err(ApiError::unavailable(
            format!(
                "{} migration(s) pending: {}; run `invoiced migrate run`",
                pending.len(),
                pending.join(", ")
            ),
            "migrations pending",
        ));
    }
    Ok(web::Json(Status { status: "ready" }))
}
