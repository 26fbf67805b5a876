//! The tenant extractor: who may call /v1, and the answers when not.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use serde_json::json;

use crate::harness::{Reply, spawn};

fn customers() -> TestRequest {
    TestRequest::get().uri("/v1/customers")
}

#[actix_web::test]
async fn a_missing_or_malformed_account_header_is_400() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let bearer = format!("Bearer {}", acme.key);
    let long = "a".repeat(101);
    let cases: Vec<(Option<&str>, &str)> = vec![
        (None, "missing"),
        (Some(""), "must be"),
        (Some("-acme"), "must be"),
        (Some("ac me"), "must be"),
        (Some("\"acme\""), "must be"),
        (Some(long.as_str()), "must be"),
    ];
    for (header, expected) in cases {
        let mut request = customers().insert_header(("Authorization", bearer.as_str()));
        if let Some(value) = header {
            request = request.insert_header(("X-Account-Id", value));
        }
        let reply = app.call(request).await;
        let problem = reply.problem(400);
        assert_eq!(
            problem["type"],
            "urn:invoiced:problem:invalid-account-header"
        );
        assert!(
            problem["detail"].as_str().unwrap().contains(expected),
            "{header:?}: {problem}"
        );
    }
    let twice = customers()
        .append_header(("X-Account-Id", "acme"))
        .append_header(("X-Account-Id", "acme"))
        .insert_header(("Authorization", bearer.as_str()));
    app.call(twice).await.problem(400);
}

#[actix_web::test]
async fn every_failed_authentication_gets_one_and_the_same_401() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    // A revoked key of acme's.
    let revoked = app
        .admin(
            Method::POST,
            "/admin/accounts/acme/api-keys",
            Some(json!({"name": "old"})),
        )
        .await;
    let revoked = revoked.ok(201).clone();
    let revoked_key = revoked["key"].as_str().unwrap().to_owned();
    let path = format!("/admin/accounts/acme/api-keys/{}", revoked["id"]);
    assert_eq!(app.admin(Method::DELETE, &path, None).await.status, 204);

    // The right key with its last digit changed (to another digit).
    let (stem, last) = acme.key.split_at(acme.key.len() - 1);
    let wrong = format!("{stem}{}", if last == "0" { "1" } else { "0" });
    let cases: Vec<(&str, Option<String>)> = vec![
        ("unknown account", Some(format!("Bearer {}", acme.key))),
        ("no key", None),
        ("wrong key", Some(format!("Bearer {wrong}"))),
        ("revoked key", Some(format!("Bearer {revoked_key}"))),
        (
            "other account's key",
            Some(format!("Bearer {}", globex.key)),
        ),
        ("no scheme", Some(acme.key.clone())),
        ("basic scheme", Some(format!("Basic {}", acme.key))),
        ("truncated key", Some(format!("Bearer {}", &acme.key[..20]))),
        ("extended key", Some(format!("Bearer {}00", acme.key))),
    ];
    let mut bodies = Vec::new();
    for (case, authorization) in cases {
        let account = if case == "unknown account" {
            "nobody"
        } else {
            "acme"
        };
        let mut request = customers().insert_header(("X-Account-Id", account));
        if let Some(value) = authorization {
            request = request.insert_header(("Authorization", value));
        }
        let reply: Reply = app.call(request).await;
        reply.problem(401);
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{case}");
        bodies.push((case, reply.text));
    }
    for (case, body) in &bodies {
        assert_eq!(
            body, &bodies[0].1,
            "{case} answers differently from {}",
            bodies[0].0
        );
    }
    // The right key still works.
    assert_eq!(app.get(&acme, "/v1/customers").await.status, 200);
}

#[actix_web::test]
async fn authentication_comes_before_the_body_and_the_path() {
    let app = spawn().await;
    app.tenant("acme").await;
    // Unauthenticated requests learn nothing, not even that their body is bad.
    let request = TestRequest::post()
        .uri("/v1/customers")
        .insert_header(("X-Account-Id", "acme"))
        .insert_header(("content-type", "application/json"))
        .set_payload("{not json");
    app.call(request).await.problem(401);
    let request = TestRequest::get()
        .uri("/v1/customers/abc")
        .insert_header(("X-Account-Id", "acme"));
    app.call(request).await.problem(401);
}

#[actix_web::test]
async fn a_wrong_key_is_401_even_for_a_request_that_is_invalid_too() {
    // The key is checked in the request's transaction, before the handler
    // validates anything: its validation answers are for tenants only.
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let (stem, last) = acme.key.split_at(acme.key.len() - 1);
    let wrong = format!("Bearer {stem}{}", if last == "0" { "1" } else { "0" });
    let invalid_body = TestRequest::post()
        .uri("/v1/customers")
        .insert_header(("X-Account-Id", "acme"))
        .insert_header(("Authorization", wrong.as_str()))
        .set_json(json!({"name": "", "email": "x".repeat(300)}));
    app.call(invalid_body).await.problem(401);
    let invalid_query = TestRequest::get()
        .uri("/v1/invoices?limit=0&issued_from=2026-02-30")
        .insert_header(("X-Account-Id", "acme"))
        .insert_header(("Authorization", wrong.as_str()));
    app.call(invalid_query).await.problem(401);
    let unknown_account = TestRequest::post()
        .uri("/v1/invoices")
        .insert_header(("X-Account-Id", "nobody"))
        .insert_header(("Authorization", format!("Bearer {}", acme.key)))
        .set_json(json!({"customer_id": 1, "currency": "euro"}));
    app.call(unknown_account).await.problem(401);
    assert_eq!(app.count("customers"), 0);
    assert_eq!(app.count("invoices"), 0);
    // With the right key, the same body gets its validation answer.
    let request = TestRequest::post()
        .uri("/v1/customers")
        .insert_header(("X-Account-Id", "acme"))
        .insert_header(("Authorization", format!("Bearer {}", acme.key)))
        .set_json(json!({"name": ""}));
    app.call(request).await.problem(422);
}

#[actix_web::test]
async fn a_key_records_when_it_was_last_used() {
    let app = spawn().await;
    let acme = app.bare_tenant("acme").await;
    let keys = app
        .admin(Method::GET, "/admin/accounts/acme/api-keys", None)
        .await;
    assert_eq!(
        keys.ok(200)["data"][0]["last_used_at"],
        serde_json::Value::Null
    );
    app.get(&acme, "/v1/customers").await.ok(200);
    let keys = app
        .admin(Method::GET, "/admin/accounts/acme/api-keys", None)
        .await;
    assert!(keys.ok(200)["data"][0]["last_used_at"].is_string());
}
