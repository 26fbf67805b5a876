//! Credit notes: the only correction of an issued invoice.

use actix_web::http::Method;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::harness::{TestTenant, spawn};

async fn issued<S, B>(
    app: &crate::harness::app::TestApp<S>,
    tenant: &TestTenant,
    items: Value,
) -> Value
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let customer = app.customer(tenant, "Ann").await;
    let draft = app
        .post(
            tenant,
            "/v1/invoices",
            json!({"customer_id": customer, "currency": "EUR", "items": items}),
        )
        .await;
    let id = draft.ok(201)["id"].as_i64().unwrap();
    app.send(
        tenant,
        Method::POST,
        &format!("/v1/invoices/{id}/issue"),
        None,
    )
    .await
    .ok(200)
    .clone()
}

fn two_items() -> Value {
    json!([
        {"description": "Consulting", "quantity": "10", "unit_price": "100.00", "tax_rate": "19"},
        {"description": "Travel", "quantity": 1, "unit_price": "50.00"}
    ])
}

#[actix_web::test]
async fn a_credit_note_credits_items_by_quantity_free_lines_or_everything_left() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let invoice = issued(&app, &acme, two_items()).await;
    let id = invoice["id"].as_i64().unwrap();
    assert_eq!(invoice["total"], "1240.00");
    let consulting = invoice["items"][0]["id"].as_i64().unwrap();
    let path = format!("/v1/invoices/{id}/credit_notes");

    let partial = app
        .post(
            &acme,
            &path,
            json!({"reason": "Two days less", "lines": [{"item_id": consulting, "quantity": 2}]}),
        )
        .await;
    let partial = partial.ok(201).clone();
    let year = chrono::Utc::now().format("%Y").to_string();
    assert_eq!(partial["number"], format!("CN-{year}-00001"));
    assert_eq!(partial["invoice_number"], invoice["number"]);
    assert_eq!(partial["invoice_issue_date"], invoice["issue_date"]);
    assert_eq!(partial["status"], "issued");
    assert_eq!(partial["kind"], "lines");
    assert_eq!(partial["lines"][0]["description"], "Consulting");
    assert_eq!(partial["lines"][0]["subtotal"], "200.00");
    assert_eq!(partial["lines"][0]["tax"], "38.00");
    assert_eq!(partial["total"], "238.00");
    assert_eq!(
        partial["tax_breakdown"],
        json!([{"category": "S", "rate": "19.00", "taxable_amount": "200.00", "tax_amount": "38.00",
                "exemption_reason": null}])
    );
    let free = app
        .post(
            &acme,
            &path,
            json!({"reason": "Goodwill", "lines": [{"description": "Discount", "quantity": 1, "unit_price": "10.00",
                                                    "tax_rate": "19"}]}),
        )
        .await;
    assert_eq!(free.ok(201)["total"], "11.90");
    assert_eq!(free.body["lines"][0]["item_id"], Value::Null);
    let after = app.get(&acme, &format!("/v1/invoices/{id}")).await;
    let after = after.ok(200);
    assert_eq!(after["amount_credited"], "249.90");
    assert_eq!(after["balance_due"], "990.10");
    assert_eq!(after["status"], "issued");
    assert_eq!(after["credit_note_ids"], json!([1, 2]));

    // Credited further by lines (free lines were used, so not `full`).
    app.post(&acme, &path, json!({"reason": "All", "full": true}))
        .await
        .problem(409);
    let rest = app
        .post(
            &acme,
            &path,
            json!({"reason": "The rest", "lines": [{"item_id": consulting, "quantity": 8}]}),
        )
        .await;
    assert_eq!(rest.ok(201)["total"], "952.00");
    let listed = app.get(&acme, &path).await;
    assert_eq!(listed.ok(200)["data"].as_array().unwrap().len(), 3);
    let account_wide = app.get(&acme, "/v1/credit_notes?invoice_id=1").await;
    assert_eq!(account_wide.ok(200)["data"].as_array().unwrap().len(), 3);
    let one = app.get(&acme, "/v1/credit_notes/1").await;
    assert_eq!(one.ok(200)["id"], 1);

    // A fresh invoice credited in full, in one credit note.
    let second = issued(&app, &acme, two_items()).await;
    let second_id = second["id"].as_i64().unwrap();
    let full = app
        .post(
            &acme,
            &format!("/v1/invoices/{second_id}/credit_notes"),
            json!({"reason": "Wrong customer", "full": true}),
        )
        .await;
    let full = full.ok(201).clone();
    assert_eq!(full["kind"], "full");
    assert_eq!(full["total"], "1240.00");
    assert_eq!(full["lines"].as_array().unwrap().len(), 2);
    let voided = app.get(&acme, &format!("/v1/invoices/{second_id}")).await;
    assert_eq!(
        voided.ok(200)["status"],
        "void",
        "fully credited, nothing paid"
    );
    assert_eq!(voided.body["balance_due"], "0.00");
}

