//! Payments: only on issued invoices, never beyond the balance, immutable.

use actix_web::http::Method;
use futures_util::future::join_all;
use serde_json::json;

use crate::harness::spawn;

#[actix_web::test]
async fn twenty_concurrent_payments_of_ten_on_a_hundred_exactly_ten_succeed() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let id = app.issued_invoice(&acme, "100.00").await;
    let path = format!("/v1/invoices/{id}/payments");
    let replies = join_all(
        (0..20).map(|_| app.post(&acme, &path, json!({"amount": "10.00", "method": "card"}))),
    )
    .await;
    let accepted = replies.iter().filter(|r| r.status == 201).count();
    let refused: Vec<_> = replies.iter().filter(|r| r.status != 201).collect();
    assert_eq!(accepted, 10);
    for reply in &refused {
        assert_eq!(
            reply.problem(409)["type"]
                .as_str()
                .unwrap()
                .rsplit(':')
                .next(),
            Some(
                if reply.body["detail"].as_str().unwrap().contains("exceeds") {
                    "payment-exceeds-balance"
                } else {
                    "invalid-transition"
                }
            )
        );
    }
    let invoice = app.get(&acme, &format!("/v1/invoices/{id}")).await;
    let invoice = invoice.ok(200);
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["amount_paid"], "100.00");
    assert_eq!(invoice["balance_due"], "0.00");
    let payments = app.get(&acme, &path).await;
    assert_eq!(payments.ok(200)["data"].as_array().unwrap().len(), 10);
}

#[actix_web::test]
async fn a_payment_larger_than_the_balance_is_refused_and_writes_nothing() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let id = app.issued_invoice(&acme, "50.00").await;
    let path = format!("/v1/invoices/{id}/payments");
    app.post(&acme, &path, json!({"amount": "20.00"}))
        .await
        .ok(201);
    let too_much = app.post(&acme, &path, json!({"amount": "30.01"})).await;
    let problem = too_much.problem(409);
    assert!(
        problem["detail"].as_str().unwrap().contains("30.00"),
        "names the balance: {problem}"
    );
    assert_eq!(app.count("payments"), 1);
    let exact = app.post(&acme, &path, json!({"amount": 30})).await;
    assert_eq!(exact.ok(201)["amount"], "30.00");
    assert_eq!(
        app.get(&acme, &format!("/v1/invoices/{id}")).await.ok(200)["status"],
        "paid"
    );
}

#[actix_web::test]
async fn a_payment_records_its_fields_and_defaults_paid_at_to_now() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let id = app.issued_invoice(&acme, "80.00").await;
    let path = format!("/v1/invoices/{id}/payments");
    let given = app
        .post(&acme, &path, json!({"amount": "12.5", "paid_at": "2026-03-01T14:05:00+02:00", "method": "bank_transfer", "reference": "SEPA 42"}))
        .await;
    let given = given.ok(201).clone();
    assert_eq!(given["amount"], "12.50");
    assert_eq!(
        given["paid_at"], "2026-03-01T12:05:00Z",
        "stored as the instant, shown in UTC"
    );
    assert_eq!(given["method"], "bank_transfer");
    assert_eq!(given["reference"], "SEPA 42");
    assert_eq!(given["invoice_id"], id);
    let defaulted = app.post(&acme, &path, json!({"amount": "1.00"})).await;
    let defaulted = defaulted.ok(201).clone();
    assert_eq!(defaulted["paid_at"], defaulted["created_at"]);
    assert_eq!(defaulted["method"], serde_json::Value::Null);

    let one = app
        .get(&acme, &format!("/v1/payments/{}", given["id"]))
        .await;
    assert_eq!(one.ok(200), &given);
    let all = app.get(&acme, "/v1/payments").await;
    assert_eq!(all.ok(200)["data"].as_array().unwrap().len(), 2);
    let filtered = app
        .get(&acme, &format!("/v1/payments?invoice_id={id}&limit=1"))
        .await;
    let filtered = filtered.ok(200);
    assert_eq!(filtered["data"][0]["id"], given["id"]);
    assert_eq!(filtered["has_more"], true);
    assert!(
        app.get(&acme, "/v1/payments?invoice_id=999").await.ok(200)["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.get(&acme, "/v1/invoices/999/payments")
        .await
        .problem(404);
    app.get(&acme, "/v1/payments/999").await.problem(404);
}

#[actix_web::test]
async fn payments_are_immutable() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let id = app.issued_invoice(&acme, "10.00").await;
    let payment = app
        .post(
            &acme,
            &format!("/v1/invoices/{id}/payments"),
            json!({"amount": "5.00"}),
        )
        .await;
    let payment_id = payment.ok(201)["id"].as_i64().unwrap();
    for method in [Method::PATCH, Method::DELETE, Method::PUT] {
        let reply = app
            .send(
                &acme,
                method.clone(),
                &format!("/v1/payments/{payment_id}"),
                Some(json!({"amount": "1.00"})),
            )
            .await;
        reply.problem(405);
        assert_eq!(reply.header("allow"), Some("GET"), "{method}");
    }
    let unchanged = app.get(&acme, &format!("/v1/payments/{payment_id}")).await;
    assert_eq!(unchanged.ok(200)["amount"], "5.00");
}
