//! /v1/invoices and their items: derived amounts, lifecycle, positions, lists.

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::harness::{TestTenant, execute, spawn};

/// (lines as (quantity, unit_price, tax_rate), per-line (subtotal, tax), invoice (subtotal, tax_total, total)),
/// every figure worked out by hand, rounding each line half away from zero.
type Case = (
    &'static str,
    Vec<(&'static str, &'static str, &'static str)>,
    Vec<(&'static str, &'static str)>,
    (&'static str, &'static str, &'static str),
);

fn rounding_cases() -> Vec<Case> {
    vec![
        // 1.5 × 0.05 = 0.075 → 0.08; 0.08 × 19% = 0.0152 → 0.02
        (
            "half a cent rounds up",
            vec![("1.5", "0.05", "19")],
            vec![("0.08", "0.02")],
            ("0.08", "0.02", "0.10"),
        ),
        // 0.1 × 0.05 = 0.005 → 0.01 (half away from zero, not to even)
        (
            "exactly half a cent",
            vec![("0.1", "0.05", "0")],
            vec![("0.01", "0.00")],
            ("0.01", "0.00", "0.01"),
        ),
        // 0.333 × 10.00 = 3.33; 3.33 × 50% = 1.665 → 1.67
        (
            "three-decimal quantity",
            vec![("0.333", "10.00", "50")],
            vec![("3.33", "1.67")],
            ("3.33", "1.67", "5.00"),
        ),
        // 1.005 × 1.00 = 1.005 → 1.01
        (
            "quantity with a half cent",
            vec![("1.005", "1.00", "0")],
            vec![("1.01", "0.00")],
            ("1.01", "0.00", "1.01"),
        ),
        // 2 × 9.99 = 19.98, at 0% and at 100%
        (
            "zero and full tax",
            vec![("2", "9.99", "0"), ("2", "9.99", "100")],
            vec![("19.98", "0.00"), ("19.98", "19.98")],
            ("39.96", "19.98", "59.94"),
        ),
        // 0.04 × 12.5% = 0.005 → 0.01; 0.15 × 7% = 0.0105 → 0.01
        (
            "tax of half a cent",
            vec![("1", "0.04", "12.5"), ("1", "0.15", "7")],
            vec![("0.04", "0.01"), ("0.15", "0.01")],
            ("0.19", "0.02", "0.21"),
        ),
        // 0.004 × 1.00 = 0.004 → 0.00 (a line may round to nothing)
        (
            "less than half a cent",
            vec![("0.004", "1.00", "20")],
            vec![("0.00", "0.00")],
            ("0.00", "0.00", "0.00"),
        ),
        // the largest line a NUMERIC(14,2) holds
        (
            "largest line",
            vec![("1", "999999999999.99", "0")],
            vec![("999999999999.99", "0.00")],
            ("999999999999.99", "0.00", "999999999999.99"),
        ),
    ]
}

fn amounts(value: &Value, fields: &[&str]) -> Vec<String> {
    fields
        .iter()
        .map(|f| {
            value[*f]
                .as_str()
                .unwrap_or_else(|| panic!("{f} in {value}"))
                .to_owned()
        })
        .collect()
}

#[actix_web::test]
async fn derived_amounts_match_a_table_worked_out_by_hand() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    for (case, lines, per_line, (subtotal, tax_total, total)) in rounding_cases() {
        let invoice = app.invoice(&acme, customer, &lines).await;
        let items = invoice["items"].as_array().unwrap();
        for (item, (line_subtotal, line_tax)) in items.iter().zip(&per_line) {
            assert_eq!(
                amounts(item, &["subtotal", "tax"]),
                vec![*line_subtotal, *line_tax],
                "{case}: {item}"
            );
        }
        let expected = vec![subtotal, tax_total, total, "0.00", total];
        let fields = [
            "subtotal",
            "tax_total",
            "total",
            "amount_paid",
            "balance_due",
        ];
        assert_eq!(amounts(&invoice, &fields), expected, "{case}");
        // Every representation agrees: the invoice read back, and the list.
        let id = invoice["id"].as_i64().unwrap();
        let fetched = app.get(&acme, &format!("/v1/invoices/{id}")).await;
        assert_eq!(amounts(fetched.ok(200), &fields), expected, "{case}");
        let listed = app
            .get(&acme, &format!("/v1/invoices?after={}&limit=1", id - 1))
            .await;
        assert_eq!(
            amounts(&listed.ok(200)["data"][0], &fields),
            expected,
            "{case}"
        );
    }
}

#[actix_web::test]
async fn many_lines_round_one_by_one_not_in_total() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    // 100 × (0.001 × 5.00 = 0.005 → 0.01): 1.00, where rounding the sum would give 0.50.
    let lines = vec![("0.001", "5.00", "10"); 100];
    let invoice = app.invoice(&acme, customer, &lines).await;
    // Each line's tax: 0.01 × 10% = 0.001 → 0.00.
    assert_eq!(
        amounts(&invoice, &["subtotal", "tax_total", "total"]),
        vec!["1.00", "0.00", "1.00"]
    );
    assert_eq!(invoice["items"].as_array().unwrap().len(), 100);
}