#[actix_web::test]
async fn crediting_more_than_is_left_is_409_and_changes_nothing() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let invoice = issued(&app, &acme, two_items()).await;
    let id = invoice["id"].as_i64().unwrap();
    let travel = invoice["items"][1]["id"].as_i64().unwrap();
    let path = format!("/v1/invoices/{id}/credit_notes");
    let too_many = app
        .post(
            &acme,
            &path,
            json!({"reason": "x", "lines": [{"item_id": travel, "quantity": 2}]}),
        )
        .await;
    assert_eq!(
        too_many.problem(409)["errors"][0]["field"],
        "lines[0].quantity"
    );
    // The same item twice in one request counts together.
    app.post(
        &acme,
        &path,
        json!({"reason": "x", "lines": [{"item_id": travel, "quantity": "0.6"}, {"item_id": travel, "quantity": "0.6"}]}),
    )
    .await
    .problem(409);
    let too_much = app
        .post(
            &acme,
            &path,
            json!({"reason": "x", "lines": [{"description": "Refund", "quantity": 1, "unit_price": "2000.00"}]}),
        )
        .await;
    assert_eq!(
        too_much.problem(409)["type"],
        "urn:invoiced:problem:credit-exceeds-invoice"
    );
    for (body, field) in [
        (json!({"reason": "x"}), "lines"),
        (json!({"reason": "x", "lines": []}), "lines"),
        (json!({"reason": "", "full": true}), "reason"),
        (
            json!({"reason": "x", "full": true, "lines": [{"item_id": travel, "quantity": 1}]}),
            "full",
        ),
        (
            json!({"reason": "x", "lines": [{"item_id": travel, "quantity": 1, "unit_price": "1.00"}]}),
            "lines[0].unit_price",
        ),
        (
            json!({"reason": "x", "lines": [{"item_id": 999, "quantity": 1}]}),
            "lines[0].item_id",
        ),
        (
            json!({"reason": "x", "lines": [{"quantity": 1, "unit_price": "1.00"}]}),
            "lines[0].description",
        ),
    ] {
        let reply = app.post(&acme, &path, body.clone()).await;
        let problem = reply.problem(422);
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    assert_eq!(app.count("credit_notes"), 0);
    assert_eq!(
        app.get(&acme, "/v1/account").await.ok(200)["next_credit_note_sequence"],
        1,
        "no number taken"
    );
    // Drafts and void invoices are not credited.
    let customer = app.customer(&acme, "Bob").await;
    let draft = app.invoice(&acme, customer, &[("1", "5.00", "0")]).await;
    let draft_id = draft["id"].as_i64().unwrap();
    app.post(
        &acme,
        &format!("/v1/invoices/{draft_id}/credit_notes"),
        json!({"reason": "x", "full": true}),
    )
    .await
    .problem(409);
    app.get(&acme, "/v1/invoices/999/credit_notes")
        .await
        .problem(404);
    app.post(
        &acme,
        "/v1/invoices/999/credit_notes",
        json!({"reason": "x", "full": true}),
    )
    .await
    .problem(404);
}

