//! Idempotency-Key on POST, with Stripe's semantics.

use std::time::{Duration, Instant};

use actix_web::http::Method;
use actix_web::test::TestRequest;
use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::harness::app::{spawn_with, test_config};
use crate::harness::{TestDatabase, TestTenant, scalar, spawn};

fn keyed(tenant: &TestTenant, path: &str, key: &str, body: &serde_json::Value) -> TestRequest {
    tenant
        .request(Method::POST, path)
        .insert_header(("Idempotency-Key", key))
        .set_json(body)
}

#[actix_web::test]
async fn a_retry_replays_the_first_response_and_changes_nothing() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    let body = json!({"customer_id": customer, "currency": "EUR", "items": [{"description": "x", "quantity": 1, "unit_price": "9.99"}]});
    let first = app
        .call(keyed(&acme, "/v1/invoices", "order-17", &body))
        .await;
    first.ok(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let retry = app
        .call(keyed(&acme, "/v1/invoices", "order-17", &body))
        .await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.text, first.text, "the very same response");
    assert_eq!(app.count("invoices"), 1);
    assert_eq!(app.count("invoice_items"), 1);

    // Actions too: a retried payment is recorded once.
    let id = app.issued_invoice(&acme, "30.00").await;
    let path = format!("/v1/invoices/{id}/payments");
    let payment = json!({"amount": "10.00"});
    for _ in 0..3 {
        app.call(keyed(&acme, &path, "pay-1", &payment))
            .await
            .ok(201);
    }
    assert_eq!(
        app.get(&acme, &path).await.ok(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let issue_again =
        |key: &'static str| keyed(&acme, &format!("/v1/invoices/{id}/issue"), key, &json!({}));
    // A refusal is remembered and replayed: issuing an issued invoice stays 409.
    app.call(issue_again("issue-1")).await.problem(409);
    app.call(issue_again("issue-1")).await.problem(409);
}

#[actix_web::test]
async fn the_same_key_with_a_different_request_is_422() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    app.call(keyed(&acme, "/v1/customers", "k1", &json!({"name": "Ann"})))
        .await
        .ok(201);
    let other_body = app
        .call(keyed(&acme, "/v1/customers", "k1", &json!({"name": "Bob"})))
        .await;
    assert_eq!(
        other_body.problem(422)["type"],
        "urn:invoiced:problem:idempotency-key-reused"
    );
    let id = app.issued_invoice(&acme, "5.00").await;
    let other_path = app
        .call(keyed(
            &acme,
            &format!("/v1/invoices/{id}/payments"),
            "k1",
            &json!({"name": "Ann"}),
        ))
        .await;
    other_path.problem(422);
    assert_eq!(app.count("customers"), 2, "Ann and the payer, not Bob");
}

#[actix_web::test]
async fn keys_belong_to_their_account() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let body = json!({"name": "Same key, two accounts"});
    let a = app
        .call(keyed(&acme, "/v1/customers", "shared", &body))
        .await;
    let g = app
        .call(keyed(&globex, "/v1/customers", "shared", &body))
        .await;
    assert_eq!(a.ok(201)["id"], 1);
    assert_eq!(g.ok(201)["id"], 1);
    assert_eq!(
        g.header("idempotent-replayed"),
        None,
        "globex's request ran: it is not acme's replay"
    );
    assert_eq!(app.count("customers"), 2);
}

#[actix_web::test]
async fn malformed_keys_are_400() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let long = "k".repeat(256);
    for key in ["has space", long.as_str()] {
        app.call(keyed(&acme, "/v1/customers", key, &json!({"name": "x"})))
            .await
            .problem(400);
    }
    assert_eq!(app.count("customers"), 0);
}

#[actix_web::test]
async fn keys_are_kept_twenty_four_hours() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let body = json!({"name": "Ann"});
    app.call(keyed(&acme, "/v1/customers", "aging", &body))
        .await
        .ok(201);
    let mut owner = app.db().owner_conn();
    owner
        .batch_execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '23 hours 59 minutes'",
        )
        .unwrap();
    let replay = app
        .call(keyed(&acme, "/v1/customers", "aging", &body))
        .await;
    assert_eq!(
        replay.header("idempotent-replayed"),
        Some("true"),
        "still kept just under 24 hours"
    );
    owner
        .batch_execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
        .unwrap();
    let fresh = app
        .call(keyed(&acme, "/v1/customers", "aging", &body))
        .await;
    assert_eq!(fresh.ok(201)["id"], 2, "an expired key is a new request");
    assert_eq!(
        scalar(&mut owner, "SELECT count(*) AS n FROM idempotency_keys"),
        1,
        "the old one was purged"
    );
}

