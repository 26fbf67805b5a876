//! The OpenAPI document: generated from the handlers' `#[utoipa::path]`
//! annotations by utoipa-actix-web, then completed here with what every
//! operation shares (authentication, the problem responses), and served at
//! `/openapi.json`.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use utoipa::openapi::header::Header;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Content, OpenApi, Ref};
use utoipa::openapi::{RefOr, Required};
use utoipa::{PartialSchema, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::error::{PROBLEM_JSON, Problem};
use crate::domain::{NAME_PATTERN, TEXT_PATTERN};

const KEY_SCHEME: &str = "api_key";
const ACCOUNT_SCHEME: &str = "account";
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

/// Gives every text field the character rules the domain enforces (see
/// `domain::text`): a string field with a length limit and no pattern or
/// format of its own is free text; one that needs at least a character is
/// a name, which must be more than white space.
fn constrain_text(schema: &mut Schema) {
    let Schema::Object(object) = schema else {
        return;
    };
    let is_string = match &object.schema_type {
        SchemaType::Type(Type::String) => true,
        SchemaType::Array(types) => types.contains(&Type::String),
        _ => false,
    };
    if is_string
        && object.max_length.is_some()
        && object.pattern.is_none()
        && object.format.is_none()
    {
        let required = object.min_length.is_some_and(|min| min >= 1);
        object.pattern = Some(if required { NAME_PATTERN } else { TEXT_PATTERN }.to_owned());
    }
    for property in object.properties.values_mut() {
        if let RefOr::T(property) = property {
            constrain_text(property);
        }
    }
}

/// Where a created resource's id leads: clients and fuzzers follow these
/// links from a response to the operations that take the id.
struct Link {
    /// The operation whose success response carries the id.
    from: &'static str,
    status: &'static str,
    /// The operation the id feeds.
    to: &'static str,
    /// Its parameters, as OpenAPI runtime expressions.
    parameters: &'static [(&'static str, &'static str)],
}

const BODY_ID: &str = "$response.body#/id";

const LINKS: &[Link] = &[
    Link {
        from: "create_customer",
        status: "201",
        to: "get_customer",
        parameters: &[("customer_id", BODY_ID)],
    },
    Link {
        from: "create_customer",
        status: "201",
        to: "update_customer",
        parameters: &[("customer_id", BODY_ID)],
    },
    Link {
        from: "create_customer",
        status: "201",
        to: "delete_customer",
        parameters: &[("customer_id", BODY_ID)],
    },
    Link {
        from: "create_invoice",
        status: "201",
        to: "get_invoice",
        parameters: &[("invoice_id", BODY_ID)],
    },
    Link {
        from: "create_invoice",
        status: "201",
        to: "update_invoice",
        parameters: &[("invoice_id", BODY_ID)],
    },
    Link {
        from: "create_invoice",
        status: "201",
        to: "delete_invoice",
        parameters: &[("invoice_id", BODY_ID)],
    },
    Link {
        from: "create_invoice",
        status: "201",
        to: "issue_invoice",
        parameters: &[("invoice_id", BODY_ID)],
    },
    Link {
        from: "create_invoice",
        status: "201",
        to: "list_items",
        parameters: &[("invoice_id", BODY_ID)],
    },
    Link {
        from: "create_invoice",
        status: "201",
        to: "add_item",
        parameters: &[("invoice_id", BODY_ID)],
    },
    Link {
        from: "create_invoice",
        status: "201",
        to: "list_invoice_payments",
        parameters: &[("invoice_id", BODY_ID)],
    },
    Link {
        from: "issue_invoice",
        status: "200",
        to: "record_payment",
        parameters: &[("invoice_id", BODY_ID)],
    },
    Link {
        from: "issue_invoice",
        status: "200",
        to: "void_invoice",
        parameters: &[("invoice_id", BODY_ID)],
    },
    Link {
        from: "add_item",
        status: "201",
        to: "get_item",
        parameters: &[
            ("invoice_id", "$request.path.invoice_id"),
            ("item_id", BODY_ID),
        ],
    },
    Link {
        from: "add_item",
        status: "201",
        to: "update_item",
        parameters: &[
            ("invoice_id", "$request.path.invoice_id"),
            ("item_id", BODY_ID),
        ],
    },
    Link {
        from: "add_item",
        status: "201",
        to: "delete_item",
        parameters: &[
            ("invoice_id", "$request.path.invoice_id"),
            ("item_id", BODY_ID),
        ],
    },
    Link {
        from: "issue_invoice",
        status: "200",
        to: "create_credit_note",
        parameters: &[("invoice_id", BODY_ID)],
    },
    Link {
        from: "issue_invoice",
        status: "200",
        to: "list_invoice_credit_notes",
        parameters: &[("invoice_id", BODY_ID)],
    },
    Link {
        from: "create_credit_note",
        status: "201",
        to: "get_credit_note",
        parameters: &[("credit_note_id", BODY_ID)],
    },
    Link {
        from: "record_payment",
        status: "201",
        to: "get_payment",
        parameters: &[("payment_id", BODY_ID)],
    },
];

fn add_links(operation: &mut Operation) {
    let Some(source) = operation.operation_id.clone() else {
        return;
    };
    for link in LINKS.iter().filter(|link| link.from == source) {
        if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(link.status) {
            let built = link
                .parameters
                .iter()
                .fold(
                    LinkBuilder::new().operation_id(link.to),
                    |built, (name, value)| built.parameter(*name, *value),
                )
                .build();
            response.links.insert(link.to.to_owned(), built.into());
        }
    }
}

/// Every POST under /v1 takes an optional Idempotency-Key.
fn document_idempotency(operation: &mut Operation) {
    let key = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes a retry safe: the same key with the same request within 24 hours answers the first \
             response again (with `Idempotent-Replayed: true`) and changes nothing, whatever that \
             response was once the work had begun (a 404 or 409 too; not a validation failure, a 401 \
             or a 5xx); with a different request it is 422; while the first request runs, 409. Keys \
             are per account, 1-255 printable ASCII characters (else 400).",
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
        KEY_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                                .description(Some(
                    "An API key of the account named in X-Account-Id: `Authorization: Bearer inv_…`.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        ACCOUNT_SCHEME,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Account-Id",
            "The account (tenant) the request acts for; sent with that account's API key. \
             Missing or malformed: 400. Not the account of the key: 401.",
        ))),
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

    for schema in components.schemas.values_mut() {
        if let RefOr::T(schema) = schema {
            constrain_text(schema);
        }
    }

    for (path, item) in api.paths.paths.iter_mut() {
        let tenant = path.starts_with("/v1/");
        let admin = path.starts_with("/admin/");
        for (method, operation) in operations_mut(item) {
            if tenant && method == Method::POST {
                document_idempotency(operation);
            }
            add_links(operation);
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(Parameter {
                    schema: Some(RefOr::T(schema)),
                    ..
                }) = parameter
                {
                    constrain_text(schema);
                }
            }
            if tenant {
                // Both at once: the account and its key.
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