#[actix_web::test]
async fn an_item_credited_in_parts_adds_up_to_the_cent_in_both_roundings() {
    let app = spawn().await;
    for (account, rounding) in [("lined", "line"), ("documented", "document")] {
        let tenant = app.tenant(account).await;
        app.patch(&tenant, "/v1/account", json!({"tax_rounding": rounding}))
            .await
            .ok(200);
        // 3 × 3.33 = 9.99, tax 1.8981 → 1.90; a third is 3.33, tax 0.6327 → 0.63.
        let invoice = issued(
            &app,
            &tenant,
            json!([{"description": "Thing", "quantity": 3, "unit_price": "3.33", "tax_rate": "19"}]),
        )
        .await;
        assert_eq!(invoice["total"], "11.89");
        let id = invoice["id"].as_i64().unwrap();
        let item = invoice["items"][0]["id"].as_i64().unwrap();
        let path = format!("/v1/invoices/{id}/credit_notes");
        let mut totals = Vec::new();
        for _ in 0..3 {
            let note = app
                .post(
                    &tenant,
                    &path,
                    json!({"reason": "a third", "lines": [{"item_id": item, "quantity": 1}]}),
                )
                .await;
            totals.push(note.ok(201)["total"].as_str().unwrap().to_owned());
        }
        assert_eq!(
            totals,
            ["3.96", "3.96", "3.97"],
            "{account}: the last takes what is left"
        );
        let after = app.get(&tenant, &format!("/v1/invoices/{id}")).await;
        assert_eq!(after.ok(200)["amount_credited"], "11.89");
        assert_eq!(after.body["status"], "void");
        app.post(
            &tenant,
            &path,
            json!({"reason": "more", "lines": [{"item_id": item, "quantity": "0.001"}]}),
        )
        .await
        .problem(409);
    }
}

#[actix_web::test]
async fn statuses_follow_payments_and_credits() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let hundred = json!([{"description": "Work", "quantity": 1, "unit_price": "100.00"}]);
    // Paid in part, credited for the rest: paid.
    let a = issued(&app, &acme, hundred.clone()).await["id"]
        .as_i64()
        .unwrap();
    app.post(
        &acme,
        &format!("/v1/invoices/{a}/payments"),
        json!({"amount": "60.00"}),
    )
    .await
    .ok(201);
    app.post(
        &acme,
        &format!("/v1/invoices/{a}/credit_notes"),
        json!({"reason": "Discount", "lines": [{"description": "Discount", "quantity": 1, "unit_price": "40.00"}]}),
    )
    .await
    .ok(201);
    let a = app.get(&acme, &format!("/v1/invoices/{a}")).await;
    assert_eq!(a.ok(200)["status"], "paid");
    assert_eq!(a.body["balance_due"], "0.00");
    assert_eq!(a.body["amount_refundable"], "0.00");
    // Paid in full, then credited: money owed back.
    let b = issued(&app, &acme, hundred.clone()).await["id"]
        .as_i64()
        .unwrap();
    app.post(
        &acme,
        &format!("/v1/invoices/{b}/payments"),
        json!({"amount": "100.00"}),
    )
    .await
    .ok(201);
    app.post(
        &acme,
        &format!("/v1/invoices/{b}/credit_notes"),
        json!({"reason": "Returned", "full": true}),
    )
    .await
    .ok(201);
    let b = app.get(&acme, &format!("/v1/invoices/{b}")).await;
    assert_eq!(b.ok(200)["status"], "paid");
    assert_eq!(b.body["amount_credited"], "100.00");
    assert_eq!(b.body["balance_due"], "0.00");
    assert_eq!(b.body["amount_refundable"], "100.00");
    // A payment beyond what credits left is refused.
    let c = issued(&app, &acme, hundred.clone()).await["id"]
        .as_i64()
        .unwrap();
    app.post(
        &acme,
        &format!("/v1/invoices/{c}/credit_notes"),
        json!({"reason": "Half", "lines": [{"description": "Half", "quantity": 1, "unit_price": "50.00"}]}),
    )
    .await
    .ok(201);
    app.post(
        &acme,
        &format!("/v1/invoices/{c}/payments"),
        json!({"amount": "60.00"}),
    )
    .await
    .problem(409);
    app.post(
        &acme,
        &format!("/v1/invoices/{c}/payments"),
        json!({"amount": "50.00"}),
    )
    .await
    .ok(201);
    let c = app.get(&acme, &format!("/v1/invoices/{c}")).await;
    assert_eq!(c.ok(200)["status"], "paid");
}