#[test]
fn a_retry_while_the_first_is_still_running_is_409() {
    let db = TestDatabase::new();
    let config = test_config(&db, true);
    // Set up an issued invoice through one app.
    let (tenant, id) = actix_web::rt::System::new().block_on(async {
        let app = spawn_with(None, config.clone()).await;
        let tenant = app.tenant("acme").await;
        let id = app.issued_invoice(&tenant, "50.00").await;
        (tenant, id)
    });
    let path = format!("/v1/invoices/{id}/payments");

    // Hold the invoice row so the first payment waits inside its transaction.
    let mut blocker = db.owner_conn();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM invoices WHERE account_id = 'acme' AND id = {id} FOR UPDATE"
        ))
        .unwrap();
    let first = {
        let (tenant, path, config) = (tenant.clone(), path.clone(), config.clone());
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let app = spawn_with(None, config).await;
                app.call(keyed(&tenant, &path, "slow-1", &json!({"amount": "10.00"})))
                    .await
            })
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut watcher = db.superuser_conn();
    // On Citus the wait is on the worker that holds the row: every node's
    // sessions are in citus_stat_activity.
    let activity = if crate::harness::server::citus().is_some() {
        "citus_stat_activity"
    } else {
        "pg_stat_activity"
    };
    while scalar(
        &mut watcher,
        &format!(
            "SELECT count(*) AS n FROM {activity} WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ),
    ) != 1
    {
        assert!(Instant::now() < deadline, "the first request never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (second, third) = actix_web::rt::System::new().block_on(async {
        let app = spawn_with(None, config.clone()).await;
        let second = app
            .call(keyed(&tenant, &path, "slow-1", &json!({"amount": "10.00"})))
            .await;
        blocker.batch_execute("COMMIT").unwrap();
        (second, app)
    });
    assert_eq!(
        second.problem(409)["type"],
        "urn:invoiced:problem:idempotency-key-in-use"
    );
    let first = first.join().unwrap();
    assert_eq!(first.ok(201)["amount"], "10.00");
    actix_web::rt::System::new().block_on(async move {
        let replay = third
            .call(keyed(&tenant, &path, "slow-1", &json!({"amount": "10.00"})))
            .await;
        assert_eq!(replay.header("idempotent-replayed"), Some("true"));
        assert_eq!(replay.text, first.text);
        let payments = third.send(&tenant, Method::GET, &path, None).await;
        assert_eq!(payments.ok(200)["data"].as_array().unwrap().len(), 1);
    });
}

#[actix_web::test]
async fn a_refusal_after_the_work_began_is_replayed_even_once_the_conflict_is_gone() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    let draft = app.invoice(&acme, customer, &[("1", "50.00", "0")]).await;
    let id = draft["id"].as_i64().unwrap();
    let path = format!("/v1/invoices/{id}/payments");
    let payment = json!({"amount": "50.00"});

    // A payment on a draft is refused...
    let first = app.call(keyed(&acme, &path, "pay-early", &payment)).await;
    first.problem(409);
    // ...and stays refused under its key after the invoice is issued: the
    // retry does not do what the first attempt did not.
    app.send(
        &acme,
        Method::POST,
        &format!("/v1/invoices/{id}/issue"),
        None,
    )
    .await
    .ok(200);
    let retry = app.call(keyed(&acme, &path, "pay-early", &payment)).await;
    retry.problem(409);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.text, first.text);
    assert_eq!(app.count("payments"), 0);
    assert_eq!(
        app.get(&acme, &format!("/v1/invoices/{id}")).await.ok(200)["status"],
        "issued"
    );
    // A 404 is remembered too.
    let missing = app
        .call(keyed(
            &acme,
            "/v1/invoices/999/payments",
            "pay-missing",
            &payment,
        ))
        .await;
    missing.problem(404);
    let again = app
        .call(keyed(
            &acme,
            "/v1/invoices/999/payments",
            "pay-missing",
            &payment,
        ))
        .await;
    again.problem(404);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    // A new key does the work.
    app.call(keyed(&acme, &path, "pay-now", &payment))
        .await
        .ok(201);
    assert_eq!(app.count("payments"), 1);
}

#[actix_web::test]
async fn a_request_refused_by_validation_may_be_retried_with_its_key() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let invalid = json!({"name": "Ann", "email": "not an address"});
    app.call(keyed(&acme, "/v1/customers", "customer-1", &invalid))
        .await
        .problem(422);
    let fixed = json!({"name": "Ann", "email": "ann@example.com"});
    let created = app
        .call(keyed(&acme, "/v1/customers", "customer-1", &fixed))
        .await;
    assert_eq!(created.ok(201)["email"], "ann@example.com");
    assert_eq!(created.header("idempotent-replayed"), None);
    assert_eq!(app.count("customers"), 1);
}

#[actix_web::test]
async fn expired_keys_are_pruned_for_every_account() {
    let app = spawn().await;
    for account in ["acme", "globex"] {
        let tenant = app.tenant(account).await;
        app.call(keyed(
            &tenant,
            "/v1/customers",
            "old",
            &json!({"name": "Ann"}),
        ))
        .await
        .ok(201);
        app.call(keyed(
            &tenant,
            "/v1/customers",
            "new",
            &json!({"name": "Bob"}),
        ))
        .await
        .ok(201);
    }
    crate::harness::execute(
        &mut app.db().owner_conn(),
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old'",
    );
    // As the service's maintenance task runs it: as the app role.
    let pruned = invoiced::maintenance::run_once(&mut app.db().app_conn(), 90).unwrap();
    assert_eq!(pruned.idempotency_keys, 2);
    let left = crate::harness::json_rows(
        &mut app.db().owner_conn(),
        "SELECT account_id, key FROM idempotency_keys ORDER BY 1, 2",
    );
    assert_eq!(
        left,
        vec![
            json!({"account_id": "acme", "key": "new"}),
            json!({"account_id": "globex", "key": "new"})
        ]
    );
}
