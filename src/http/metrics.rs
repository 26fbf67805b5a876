//! The `/metrics` listener (METRICS_BIND_ADDR): Prometheus' text format, on
//! an address of its own so that the API's clients never reach it.

use actix_web::{App, HttpResponse, web};

use super::AppState;
use std::sync::atomic::Ordering;

use crate::metrics::{PoolSnapshot, WebhookSnapshot};

/// The content type of the text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .route("/metrics", web::get().to(metrics))
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut pools = vec![snapshot("app", &state.db)];
    if let Some(admin) = &state.admin {
        pools.push(snapshot("admin", &admin.db));
    }
    let outcomes = &state.webhook_outcomes;
    let webhooks = WebhookSnapshot {
        queue_depth: queue_depth(&state).await,
        delivered: outcomes.delivered.load(Ordering::Relaxed),
        retried: outcomes.retried.load(Ordering::Relaxed),
        failed: outcomes.failed.load(Ordering::Relaxed),
    };
    HttpResponse::Ok()
        .content_type(TEXT_FORMAT)
        .body(state.metrics.render(&pools, &webhooks))
}

/// The due deliveries, or None when the database does not answer (the
/// scrape still reports the rest).
async fn queue_depth(state: &AppState) -> Option<i64> {
    let now = chrono::Utc::now();
    state
        .db
        .run(move |conn, _| {
            Ok::<_, super::ApiError>(crate::models::webhook_delivery::queue_depth(conn, now)?)
        })
        .await
        .ok()
}

fn snapshot(pool: &'static str, db: &crate::db::Database) -> PoolSnapshot {
    let state = db.state();
    PoolSnapshot {
        pool,
        max_size: db.max_size(),
        open: state.connections,
        idle: state.idle_connections,
        waiting: db.waiting(),
    }
}