#[actix_web::test]
async fn amounts_follow_item_changes_and_payments() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    let invoice = app.invoice(&acme, customer, &[("2", "10.00", "20")]).await;
    let id = invoice["id"].as_i64().unwrap();
    let item = invoice["items"][0]["id"].as_i64().unwrap();
    app.patch(
        &acme,
        &format!("/v1/invoices/{id}/items/{item}"),
        json!({"quantity": "3"}),
    )
    .await
    .ok(200);
    app.post(
        &acme,
        &format!("/v1/invoices/{id}/items"),
        json!({"description": "extra", "quantity": 1, "unit_price": "4.50"}),
    )
    .await
    .ok(201);
    let read = app.get(&acme, &format!("/v1/invoices/{id}")).await;
    // 3 × 10.00 = 30.00 + 6.00 tax; 4.50 no tax → 34.50 + 6.00 = 40.50
    assert_eq!(
        amounts(read.ok(200), &["subtotal", "tax_total", "total"]),
        vec!["34.50", "6.00", "40.50"]
    );
    app.send(
        &acme,
        Method::POST,
        &format!("/v1/invoices/{id}/issue"),
        None,
    )
    .await
    .ok(200);
    app.post(
        &acme,
        &format!("/v1/invoices/{id}/payments"),
        json!({"amount": "15.25"}),
    )
    .await
    .ok(201);
    let read = app.get(&acme, &format!("/v1/invoices/{id}")).await;
    assert_eq!(
        amounts(read.ok(200), &["amount_paid", "balance_due"]),
        vec!["15.25", "25.25"]
    );
}

