//! /v1/customers through the real app and the real tenant extractor.

use futures_util::future::join_all;
use serde_json::json;

use crate::harness::spawn;

#[actix_web::test]
async fn a_customer_can_be_created_read_changed_and_deleted() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let created = app
        .post(
            &acme,
            "/v1/customers",
            json!({"name": "  Ann Smith ", "email": "ann@example.com", "phone": ""}),
        )
        .await;
    let created = created.ok(201);
    assert_eq!(created["id"], 1);
    assert_eq!(created["name"], "Ann Smith");
    assert_eq!(created["email"], "ann@example.com");
    assert_eq!(
        created["phone"],
        serde_json::Value::Null,
        "blank means no value"
    );
    for field in ["address", "tax_id", "created_at", "updated_at"] {
        assert!(created.get(field).is_some(), "{field} missing");
    }
    assert!(
        created["created_at"].as_str().unwrap().ends_with('Z'),
        "RFC 3339 UTC"
    );

    let fetched = app.get(&acme, "/v1/customers/1").await;
    assert_eq!(fetched.ok(200), created);

    // PATCH changes only what it names; null clears.
    let patched = app
        .patch(
            &acme,
            "/v1/customers/1",
            json!({"phone": "+1 555 0100", "email": null}),
        )
        .await;
    let patched = patched.ok(200);
    assert_eq!(patched["name"], "Ann Smith");
    assert_eq!(patched["phone"], "+1 555 0100");
    assert_eq!(patched["email"], serde_json::Value::Null);
    assert!(patched["updated_at"].as_str() > created["updated_at"].as_str());

    assert_eq!(app.delete(&acme, "/v1/customers/1").await.status, 204);
    app.get(&acme, "/v1/customers/1").await.problem(404);
    app.delete(&acme, "/v1/customers/1").await.problem(404);
}

#[actix_web::test]
async fn an_empty_patch_changes_nothing() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let id = app.customer(&acme, "Ann").await;
    let before = app.get(&acme, &format!("/v1/customers/{id}")).await;
    let after = app
        .patch(&acme, &format!("/v1/customers/{id}"), json!({}))
        .await;
    assert_eq!(after.ok(200), before.ok(200));
}

#[actix_web::test]
async fn ids_start_at_one_in_every_account_and_are_never_reused() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    assert_eq!(app.customer(&acme, "a1").await, 1);
    assert_eq!(app.customer(&acme, "a2").await, 2);
    assert_eq!(app.customer(&globex, "g1").await, 1);
    assert_eq!(app.delete(&acme, "/v1/customers/2").await.status, 204);
    assert_eq!(
        app.customer(&acme, "a3").await,
        3,
        "2 was deleted, not freed"
    );
}

#[actix_web::test]
async fn forty_concurrent_creates_get_exactly_one_to_forty() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let creates =
        (0..40).map(|n| app.post(&acme, "/v1/customers", json!({"name": format!("c{n}")})));
    let mut ids: Vec<i64> = join_all(creates)
        .await
        .iter()
        .map(|reply| reply.ok(201)["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=40).collect::<Vec<_>>());
}

#[actix_web::test]
async fn another_accounts_customer_is_not_found_and_stays_untouched() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let id = app.customer(&globex, "Globex's customer").await;
    let path = format!("/v1/customers/{id}");
    let original = app.get(&globex, &path).await.ok(200).clone();

    let get = app.get(&acme, &path).await;
    let patch = app.patch(&acme, &path, json!({"name": "hijacked"})).await;
    let delete = app.delete(&acme, &path).await;
    for reply in [&get, &patch, &delete] {
        let problem = reply.problem(404);
        assert_eq!(problem["detail"], format!("Customer {id} not found."));
    }
    // Exactly what a customer that never existed gets: no hint either way.
    let never = app.get(&acme, "/v1/customers/999").await;
    assert_eq!(never.problem(404)["type"], get.body["type"]);

    assert_eq!(app.get(&globex, &path).await.ok(200), &original);
}

#[actix_web::test]
async fn lists_page_by_id_with_a_cursor() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    for n in 1..=7 {
        app.customer(&acme, &format!("c{n}")).await;
    }
    let first = app.get(&acme, "/v1/customers?limit=3").await;
    let first = first.ok(200);
    let ids = |page: &serde_json::Value| -> Vec<i64> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(first), vec![1, 2, 3]);
    assert_eq!(first["has_more"], true);
    assert_eq!(first["next_after"], 3);
    let second = app.get(&acme, "/v1/customers?limit=3&after=3").await;
    assert_eq!(ids(second.ok(200)), vec![4, 5, 6]);
    let last = app.get(&acme, "/v1/customers?limit=3&after=6").await;
    let last = last.ok(200);
    assert_eq!(ids(last), vec![7]);
    assert_eq!(last["has_more"], false);
    assert_eq!(last["next_after"], serde_json::Value::Null);
    // The default page is 50; limits outside 1..=200 are refused.
    assert_eq!(ids(app.get(&acme, "/v1/customers").await.ok(200)).len(), 7);
    for bad in [
        "limit=0",
        "limit=201",
        "limit=-1",
        "limit=abc",
        "after=-1",
        "after=x",
        "colour=red",
    ] {
        let problem = app.get(&acme, &format!("/v1/customers?{bad}")).await;
        problem.problem(400);
    }
}

#[actix_web::test]
async fn search_matches_name_or_email_case_insensitively_and_literally() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    for (name, email) in [
        ("Ann Smith", "ann@example.com"),
        ("Bob Jones", "BOB@EXAMPLE.ORG"),
        ("50% Off Shop", "sales@shop.test"),
        ("Under_score Ltd", "u@x.test"),
        ("Émile Zola", "emile@lit.fr"),
    ] {
        app.post(
            &acme,
            "/v1/customers",
            json!({"name": name, "email": email}),
        )
        .await
        .ok(201);
    }
    let names = |q: &str| {
        let app = &app;
        let acme = &acme;
        let q = q.to_owned();
        async move {
            let path = format!(
                "/v1/customers?q={}",
                form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            );
            let reply = app.get(acme, &path).await;
            reply.ok(200)["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("smith").await, vec!["Ann Smith"]);
    assert_eq!(names("example.ORG").await, vec!["Bob Jones"]);
    assert_eq!(names("EXAMPLE").await, vec!["Ann Smith", "Bob Jones"]);
    assert_eq!(names("%").await, vec!["50% Off Shop"], "% is literal");
    assert_eq!(names("_").await, vec!["Under_score Ltd"], "_ is literal");
    assert_eq!(names("émile").await, vec!["Émile Zola"]);
    assert!(names("nobody").await.is_empty());
}

#[actix_web::test]
async fn invalid_fields_are_all_reported_and_nothing_is_written() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let reply = app
        .post(
            &acme,
            "/v1/customers",
            json!({"name": "x".repeat(201), "email": "not-an-email", "address": "a".repeat(1001)}),
        )
        .await;
    let problem = reply.problem(422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["name", "email", "address"]);
    let empty = app.get(&acme, "/v1/customers").await;
    assert_eq!(empty.ok(200)["data"].as_array().unwrap().len(), 0);

    let id = app.customer(&acme, "Ann").await;
    let reply = app
        .patch(
            &acme,
            &format!("/v1/customers/{id}"),
            json!({"name": null, "phone": "1"}),
        )
        .await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "name");
    let unchanged = app.get(&acme, &format!("/v1/customers/{id}")).await;
    assert_eq!(
        unchanged.ok(200)["phone"],
        serde_json::Value::Null,
        "a refused PATCH writes nothing"
    );
}
