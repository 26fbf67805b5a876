//! The HTTP layer: the actix-web application ([`build_app`], shared by
//! `invoiced serve` and the tests) and its server.
//!
//! Routes are registered through utoipa-actix-web, so the OpenAPI document
//! is generated from the handlers themselves and cannot drift from them.

mod account;
mod admin;
mod credit_notes;
mod customers;
mod documents;
mod error;
mod events;
mod extract;
mod idempotency;
mod invoices;
mod items;
mod metrics;
mod middleware;
mod openapi;
mod ops;
mod pagination;
mod payments;
mod server;
mod tenant;
mod webhooks;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::{App, HttpRequest, HttpResponse, web};
use utoipa_actix_web::AppExt;

use crate::db::Database;

pub use error::{ApiError, PROBLEM_JSON, Problem};
pub use middleware::REQUEST_ID_HEADER;
pub use server::{ServeError, app_state, serve, serve_and_then};
pub use tenant::{ACCOUNT_HEADER, Tenant};

/// What every handler can reach.
pub struct AppState {
    /// The service's pool, as the app role.
    pub db: Database,
    /// Present when ADMIN_TOKEN is set.
    pub admin: Option<AdminState>,
    /// REQUEST_BODY_LIMIT.
    pub body_limit: usize,
    /// What /metrics reports.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// Where webhooks may be sent (checked when an endpoint is created or
    /// changed; the sender checks again before each send).
    pub webhook_policy: crate::webhooks::destination::Policy,
    /// What this instance's webhook sender has done (for /metrics).
    pub webhook_outcomes: std::sync::Arc<crate::webhooks::sender::Outcomes>,
}

/// The admin API's token and its pool (the owner role: administration
/// spans accounts, which row-level security hides from the app role).
pub struct AdminState {
    pub token: String,
    pub db: Database,
}

/// The routes of the OpenAPI document, for telling 405 from 404.
struct KnownRoutes(Vec<(Vec<String>, Vec<Method>)>);

impl KnownRoutes {
    fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let mut routes: Vec<(Vec<String>, Vec<Method>)> = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = openapi::methods_of(item);
                (split_path(path), methods)
            })
            .collect();
        for path in ["/openapi.json", "/docs"] {
            routes.push((split_path(path), vec![Method::GET]));
        }
        routes.push((vec!["docs".into(), "{file}".into()], vec![Method::GET]));
        Self(routes)
    }

    /// The methods allowed on `path`, when some route has its shape.
    fn allowed(&self, path: &str) -> Option<Vec<Method>> {
        let segments = split_path(path);
        let mut allowed: Vec<Method> = self
            .0
            .iter()
            .filter(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
            })
            .flat_map(|(_, methods)| methods.iter().cloned())
            .collect();
        allowed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        allowed.dedup();
        (!allowed.is_empty()).then_some(allowed)
    }
}

fn split_path(path: &str) -> Vec<String> {
    path.trim_end_matches('/')
        .split('/')
        .skip(1)
        .map(str::to_owned)
        .collect()
}

/// Every request no route took: 405 with `Allow` when the path is known,
/// else 404.
async fn fallback(
    req: HttpRequest,
    routes: web::Data<KnownRoutes>,
) -> Result<HttpResponse, ApiError> {
    Err(match routes.allowed(req.path()) {
        Some(allowed) if !allowed.contains(req.method()) => ApiError::MethodNotAllowed {
            method: req.method().clone(),
            allowed,
        },
        _ => ApiError::RouteNotFound {
            path: req.path().to_owned(),
        },
    })
}

/// The whole application: routes, extractor configuration, middleware.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let body_limit = state.body_limit;
    let (app, api) = App::new()
        .into_utoipa_app()
        .app_data(state)
        .app_data(web::PayloadConfig::new(body_limit))
        .configure(documented_routes)
        .split_for_parts();
    let api = openapi::complete(api);
    let routes = web::Data::new(KnownRoutes::from_openapi(&api));
    app.app_data(routes)
        .configure(openapi::document_routes(api))
        .default_service(web::to(fallback))
        .wrap(actix_web::middleware::from_fn(middleware::request_context))
}

/// Every route of the API; each one documents itself.
fn documented_routes(config: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    ops::routes(config);
    customers::routes(config);
    invoices::routes(config);
    items::routes(config);
    payments::routes(config);
    credit_notes::routes(config);
    documents::routes(config);
    account::routes(config);
    events::routes(config);
    webhooks::routes(config);
    admin::routes(config);
}

/// The OpenAPI document of the application, as `/openapi.json` serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .configure(documented_routes)
        .split_for_parts();
    openapi::complete(api)
}
