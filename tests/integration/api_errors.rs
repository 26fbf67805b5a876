//! Every error the service produces, including the ones actix would make by
//! itself, is application/problem+json.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use serde_json::json;

use crate::harness::app::{spawn_with, test_config};
use crate::harness::{TestDatabase, spawn};

#[actix_web::test]
async fn malformed_json_is_400() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    for payload in ["{\"name\":", "not json", "{\"name\": \"a\"} trailing", ""] {
        let request = acme
            .request(Method::POST, "/v1/customers")
            .insert_header(("content-type", "application/json"))
            .set_payload(payload);
        let problem = app.call(request).await;
        let problem = problem.problem(400);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("not valid JSON"),
            "{payload}: {problem}"
        );
    }
}

#[actix_web::test]
async fn wrong_types_missing_and_unknown_fields_are_422_naming_the_field() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    for (body, field, message) in [
        (json!({"email": "a@b.c"}), "name", "is required"),
        (
            json!({"name": "Ann", "colour": "red"}),
            "colour",
            "is not a field of this resource",
        ),
        (json!({"name": 42}), "name", "invalid type"),
        (json!({"name": ["Ann"]}), "name", "invalid type"),
        (json!([{"name": "Ann"}]), "(body)", "must be a JSON object"),
        (json!("Ann"), "(body)", "must be a JSON object"),
    ] {
        let reply = app.post(&acme, "/v1/customers", body.clone()).await;
        let problem = reply.problem(422);
        assert_eq!(problem["type"], "urn:invoiced:problem:validation-failed");
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{body}: {problem}"
        );
    }
}

#[actix_web::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = acme
            .request(Method::POST, "/v1/customers")
            .set_payload("name=Ann");
        if let Some(content_type) = content_type {
            request = request.insert_header(("content-type", content_type));
        }
        app.call(request).await.problem(415);
    }
}

#[actix_web::test]
async fn a_body_over_the_limit_is_413_and_nothing_is_written() {
    let db = TestDatabase::new();
    let mut config = test_config(&db, true);
    config.request_body_limit = 1024;
    let app = spawn_with(Some(db), config).await;
    let acme = app.tenant("acme").await;
    let big = json!({"name": "Ann", "address": "a".repeat(2000)});
    let reply = app.post(&acme, "/v1/customers", big).await;
    reply.problem(413);
    assert_eq!(
        app.get(&acme, "/v1/customers").await.ok(200)["data"],
        json!([])
    );
}

#[actix_web::test]
async fn an_unknown_route_is_404_and_a_wrong_method_is_405_with_allow() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    for path in ["/v1/nothing", "/", "/v1/customers/1/extra", "/v2/customers"] {
        let reply = app.call(acme.request(Method::GET, path)).await;
        assert_eq!(
            reply.problem(404)["type"],
            "urn:invoiced:problem:route-not-found",
            "{path}"
        );
    }
    for (method, path, allow) in [
        (Method::PUT, "/v1/customers/1", "DELETE, GET, PATCH"),
        (Method::DELETE, "/v1/customers", "GET, POST"),
        (Method::POST, "/health", "GET"),
    ] {
        let reply = app.call(acme.request(method.clone(), path)).await;
        reply.problem(405);
        assert_eq!(reply.header("allow"), Some(allow), "{method} {path}");
    }
}

#[actix_web::test]
async fn a_path_id_that_is_not_a_positive_integer_is_400() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    for id in [
        "abc",
        "0",
        "-1",
        "007",
        "1.5",
        "1e3",
        "99999999999999999999",
        "%00",
        "%20",
    ] {
        let reply = app.get(&acme, &format!("/v1/customers/{id}")).await;
        assert!(
            reply.problem(400)["detail"]
                .as_str()
                .unwrap()
                .contains("positive integer"),
            "{id}"
        );
    }
}

#[actix_web::test]
async fn deleting_a_customer_with_invoices_is_409_and_keeps_it() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let id = app.customer(&acme, "Ann").await;
    crate::harness::execute(
        &mut app.db().owner_conn(),
        &format!(
            "INSERT INTO invoices (account_id, customer_id, currency) VALUES ('acme', {id}, 'EUR')"
        ),
    );
    let reply = app.delete(&acme, &format!("/v1/customers/{id}")).await;
    assert_eq!(
        reply.problem(409)["type"],
        "urn:invoiced:problem:customer-has-invoices"
    );
    app.get(&acme, &format!("/v1/customers/{id}")).await.ok(200);
}

#[actix_web::test]
async fn every_response_carries_a_request_id_and_a_good_one_is_kept() {
    let app = spawn().await;
    let reply = app.call(TestRequest::get().uri("/health")).await;
    let generated = reply.header("x-request-id").unwrap().to_owned();
    assert_eq!(generated.len(), 32);
    let again = app.call(TestRequest::get().uri("/health")).await;
    assert_ne!(again.header("x-request-id").unwrap(), generated);
    let kept = app
        .call(
            TestRequest::get()
                .uri("/nope")
                .insert_header(("X-Request-Id", "trace-42.a")),
        )
        .await;
    assert_eq!(kept.header("x-request-id"), Some("trace-42.a"));
    let replaced = app
        .call(
            TestRequest::get()
                .uri("/health")
                .insert_header(("X-Request-Id", "bad id\twith tab")),
        )
        .await;
    assert_ne!(replaced.header("x-request-id"), Some("bad id\twith tab"));
}

#[actix_web::test]
async fn health_and_ready_answer() {
    let app = spawn().await;
    assert_eq!(
        app.call(TestRequest::get().uri("/health")).await.ok(200)["status"],
        "ok"
    );
    assert_eq!(
        app.call(TestRequest::get().uri("/ready")).await.ok(200)["status"],
        "ready"
    );
}

#[actix_web::test]
async fn ready_is_503_while_a_migration_is_pending() {
    let app = spawn().await;
    invoiced::db::migrations::revert(
        &mut app.db().owner_conn(),
        invoiced::db::migrations::Scope::Last,
    )
    .unwrap();
    let reply = app.call(TestRequest::get().uri("/ready")).await;
    let problem = reply.problem(503);
    assert!(
        problem["detail"].as_str().unwrap().contains("pending"),
        "{problem}"
    );
    assert!(reply.header("retry-after").is_some());
}
