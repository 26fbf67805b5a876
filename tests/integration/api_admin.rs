//! /admin: accounts and API keys.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use serde_json::json;

use crate::harness::app::{spawn_with, test_config};
use crate::harness::{TestDatabase, TestTenant, spawn};

#[actix_web::test]
async fn without_an_admin_token_admin_routes_do_not_exist() {
    let db = TestDatabase::new();
    let config = test_config(&db, false);
    let app = spawn_with(Some(db), config).await;
    for (method, path) in [
        (Method::POST, "/admin/accounts"),
        (Method::GET, "/admin/accounts"),
        (Method::GET, "/admin/accounts/acme/api-keys"),
    ] {
        let reply = app
            .admin(method, path, Some(json!({"id": "acme", "name": "Acme"})))
            .await;
        assert_eq!(
            reply.problem(404)["type"],
            "urn:invoiced:problem:route-not-found"
        );
    }
}

#[actix_web::test]
async fn a_wrong_or_missing_admin_token_is_401() {
    let app = spawn().await;
    for authorization in [None, Some("Bearer wrong-token-0123456789"), Some("Bearer ")] {
        let mut request = TestRequest::get().uri("/admin/accounts");
        if let Some(value) = authorization {
            request = request.insert_header(("Authorization", value));
        }
        app.call(request).await.problem(401);
    }
}

#[actix_web::test]
async fn creating_an_account_answers_the_account_and_its_first_key() {
    let app = spawn().await;
    let reply = app
        .admin(
            Method::POST,
            "/admin/accounts",
            Some(json!({"id": "acme", "name": "Acme Ltd"})),
        )
        .await;
    let body = reply.ok(201);
    assert_eq!(body["account"]["id"], "acme");
    assert_eq!(body["account"]["name"], "Acme Ltd");
    assert!(body["account"]["created_at"].is_string());
    let key = &body["api_key"];
    assert_eq!(key["id"], 1);
    assert_eq!(key["name"], "default");
    let secret = key["key"].as_str().unwrap();
    assert!(
        secret.starts_with("inv_") && secret.len() >= 36,
        "≥ 128 bits: {secret}"
    );
    assert!(secret.starts_with(key["prefix"].as_str().unwrap()));
    assert_eq!(key["revoked_at"], serde_json::Value::Null);
    let tenant = TestTenant {
        account: "acme".into(),
        key: secret.to_owned(),
    };
    app.get(&tenant, "/v1/customers").await.ok(200);

    let again = app
        .admin(
            Method::POST,
            "/admin/accounts",
            Some(json!({"id": "acme", "name": "Again"})),
        )
        .await;
    assert_eq!(
        again.problem(409)["type"],
        "urn:invoiced:problem:account-exists"
    );
    let invalid = app
        .admin(
            Method::POST,
            "/admin/accounts",
            Some(json!({"id": "-bad id", "name": ""})),
        )
        .await;
    assert_eq!(invalid.problem(422)["errors"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn accounts_are_listed_a_page_at_a_time() {
    let app = spawn().await;
    for id in ["c", "a", "b"] {
        app.tenant(id).await;
    }
    let first = app
        .admin(Method::GET, "/admin/accounts?limit=2", None)
        .await;
    let first = first.ok(200);
    assert_eq!(first["data"][0]["id"], "a");
    assert_eq!(first["data"][1]["id"], "b");
    assert_eq!(first["has_more"], true);
    assert_eq!(first["next_after"], "b");
    let rest = app
        .admin(Method::GET, "/admin/accounts?limit=2&after=b", None)
        .await;
    let rest = rest.ok(200);
    assert_eq!(rest["data"][0]["id"], "c");
    assert_eq!(rest["has_more"], false);
}

#[actix_web::test]
async fn keys_are_created_listed_without_secrets_and_revoked_at_once() {
    let app = spawn().await;
    let first = app.tenant("acme").await;
    let created = app
        .admin(
            Method::POST,
            "/admin/accounts/acme/api-keys",
            Some(json!({"name": "billing server"})),
        )
        .await;
    let created = created.ok(201).clone();
    assert_eq!(created["id"], 2);
    let second = TestTenant {
        account: "acme".into(),
        key: created["key"].as_str().unwrap().to_owned(),
    };
    app.get(&second, "/v1/customers").await.ok(200);

    let listed = app
        .admin(Method::GET, "/admin/accounts/acme/api-keys", None)
        .await;
    assert!(!listed.text.contains(&second.key) && !listed.text.contains(&first.key));
    assert!(!listed.text.contains("hash"));
    let names: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["default", "billing server"]);

    assert_eq!(
        app.admin(Method::DELETE, "/admin/accounts/acme/api-keys/2", None)
            .await
            .status,
        204
    );
    app.get(&second, "/v1/customers").await.problem(401);
    app.get(&first, "/v1/customers").await.ok(200);
    let listed = app
        .admin(Method::GET, "/admin/accounts/acme/api-keys", None)
        .await;
    assert!(listed.body["data"][1]["revoked_at"].is_string());
}

#[actix_web::test]
async fn keys_of_unknown_accounts_or_ids_are_404() {
    let app = spawn().await;
    app.tenant("acme").await;
    app.tenant("globex").await;
    app.admin(
        Method::POST,
        "/admin/accounts/nobody/api-keys",
        Some(json!({"name": "x"})),
    )
    .await
    .problem(404);
    app.admin(Method::GET, "/admin/accounts/nobody/api-keys", None)
        .await
        .problem(404);
    app.admin(Method::DELETE, "/admin/accounts/acme/api-keys/99", None)
        .await
        .problem(404);
    // globex's key 1 is not acme's key 1... but acme has a key 1 too; a
    // revoke names the account, so it can only reach that account's key.
    assert_eq!(
        app.admin(Method::DELETE, "/admin/accounts/globex/api-keys/1", None)
            .await
            .status,
        204
    );
    let acme_keys = app
        .admin(Method::GET, "/admin/accounts/acme/api-keys", None)
        .await;
    assert_eq!(
        acme_keys.ok(200)["data"][0]["revoked_at"],
        serde_json::Value::Null
    );
}
