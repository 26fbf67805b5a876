//! Bad input is refused with a problem naming the field (400 when the
//! body cannot be read, 422 when its values break a rule), never a 500,
//! and a refused request writes nothing.

use serde_json::{Value, json};

use crate::harness::spawn;

fn item(overrides: Value) -> Value {
    let mut item = json!({"description": "Consulting", "quantity": "1", "unit_price": "10.00", "tax_rate": "19"});
    for (key, value) in overrides.as_object().unwrap() {
        item[key] = value.clone();
    }
    item
}

fn invoice(customer: i64, overrides: Value) -> Value {
    let mut body = json!({"customer_id": customer, "currency": "EUR", "items": [item(json!({}))]});
    for (key, value) in overrides.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

#[actix_web::test]
async fn every_invalid_invoice_is_refused_naming_the_field_and_writes_nothing() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let c = app.customer(&acme, "Ann").await;
    let one_item = |overrides: Value| json!({"items": [item(overrides)]});
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "lower-case currency",
            json!({"currency": "eur"}),
            "currency",
        ),
        ("long currency", json!({"currency": "EURO"}), "currency"),
        ("no currency", json!({"currency": null}), "currency"),
        (
            "impossible date",
            json!({"issue_date": "2026-02-30"}),
            "issue_date",
        ),
        ("not a date", json!({"due_date": "next week"}), "due_date"),
        (
            "due before issue",
            json!({"issue_date": "2026-03-02", "due_date": "2026-03-01"}),
            "due_date",
        ),
        (
            "zero quantity",
            one_item(json!({"quantity": "0"})),
            "items[0].quantity",
        ),
        (
            "negative quantity",
            one_item(json!({"quantity": -1})),
            "items[0].quantity",
        ),
        (
            "quantity with 4 decimals",
            one_item(json!({"quantity": "0.0001"})),
            "items[0].quantity",
        ),
        (
            "quantity too large",
            one_item(json!({"quantity": "1000000000"})),
            "items[0].quantity",
        ),
        (
            "negative price",
            one_item(json!({"unit_price": "-0.01"})),
            "items[0].unit_price",
        ),
        (
            "price with 3 decimals",
            one_item(json!({"unit_price": "1.005"})),
            "items[0].unit_price",
        ),
        (
            "price with float noise",
            one_item(json!({"unit_price": 19.990000000000002})),
            "items[0].unit_price",
        ),
        (
            "price too large",
            one_item(json!({"unit_price": "1000000000000"})),
            "items[0].unit_price",
        ),
        (
            "price in exponent beyond range",
            one_item(json!({"unit_price": 1e300})),
            "items[0].unit_price",
        ),
        (
            "line too large",
            one_item(json!({"quantity": "999999999", "unit_price": "999999999999.99"})),
            "items[0].unit_price",
        ),
        (
            "tax over 100",
            one_item(json!({"tax_rate": "100.01"})),
            "items[0].tax_rate",
        ),
        (
            "negative tax",
            one_item(json!({"tax_rate": -1})),
            "items[0].tax_rate",
        ),
        (
            "tax with 3 decimals",
            one_item(json!({"tax_rate": "7.125"})),
            "items[0].tax_rate",
        ),
        (
            "price not a number",
            one_item(json!({"unit_price": "ten"})),
            "items[0].unit_price",
        ),
        (
            "price a boolean",
            one_item(json!({"unit_price": true})),
            "items[0].unit_price",
        ),
        (
            "empty description",
            one_item(json!({"description": "  "})),
            "items[0].description",
        ),
        (
            "long description",
            one_item(json!({"description": "d".repeat(1001)})),
            "items[0].description",
        ),
        (
            "position zero",
            one_item(json!({"position": 0})),
            "items[0].position",
        ),
        (
            "unknown item field",
            one_item(json!({"colour": "red"})),
            "items[0].colour",
        ),
        ("long notes", json!({"notes": "n".repeat(5001)}), "notes"),
        ("long number", json!({"number": "N".repeat(101)}), "number"),
        (
            "customer as text",
            json!({"customer_id": "1"}),
            "customer_id",
        ),
        ("customer zero", json!({"customer_id": 0}), "customer_id"),
        (
            "unknown customer",
            json!({"customer_id": 999}),
            "customer_id",
        ),
        (
            "items not a list",
            json!({"items": {"description": "x"}}),
            "items",
        ),
        ("unknown field", json!({"colour": "red"}), "colour"),
        (
            "status is not writable",
            json!({"status": "paid"}),
            "status",
        ),
    ];
    for (case, overrides, field) in cases {
        let reply = app.post(&acme, "/v1/invoices", invoice(c, overrides)).await;
        let problem = reply.problem(422);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.contains(&field),
            "{case}: expected {field} in {fields:?}"
        );
        assert_eq!(
            (app.count("invoices"), app.count("invoice_items")),
            (0, 0),
            "{case} wrote something"
        );
    }
    // More than 500 items.
    let many: Vec<Value> = (0..501).map(|_| item(json!({}))).collect();
    let reply = app
        .post(&acme, "/v1/invoices", invoice(c, json!({"items": many})))
        .await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "items");
    assert_eq!(app.count("invoices"), 0);
    // Exactly 500 is fine.
    let most: Vec<Value> = (0..500).map(|_| item(json!({}))).collect();
    app.post(&acme, "/v1/invoices", invoice(c, json!({"items": most})))
        .await
        .ok(201);
}