#[actix_web::test]
async fn voiding_issues_the_cancellation_credit_note_in_the_same_transaction() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let invoice = issued(&app, &acme, two_items()).await;
    let id = invoice["id"].as_i64().unwrap();
    let voided = app
        .send(
            &acme,
            Method::POST,
            &format!("/v1/invoices/{id}/void"),
            None,
        )
        .await;
    let voided = voided.ok(200).clone();
    assert_eq!(voided["status"], "void");
    assert_eq!(voided["amount_credited"], "1240.00");
    assert_eq!(voided["credit_note_ids"], json!([1]));
    let note = app.get(&acme, "/v1/credit_notes/1").await;
    let note = note.ok(200);
    assert_eq!(note["kind"], "cancellation");
    assert_eq!(note["total"], "1240.00");
    assert_eq!(
        note["reason"],
        format!(
            "Cancellation of invoice {}",
            invoice["number"].as_str().unwrap()
        )
    );
    // Nothing is voided or credited when voiding is refused.
    let paid = issued(&app, &acme, two_items()).await["id"]
        .as_i64()
        .unwrap();
    app.post(
        &acme,
        &format!("/v1/invoices/{paid}/payments"),
        json!({"amount": "1.00"}),
    )
    .await
    .ok(201);
    app.send(
        &acme,
        Method::POST,
        &format!("/v1/invoices/{paid}/void"),
        None,
    )
    .await
    .problem(409);
    app.send(
        &acme,
        Method::POST,
        &format!("/v1/invoices/{id}/void"),
        None,
    )
    .await
    .problem(409);
    assert_eq!(app.count("credit_notes"), 1);
    assert_eq!(app.count("credit_note_lines"), 2);
    // Credit notes never change.
    for method in [Method::PATCH, Method::DELETE, Method::PUT] {
        let reply = app
            .send(
                &acme,
                method,
                "/v1/credit_notes/1",
                Some(json!({"reason": "x"})),
            )
            .await;
        reply.problem(405);
    }
    let mut sql = app.db().app_conn();
    for statement in [
        "UPDATE credit_notes SET reason = 'forged'",
        "DELETE FROM credit_note_lines",
        "UPDATE credit_note_taxes SET tax_amount = 0",
    ] {
        let refused = crate::harness::try_as_tenant(&mut sql, "acme", statement).unwrap_err();
        assert!(
            refused.contains("permission denied"),
            "{statement}: {refused}"
        );
    }
}

#[actix_web::test]
async fn concurrent_credit_notes_and_payments_never_exceed_the_total() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let invoice = issued(
        &app,
        &acme,
        json!([{"description": "Work", "quantity": 1, "unit_price": "100.00"}]),
    )
    .await;
    let id = invoice["id"].as_i64().unwrap();
    let credit = json!({"reason": "part", "lines": [{"description": "Part", "quantity": 1, "unit_price": "10.00"}]});
    let payment = json!({"amount": "10.00"});
    let requests = (0..30).map(|n| {
        let (path, body) = if n % 2 == 0 {
            (format!("/v1/invoices/{id}/credit_notes"), credit.clone())
        } else {
            (format!("/v1/invoices/{id}/payments"), payment.clone())
        };
        let app = &app;
        let acme = &acme;
        async move { (n % 2 == 0, app.post(acme, &path, body).await.status) }
    });
    let outcomes = join_all(requests).await;
    let credits = outcomes.iter().filter(|(c, s)| *c && *s == 201).count();
    let payments = outcomes.iter().filter(|(c, s)| !*c && *s == 201).count();
    assert!(
        outcomes.iter().all(|(_, s)| matches!(s, 201 | 409)),
        "{outcomes:?}"
    );
    let after = app.get(&acme, &format!("/v1/invoices/{id}")).await;
    let after = after.ok(200);
    let money = |field: &str| -> f64 { after[field].as_str().unwrap().parse().unwrap() };
    assert_eq!(money("amount_credited"), 10.0 * credits as f64);
    assert_eq!(money("amount_paid"), 10.0 * payments as f64);
    assert!(money("amount_credited") <= 100.0, "{after}");
    assert!(money("amount_paid") <= 100.0, "{after}");
    assert_eq!(
        money("amount_refundable"),
        (money("amount_paid") + money("amount_credited") - 100.0).max(0.0)
    );
    assert!(
        credits + payments >= 10,
        "the total was reached: {outcomes:?}"
    );
    assert_eq!(after["status"], if payments > 0 { "paid" } else { "void" });
    // And the database agrees.
    let verify = crate::harness::output_within(
        crate::harness::invoiced().args(["verify", "--database-url", &app.db().owner_url()]),
        std::time::Duration::from_secs(60),
    );
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