async fn status_of<S, B>(
    app: &crate::harness::app::TestApp<S>,
    tenant: &TestTenant,
    id: i64,
) -> String
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let reply = app.get(tenant, &format!("/v1/invoices/{id}")).await;
    reply.ok(200)["status"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn every_lifecycle_transition_is_allowed_or_refused_as_specified() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    let path = |id: i64, rest: &str| format!("/v1/invoices/{id}{rest}");
    let post = |id: i64, rest: &'static str| {
        let app = &app;
        let acme = &acme;
        async move {
            app.send(
                acme,
                Method::POST,
                &format!("/v1/invoices/{id}{rest}"),
                None,
            )
            .await
        }
    };

    // A draft without items cannot be issued; a draft cannot be voided or paid.
    let empty = app.invoice(&acme, customer, &[]).await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        post(empty, "/issue").await.problem(409)["type"],
        "urn:invoiced:problem:invoice-has-no-items"
    );
    assert_eq!(
        post(empty, "/void").await.problem(409)["type"],
        "urn:invoiced:problem:invalid-transition"
    );
    let pay = app
        .post(&acme, &path(empty, "/payments"), json!({"amount": "1.00"}))
        .await;
    assert_eq!(
        pay.problem(409)["type"],
        "urn:invoiced:problem:invalid-transition"
    );
    // A draft changes, gets items, and can be deleted.
    app.patch(&acme, &path(empty, ""), json!({"notes": "draft notes"}))
        .await
        .ok(200);
    assert_eq!(app.delete(&acme, &path(empty, "")).await.status, 204);
    app.get(&acme, &path(empty, "")).await.problem(404);

    // draft → issued: nothing about it changes any more.
    let id = app.invoice(&acme, customer, &[("1", "100.00", "0")]).await["id"]
        .as_i64()
        .unwrap();
    let item = app.get(&acme, &path(id, "")).await.ok(200)["items"][0]["id"]
        .as_i64()
        .unwrap();
    let issued = post(id, "/issue").await;
    assert_eq!(issued.ok(200)["status"], "issued");
    assert!(
        issued.body["issue_date"].is_string(),
        "issuing sets the issue date"
    );
    let refusals = [
        app.patch(&acme, &path(id, ""), json!({"notes": "x"})).await,
        app.delete(&acme, &path(id, "")).await,
        post(id, "/issue").await,
        app.post(
            &acme,
            &path(id, "/items"),
            json!({"description": "x", "quantity": 1, "unit_price": 1}),
        )
        .await,
        app.patch(
            &acme,
            &path(id, &format!("/items/{item}")),
            json!({"quantity": 2}),
        )
        .await,
        app.delete(&acme, &path(id, &format!("/items/{item}")))
            .await,
    ];
    for refusal in &refusals {
        assert!(
            refusal.problem(409)["detail"]
                .as_str()
                .unwrap()
                .contains("is issued"),
            "{}",
            refusal.text
        );
    }

    // issued → void while nothing is paid; then it is final.
    assert_eq!(post(id, "/void").await.ok(200)["status"], "void");
    for refusal in [
        post(id, "/void").await,
        post(id, "/issue").await,
        app.post(&acme, &path(id, "/payments"), json!({"amount": "1.00"}))
            .await,
        app.patch(&acme, &path(id, ""), json!({"notes": "x"})).await,
        app.delete(&acme, &path(id, "")).await,
    ] {
        refusal.problem(409);
    }
    assert_eq!(status_of(&app, &acme, id).await, "void");

    // issued and partly paid: no void; paid in full → paid, and final too.
    let id = app.issued_invoice(&acme, "100.00").await;
    app.post(&acme, &path(id, "/payments"), json!({"amount": "40.00"}))
        .await
        .ok(201);
    assert_eq!(
        post(id, "/void").await.problem(409)["type"],
        "urn:invoiced:problem:invoice-partly-paid"
    );
    assert_eq!(status_of(&app, &acme, id).await, "issued");
    app.post(&acme, &path(id, "/payments"), json!({"amount": "60.00"}))
        .await
        .ok(201);
    assert_eq!(status_of(&app, &acme, id).await, "paid");
    for refusal in [
        post(id, "/void").await,
        post(id, "/issue").await,
        app.post(&acme, &path(id, "/payments"), json!({"amount": "0.01"}))
            .await,
        app.patch(&acme, &path(id, ""), json!({"notes": "x"})).await,
        app.delete(&acme, &path(id, "")).await,
    ] {
        refusal.problem(409);
    }
}

#[actix_web::test]
async fn issuing_keeps_a_set_issue_date_and_checks_the_due_date() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    let invoice = app
        .post(&acme, "/v1/invoices", json!({"customer_id": customer, "currency": "EUR", "issue_date": "2026-01-15",
            "due_date": "2026-02-14", "items": [{"description": "x", "quantity": 1, "unit_price": 1}]}))
        .await;
    let id = invoice.ok(201)["id"].as_i64().unwrap();
    let issued = app
        .send(
            &acme,
            Method::POST,
            &format!("/v1/invoices/{id}/issue"),
            None,
        )
        .await;
    assert_eq!(issued.ok(200)["issue_date"], "2026-01-15");
    assert_eq!(issued.body["due_date"], "2026-02-14");
    // Due in the past with no issue date: issuing today would break due ≥ issue.
    let late = app
        .post(
            &acme,
            "/v1/invoices",
            json!({"customer_id": customer, "currency": "EUR", "due_date": "2000-01-01",
            "items": [{"description": "x", "quantity": 1, "unit_price": 1}]}),
        )
        .await;
    let late = late.ok(201)["id"].as_i64().unwrap();
    let refused = app
        .send(
            &acme,
            Method::POST,
            &format!("/v1/invoices/{late}/issue"),
            None,
        )
        .await;
    assert!(
        refused.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("due_date")
    );
    assert_eq!(status_of(&app, &acme, late).await, "draft");
}

