//! /openapi.json is generated from the handlers; these tests hold it to the
//! router, so a route cannot exist without its documentation.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::Method;
use actix_web::test::TestRequest;
use serde_json::Value;

use crate::harness::spawn;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Routes that serve the documentation itself, and /metrics, which is
/// served on an address of its own (METRICS_BIND_ADDR), not the API's.
const UNDOCUMENTED: [&str; 4] = ["/openapi.json", "/docs", "/docs/{_:.*}", "/metrics"];

pub(crate) fn documented_operations(api: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in api["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method.to_lowercase()).is_some() {
                operations.insert((method.to_owned(), path.clone()));
            }
        }
    }
    operations
}

/// A concrete request path for a template: every parameter filled in.
fn instantiate(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{account_id}" => "acme",
            s if s.starts_with('{') => "1",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[actix_web::test]
async fn every_route_the_router_answers_is_documented_and_every_documented_one_is_routed() {
    let app = spawn().await;
    let api = app.call(TestRequest::get().uri("/openapi.json")).await;
    let api = api.ok(200).clone();
    let documented = documented_operations(&api);
    assert!(
        documented.len() >= 28,
        "only {} operations documented",
        documented.len()
    );

    // Ask the router: on every documented path, which methods reach a
    // handler (anything but the fallback's 404/405)?
    let paths: BTreeSet<&String> = documented.iter().map(|(_, path)| path).collect();
    let mut routed = BTreeSet::new();
    for path in paths {
        for method in METHODS {
            let request = TestRequest::default()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(&instantiate(path))
                .insert_header(("content-type", "application/json"))
                .set_payload("{}");
            let reply = app.call(request).await;
            let kind = reply.body["type"].as_str().unwrap_or_default();
            if !kind.ends_with(":route-not-found") && !kind.ends_with(":method-not-allowed") {
                routed.insert((method.to_owned(), path.clone()));
            }
        }
    }
    assert_eq!(routed, documented);
}

#[test]
fn every_route_registered_in_the_source_is_documented() {
    let api = serde_json::to_value(invoiced::http::openapi_document()).unwrap();
    let documented = documented_operations(&api);
    let mut registered = BTreeSet::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in source.lines().map(str::trim) {
            for method in METHODS {
                let attribute = format!("#[{}(\"", method.to_lowercase());
                if let Some(rest) = line.strip_prefix(&attribute) {
                    let path = rest.split('"').next().unwrap().to_owned();
                    registered.insert((method.to_owned(), path));
                }
            }
            for call in [
                ".route(",
                "web::resource(",
                "SwaggerUi::new(",
                "web::scope(",
            ] {
                if let Some(rest) = line.split(call).nth(1)
                    && let Some(path) = rest.strip_prefix('"').and_then(|r| r.split('"').next())
                {
                    assert!(
                        UNDOCUMENTED.contains(&path),
                        "{path} is registered outside utoipa, undocumented"
                    );
                }
            }
        }
    }
    assert!(!registered.is_empty());
    assert_eq!(registered, documented, "handlers and documentation differ");
}

#[actix_web::test]
async fn the_document_describes_authentication_idempotency_schemas_and_problems() {
    let app = spawn().await;
    let api = app.call(TestRequest::get().uri("/openapi.json")).await;
    let api = api.ok(200).clone();
    assert!(api["openapi"].as_str().unwrap().starts_with("3."));
    let schemes = &api["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["type"], "http");
    assert_eq!(schemes["api_key"]["scheme"], "bearer");
    // The account is a security scheme too, so /docs authorises once.
    assert_eq!(schemes["account"]["type"], "apiKey");
    assert_eq!(schemes["account"]["in"], "header");
    assert_eq!(schemes["account"]["name"], "X-Account-Id");
    for schema in [
        "CustomerView",
        "InvoiceView",
        "InvoiceCreate",
        "ItemView",
        "ItemCreate",
        "PaymentView",
        "PaymentCreate",
        "Problem",
        "FieldError",
    ] {
        assert!(
            api["components"]["schemas"].get(schema).is_some(),
            "no schema {schema}"
        );
    }
    let problem_ref = "#/components/schemas/Problem";
    for (path, item) in api["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = &operation["responses"];
            if path.starts_with("/v1/") {
                // One requirement naming both: the account and its key.
                let requirement = &operation["security"][0];
                assert!(requirement.get("api_key").is_some(), "{method} {path}");
                assert!(requirement.get("account").is_some(), "{method} {path}");
                for status in ["400", "401", "503"] {
                    let content =
                        &responses[status]["content"]["application/problem+json"]["schema"]["$ref"];
                    assert_eq!(content, problem_ref, "{method} {path} {status}");
                }
                let idempotency = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header");
                assert_eq!(
                    idempotency,
                    method == "post",
                    "Idempotency-Key on {method} {path}"
                );
            }
            assert!(
                responses
                    .as_object()
                    .unwrap()
                    .keys()
                    .any(|s| s.starts_with('2')),
                "{method} {path}"
            );
        }
    }
    let create = &api["paths"]["/v1/invoices"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/InvoiceCreate"
    );
    assert_eq!(
        create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/InvoiceView"
    );
    assert!(
        create["responses"]["201"]["headers"]
            .get("Idempotent-Replayed")
            .is_some()
    );
    for status in ["409", "413", "415", "422"] {
        assert!(
            create["responses"].get(status).is_some(),
            "POST /v1/invoices documents {status}"
        );
    }
}

#[actix_web::test]
async fn the_docs_page_is_served_by_the_binary() {
    let app = spawn().await;
    let redirect = app.call(TestRequest::get().uri("/docs")).await;
    assert_eq!(redirect.status, 308);
    assert_eq!(redirect.header("location"), Some("/docs/"));
    let page = app.call(TestRequest::get().uri("/docs/")).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    let bundle = app
        .call(TestRequest::get().uri("/docs/swagger-ui-bundle.js"))
        .await;
    assert_eq!(bundle.status, 200);
    assert!(
        bundle.text.len() > 100_000,
        "the UI's script is in the binary"
    );
    let initializer = app
        .call(TestRequest::get().uri("/docs/swagger-initializer.js"))
        .await;
    assert!(initializer.text.contains("/openapi.json"));
    assert!(
        !page.text.contains("src=\"http"),
        "nothing loaded from elsewhere"
    );
}

#[test]
fn every_link_leads_to_an_operation_and_its_parameters() {
    let api = serde_json::to_value(invoiced::http::openapi_document()).unwrap();
    let mut operations = BTreeMap::new();
    for item in api["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            if let Some(id) = operation["operationId"].as_str() {
                let parameters: BTreeSet<String> = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| p["name"].as_str().unwrap().to_owned())
                    .collect();
                operations.insert(id.to_owned(), parameters);
            }
        }
    }
    let mut links = 0;
    for item in api["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            for response in operation["responses"]
                .as_object()
                .into_iter()
                .flat_map(|r| r.values())
            {
                for (name, link) in response["links"].as_object().into_iter().flatten() {
                    let target = link["operationId"].as_str().unwrap();
                    let parameters = operations
                        .get(target)
                        .unwrap_or_else(|| panic!("link {name} to no operation"));
                    for parameter in link["parameters"].as_object().unwrap().keys() {
                        assert!(
                            parameters.contains(parameter),
                            "{target} has no parameter {parameter}"
                        );
                    }
                    links += 1;
                }
            }
        }
    }
    assert!(links >= 16, "{links} links");
}