#[actix_web::test]
async fn invalid_changes_to_a_draft_or_its_items_change_nothing() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let c = app.customer(&acme, "Ann").await;
    let created = app
        .post(
            &acme,
            "/v1/invoices",
            invoice(c, json!({"issue_date": "2026-03-01"})),
        )
        .await;
    let created = created.ok(201).clone();
    let id = created["id"].as_i64().unwrap();
    let item_id = created["items"][0]["id"].as_i64().unwrap();
    let invoice_path = format!("/v1/invoices/{id}");
    let item_path = format!("/v1/invoices/{id}/items/{item_id}");

    for (body, field) in [
        (json!({"currency": "usd"}), "currency"),
        (json!({"currency": null}), "currency"),
        (json!({"customer_id": null}), "customer_id"),
        (json!({"customer_id": 999}), "customer_id"),
        (json!({"due_date": "2026-02-28"}), "due_date"),
        (json!({"issue_date": "2026-13-01"}), "issue_date"),
        (json!({"notes": "n".repeat(5001)}), "notes"),
        (json!({"items": []}), "items"),
    ] {
        let reply = app.patch(&acme, &invoice_path, body.clone()).await;
        assert_eq!(reply.problem(422)["errors"][0]["field"], field, "{body}");
    }
    for (body, field) in [
        (json!({"quantity": 0}), "quantity"),
        (json!({"quantity": null}), "quantity"),
        (json!({"unit_price": "1.001"}), "unit_price"),
        (
            json!({"unit_price": "999999999999.99", "quantity": "2"}),
            "unit_price",
        ),
        (json!({"tax_rate": 101}), "tax_rate"),
        (json!({"description": ""}), "description"),
        (json!({"position": 2}), "position"),
        (json!({"id": 5}), "id"),
    ] {
        let reply = app.patch(&acme, &item_path, body.clone()).await;
        assert_eq!(reply.problem(422)["errors"][0]["field"], field, "{body}");
    }
    // Stored as a line of 1 × 10.00: the PATCH above with quantity 2 and
    // a price of 999999999999.99 would overflow; so would raising only the price.
    let reply = app
        .patch(&acme, &item_path, json!({"quantity": "999999999"}))
        .await;
    reply.ok(200);
    let reply = app
        .patch(&acme, &item_path, json!({"unit_price": "999999999999.99"}))
        .await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "unit_price");
    app.patch(&acme, &item_path, json!({"quantity": "1"}))
        .await
        .ok(200);

    let bad_item = app
        .post(
            &acme,
            &format!("{invoice_path}/items"),
            json!({"description": "x", "quantity": "abc", "unit_price": 1}),
        )
        .await;
    assert_eq!(bad_item.problem(422)["errors"][0]["field"], "quantity");
    let after = app.get(&acme, &invoice_path).await;
    let mut unchanged = after.ok(200).clone();
    unchanged["updated_at"] = created["updated_at"].clone();
    assert_eq!(unchanged, created, "nothing changed");
}

#[actix_web::test]
async fn invalid_payments_are_refused_and_write_nothing() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let id = app.issued_invoice(&acme, "100.00").await;
    let path = format!("/v1/invoices/{id}/payments");
    for (body, field) in [
        (json!({"amount": 0}), "amount"),
        (json!({"amount": "-5"}), "amount"),
        (json!({"amount": "1.001"}), "amount"),
        (json!({"amount": "1000000000000"}), "amount"),
        (json!({}), "amount"),
        (json!({"amount": "1", "paid_at": "yesterday"}), "paid_at"),
        (json!({"amount": "1", "paid_at": "2026-03-01"}), "paid_at"),
        (json!({"amount": "1", "method": "bitcoin"}), "method"),
        (
            json!({"amount": "1", "reference": "r".repeat(201)}),
            "reference",
        ),
        (json!({"amount": "1", "invoice_id": 2}), "invoice_id"),
    ] {
        let reply = app.post(&acme, &path, body.clone()).await;
        assert_eq!(reply.problem(422)["errors"][0]["field"], field, "{body}");
    }
    assert_eq!(app.count("payments"), 0);
    assert_eq!(
        app.get(&acme, &format!("/v1/invoices/{id}")).await.ok(200)["status"],
        "issued"
    );
}