#[actix_web::test]
async fn invoice_numbers_are_unique_per_account() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let ann = app.customer(&acme, "Ann").await;
    let gus = app.customer(&globex, "Gus").await;
    let body =
        |customer: i64| json!({"customer_id": customer, "currency": "EUR", "number": "2026-001"});
    app.post(&acme, "/v1/invoices", body(ann)).await.ok(201);
    let taken = app.post(&acme, "/v1/invoices", body(ann)).await;
    assert_eq!(
        taken.problem(409)["type"],
        "urn:invoiced:problem:invoice-number-taken"
    );
    app.post(&globex, "/v1/invoices", body(gus)).await.ok(201);
    // PATCHing onto a taken number is refused the same way.
    let other = app
        .post(
            &acme,
            "/v1/invoices",
            json!({"customer_id": ann, "currency": "EUR"}),
        )
        .await;
    let other = other.ok(201)["id"].as_i64().unwrap();
    let patched = app
        .patch(
            &acme,
            &format!("/v1/invoices/{other}"),
            json!({"number": "2026-001"}),
        )
        .await;
    patched.problem(409);
    assert_eq!(app.count("invoices"), 3);
}

#[actix_web::test]
async fn an_invoice_names_a_customer_of_its_own_account() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let gus = app.customer(&globex, "Gus").await;
    let reply = app
        .post(
            &acme,
            "/v1/invoices",
            json!({"customer_id": gus, "currency": "EUR"}),
        )
        .await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "customer_id");
    assert_eq!(app.count("invoices"), 0);
}

#[actix_web::test]
async fn item_positions_stay_one_to_n() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    let invoice = app
        .post(
            &acme,
            "/v1/invoices",
            json!({"customer_id": customer, "currency": "EUR", "items": [
                {"description": "b", "quantity": 1, "unit_price": 1, "position": 2},
                {"description": "c", "quantity": 1, "unit_price": 1},
                {"description": "a", "quantity": 1, "unit_price": 1, "position": 1},
            ]}),
        )
        .await;
    let id = invoice.ok(201)["id"].as_i64().unwrap();
    let order = |app_reply: &Value| -> Vec<(i64, String)> {
        app_reply["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["position"].as_i64().unwrap(),
                    i["description"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let items_path = format!("/v1/invoices/{id}/items");
    let listed = app.get(&acme, &items_path).await;
    assert_eq!(
        order(listed.ok(200)),
        vec![(1, "a".into()), (2, "b".into()), (3, "c".into())]
    );
    // Insert at 1: the rest move down.
    app.post(
        &acme,
        &items_path,
        json!({"description": "first", "quantity": 1, "unit_price": 1, "position": 1}),
    )
    .await
    .ok(201);
    let listed = app.get(&acme, &items_path).await;
    let descriptions: Vec<String> = order(listed.ok(200)).into_iter().map(|(_, d)| d).collect();
    assert_eq!(descriptions, vec!["first", "a", "b", "c"]);
    // Move "c" (4) to 2, then delete "first" (1): 1..n throughout.
    let c = listed.body["data"][3]["id"].as_i64().unwrap();
    let first = listed.body["data"][0]["id"].as_i64().unwrap();
    app.patch(&acme, &format!("{items_path}/{c}"), json!({"position": 2}))
        .await
        .ok(200);
    assert_eq!(
        app.delete(&acme, &format!("{items_path}/{first}"))
            .await
            .status,
        204
    );
    let listed = app.get(&acme, &items_path).await;
    assert_eq!(
        order(listed.ok(200)),
        vec![(1, "c".into()), (2, "a".into()), (3, "b".into())]
    );
    // Positions outside 1..=n(+1) are refused.
    let bad = app
        .post(
            &acme,
            &items_path,
            json!({"description": "x", "quantity": 1, "unit_price": 1, "position": 9}),
        )
        .await;
    assert_eq!(bad.problem(422)["errors"][0]["field"], "position");
    let bad = app
        .patch(&acme, &format!("{items_path}/{c}"), json!({"position": 4}))
        .await;
    bad.problem(422);
}

#[actix_web::test]
async fn an_item_is_reached_only_through_its_own_invoice() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    let one = app.invoice(&acme, customer, &[("1", "1", "0")]).await;
    let two = app.invoice(&acme, customer, &[("1", "1", "0")]).await;
    let item_of_two = two["items"][0]["id"].as_i64().unwrap();
    let path = format!("/v1/invoices/{}/items/{item_of_two}", one["id"]);
    app.get(&acme, &path).await.problem(404);
    app.patch(&acme, &path, json!({"quantity": 5}))
        .await
        .problem(404);
    let own = app
        .get(
            &acme,
            &format!("/v1/invoices/{}/items/{item_of_two}", two["id"]),
        )
        .await;
    assert_eq!(own.ok(200)["id"], item_of_two);
    app.delete(&acme, &path).await.problem(404);
    let read = app.get(&acme, &format!("/v1/invoices/{}", two["id"])).await;
    assert_eq!(read.ok(200)["items"][0]["quantity"], "1.000");
}

#[actix_web::test]
async fn a_keyset_walk_over_a_thousand_invoices_sees_each_once_in_order() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    execute(
        &mut app.db().owner_conn(),
        &format!(
            "INSERT INTO invoices (account_id, customer_id, currency, status, issue_date)
             SELECT 'acme', {customer}, 'EUR', CASE WHEN n % 3 = 0 THEN 'issued' ELSE 'draft' END,
                    DATE '2026-01-01' + (n % 60)
             FROM generate_series(1, 1000) AS n"
        ),
    );
    for (filter, expected) in [
        ("", 1000),
        ("&status=issued", 333),
        ("&issued_from=2026-01-31&issued_to=2026-02-09", 170),
    ] {
        let mut seen: Vec<i64> = Vec::new();
        let mut after = 0;
        loop {
            let page = app
                .get(
                    &acme,
                    &format!("/v1/invoices?limit=37&after={after}{filter}"),
                )
                .await;
            let page = page.ok(200).clone();
            let ids: Vec<i64> = page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_i64().unwrap())
                .collect();
            seen.extend(&ids);
            if page["has_more"] == false {
                assert_eq!(page["next_after"], Value::Null);
                break;
            }
            assert_eq!(page["next_after"], *ids.last().unwrap());
            after = page["next_after"].as_i64().unwrap();
        }
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(seen, sorted, "in order, each once ({filter})");
        assert_eq!(seen.len(), expected, "{filter}");
    }
}

