//! The OpenAPI document: generated from the handlers' `#[utoipa::path]`
//! annotations by utoipa-actix-web, then completed here with what every
//! operation shares (authentication, the problem responses), and served at
//! `/openapi.json`.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Content, OpenApi, Ref};
use utoipa::openapi::{RefOr, Required};
use utoipa::{PartialSchema, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::error::{PROBLEM_JSON, Problem};

const ACCOUNT_SCHEME: &str = "account_id";
const KEY_SCHEME: &str = "api_key";
const ADMIN_SCHEME: &str = "admin_token";

/// The operations of a path, by method.
fn operations_mut(item: &mut PathItem) -> Vec<(Method, &mut Operation)> {
    [
        (Method::GET, item.get.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|operation| (method, operation)))
    .collect()
}

/// The methods a path answers.
pub fn methods_of(item: &PathItem) -> Vec<Method> {
    [
        (Method::GET, item.get.is_some()),
        (Method::POST, item.post.is_some()),
        (Method::PUT, item.put.is_some()),
        (Method::PATCH, item.patch.is_some()),
        (Method::DELETE, item.delete.is_some()),
    ]
    .into_iter()
    .filter_map(|(method, present)| present.then_some(method))
    .collect()
}

fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            Content::new(Some(Ref::from_schema_name(Problem::name()))),
        )
        .build()
}

/// Adds a problem response unless the operation documents that status itself.
fn add_problem(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| problem_response(description).into());
}

/// Every POST under /v1 takes an optional Idempotency-Key.
fn document_idempotency(operation: &mut Operation) {
    let key = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes a retry safe: the same key with the same request within 24 hours answers the first \
             response again (with `Idempotent-Replayed: true`) and changes nothing; with a different \
             request it is 422; while the first request runs, 409. Keys are per account.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[!-~]+$")),
        ))
        .build();
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(key.into());
    for (status, response) in operation.responses.responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            response.headers.insert(
                "Idempotent-Replayed".into(),
                Header::new(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["true"])),
                )
                .into(),
            );
        }
    }
    add_problem(
        operation,
        "409",
        "Conflicts with the current state, or its Idempotency-Key is still in use",
    );
    add_problem(
        operation,
        "422",
        "Invalid fields, or an Idempotency-Key reused for a different request",
    );
}

/// Completes the generated document.
pub fn complete(mut api: OpenApi) -> OpenApi {
    api.info = utoipa::openapi::InfoBuilder::new()
        .title("invoiced")
        .version(env!("CARGO_PKG_VERSION"))
        .license(Some(utoipa::openapi::License::new(env!(
            "CARGO_PKG_LICENSE"
        ))))
        .build();
    api.info.description = Some(
        "A multi-tenant invoicing backend. Every /v1 call names its account in `X-Account-Id` \
         and proves it with `Authorization: Bearer <api key>`. Errors are \
         `application/problem+json` (RFC 7807)."
            .into(),
    );
    let components = api.components.get_or_insert_with(Default::default);
    components
        .schemas
        .entry(Problem::name().into_owned())
        .or_insert_with(Problem::schema);
    components.add_security_scheme(
        ACCOUNT_SCHEME,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Account-Id",
            "The account (tenant) the request acts for.",
        ))),
    );
    components.add_security_scheme(
        KEY_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API key of that account: `Authorization: Bearer inv_…`.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        ADMIN_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("The ADMIN_TOKEN the service was started with."))
                .build(),
        ),
    );

    for (path, item) in api.paths.paths.iter_mut() {
        let tenant = path.starts_with("/v1/");
        let admin = path.starts_with("/admin/");
        for (method, operation) in operations_mut(item) {
            if tenant && method == Method::POST {
                document_idempotency(operation);
            }
            if tenant {
                operation.security = Some(vec![
                    SecurityRequirement::new(ACCOUNT_SCHEME, Vec::<String>::new())
                        .add(KEY_SCHEME, Vec::<String>::new()),
                ]);
                add_problem(
                    operation,
                    "400",
                    "Malformed request, or a missing or malformed X-Account-Id",
                );
                add_problem(
                    operation,
                    "401",
                    "Unknown account, or a missing, wrong or revoked key",
                );
            }
            if admin {
                operation.security = Some(vec![SecurityRequirement::new(
                    ADMIN_SCHEME,
                    Vec::<String>::new(),
                )]);
                add_problem(operation, "400", "Malformed request");
                add_problem(operation, "401", "Missing or wrong admin token");
                add_problem(
                    operation,
                    "404",
                    "Admin API disabled (no ADMIN_TOKEN), or no such resource",
                );
            }
            if tenant || admin {
                if operation.request_body.is_some() {
                    add_problem(operation, "413", "Body larger than REQUEST_BODY_LIMIT");
                    add_problem(operation, "415", "Body not application/json");
                    add_problem(operation, "422", "Invalid fields");
                }
                add_problem(
                    operation,
                    "503",
                    "Database unavailable; retry after Retry-After seconds",
                );
            }
            add_problem(
                operation,
                "500",
                "Unexpected failure (logged with the X-Request-Id)",
            );
        }
    }
    api
}

/// `GET /openapi.json`, and `GET /docs/`: Swagger UI over it, served from
/// the binary (no internet needed).
pub fn document_routes(api: OpenApi) -> impl FnOnce(&mut web::ServiceConfig) {
    let json = api.to_json().unwrap_or_else(|_| "{}".into());
    move |config| {
        config
            .app_data(web::Data::new(OpenApiJson(json)))
            .route(
                "/openapi.json",
                web::get().to(|document: web::Data<OpenApiJson>| async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(document.0.clone())
                }),
            )
            .route(
                "/docs",
                web::get().to(|| async {
                    HttpResponse::PermanentRedirect()
                        .insert_header(("Location", "/docs/"))
                        .finish()
                }),
            )
            .service(SwaggerUi::new("/docs/{_:.*}").config(Config::new(["/openapi.json"])));
    }
}

struct OpenApiJson(String);