#[actix_web::test]
async fn list_filters_narrow_the_invoices() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let ann = app.customer(&acme, "Ann").await;
    let bob = app.customer(&acme, "Bob").await;
    app.invoice(&acme, ann, &[]).await;
    app.invoice(&acme, bob, &[]).await;
    let issued = app.issued_invoice(&acme, "5.00").await;
    let ids = |reply: &Value| -> Vec<i64> {
        reply["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(
        ids(app
            .get(&acme, &format!("/v1/invoices?customer_id={bob}"))
            .await
            .ok(200)),
        vec![2]
    );
    assert_eq!(
        ids(app.get(&acme, "/v1/invoices?status=issued").await.ok(200)),
        vec![issued]
    );
    assert!(ids(app.get(&acme, "/v1/invoices?customer_id=999").await.ok(200)).is_empty());
    for bad in [
        "status=sent",
        "customer_id=0",
        "customer_id=x",
        "issued_from=2026-02-30",
        "issued_to=yesterday",
        "limit=500",
    ] {
        app.get(&acme, &format!("/v1/invoices?{bad}"))
            .await
            .problem(400);
    }
    // Lists leave out the items.
    let listed = app.get(&acme, "/v1/invoices").await;
    assert!(listed.ok(200)["data"][0].get("items").is_none());
}

#[actix_web::test]
async fn a_page_of_invoices_takes_the_same_number_of_queries_whatever_its_size() {
    use invoiced::domain::AccountId;
    use invoiced::models::PageRequest;
    use invoiced::models::invoice::InvoiceFilter;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    for _ in 0..30 {
        app.invoice(&acme, customer, &[("1", "2.00", "10"), ("3", "1.00", "0")])
            .await;
    }
    let queries = |limit: u32| {
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let mut conn = app.db().app_conn();
        diesel::connection::Connection::set_instrumentation(
            &mut conn,
            move |event: diesel::connection::InstrumentationEvent<'_>| {
                if let diesel::connection::InstrumentationEvent::StartQuery { .. } = event {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            },
        );
        let account = AccountId::parse("acme").unwrap();
        let page = invoiced::db::in_tenant_transaction(&mut conn, &account, |conn| {
            invoiced::invoicing::list_invoices(
                conn,
                &InvoiceFilter::default(),
                &PageRequest { limit, after: None },
            )
        })
        .unwrap();
        assert_eq!(page.rows.len(), limit as usize);
        assert!(
            page.rows
                .iter()
                .all(|(_, totals)| totals.total().to_string() == "5.20")
        );
        count.load(Ordering::Relaxed)
    };
    assert_eq!(queries(2), queries(30));
}
