//! The isolation suite: several accounts filled through the API, then every
//! route called as each account with every id, filter value, search string
//! and cursor of the others. No response may contain, change or reveal
//! another account's data.

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use serde_json::json;

use crate::harness::{json_rows, spawn};

/// Two of them differ only in letter case.
const ACCOUNTS: [&str; 4] = ["acme", "Acme", "globex", "initech-2"];

/// A string that appears in every text of one account and nowhere else.
fn marker(index: usize) -> String {
    format!("zq{index}qz")
}

/// Everything an account holds, by kind: the ids the API gave it.
#[derive(Debug, Default, Clone)]
struct Holdings {
    customers: Vec<i64>,
    invoices: Vec<i64>,
    /// (invoice id, item id)
    items: Vec<(i64, i64)>,
    payments: Vec<i64>,
    credit_notes: Vec<i64>,
    events: Vec<i64>,
    webhook_endpoints: Vec<i64>,
    searches: Vec<String>,
}

/// Every row of every tenant table of `account`, as the owner sees it.
fn snapshot(db: &crate::harness::TestDatabase, account: &str) -> String {
    let mut conn = db.owner_conn();
    let tables = [
        "customers",
        "invoices",
        "invoice_items",
        "payments",
        "api_keys",
        "id_counters",
        "idempotency_keys",
        "credit_notes",
        "credit_note_lines",
        "credit_note_taxes",
        "number_sequences",
        "document_numbers",
        "events",
        "webhook_endpoints",
        "webhook_deliveries",
        "webhook_attempts",
        "documents",
    ];
    let account_row = format!(
        "accounts: {}",
        serde_json::to_string(&json_rows(
            &mut conn,
            &format!("SELECT * FROM accounts WHERE id = '{account}'")
        ))
        .unwrap()
    );
    tables
        .iter()
        .map(|table| {
            let rows = json_rows(
                &mut conn,
                &format!("SELECT * FROM {table} WHERE account_id = '{account}' ORDER BY 2"),
            );
            format!("{table}: {}", serde_json::to_string(&rows).unwrap())
        })
        .chain(std::iter::once(account_row))
        .collect::<Vec<_>>()
        .join("\n")
}

macro_rules! fill {
    ($app:expr) => {{
        let app = &$app;
        let mut tenants = Vec::new();
        let mut holdings = Vec::new();
        for (index, account) in ACCOUNTS.iter().enumerate() {
            let tenant = app.tenant(account).await;
            let m = marker(index);
            app.patch(&tenant, "/v1/account", json!({"legal_name": format!("Seller {m}"), "tax_number": format!("TN {m}")}))
                .await
                .ok(200);
            let mut held = Holdings::default();
            // First, so that every change below is queued for it too.
            let endpoint = json!({"url": format!("http://127.0.0.1:9/{m}/hooks"), "events": ["*"], "description": format!("Hooks {m}")});
            let endpoint = app.post(&tenant, "/v1/webhook_endpoints", endpoint).await;
            held.webhook_endpoints.push(endpoint.ok(201)["id"].as_i64().unwrap());
            // Names with the characters a search must treat literally.
            for (n, special) in ["%", "_", "*", "'", "\"", "\\", "plain"].iter().cycle().take(3 + 2 * index).enumerate() {
                let body = json!({"name": format!("Customer {m} {special} {n}"), "email": format!("c{n}.{m}@example.com"),
                                  "phone": format!("+1 555 {m}"), "address": format!("{n} {m} Street"), "tax_id": format!("TX-{m}-{n}"),
                                  "buyer_reference": format!("BR-{m}"),
                                  "billing_address": {"line1": format!("{n} {m} Road"), "city": format!("City {m}"), "country": "DE"}});
                held.customers.push(app.post(&tenant, "/v1/customers", body).await.ok(201)["id"].as_i64().unwrap());
                held.searches.push(format!("{special}"));
            }
            held.searches.extend([m.clone(), format!("Customer {m}"), format!("{m}@example"), "%".into(), "_".into(), "*".into(), "'".into()]);
            for n in 0..(2 + 2 * index) {
                let customer = held.customers[n % held.customers.len()];
                let body = json!({"customer_id": customer, "currency": "EUR", "number": format!("INV-{m}-{n}"),
                                  "notes": format!("notes {m}"), "issue_date": "2026-03-01",
                                  "items": [{"description": format!("Line {m} a"), "quantity": "2", "unit_price": "10.00", "tax_rate": "19"},
                                            {"description": format!("Line {m} b"), "quantity": "1", "unit_price": "5.50"}]});
                let invoice = app.post(&tenant, "/v1/invoices", body).await;
                let invoice = invoice.ok(201).clone();
                let id = invoice["id"].as_i64().unwrap();
                held.invoices.push(id);
                for item in invoice["items"].as_array().unwrap() {
                    held.items.push((id, item["id"].as_i64().unwrap()));
                }
                if n % 2 == 0 {
                    app.send(&tenant, Method::POST, &format!("/v1/invoices/{id}/issue"), None).await.ok(200);
                    let payment = json!({"amount": "7.00", "reference": format!("REF-{m}-{n}"), "method": "cash"});
                    let paid = app.post(&tenant, &format!("/v1/invoices/{id}/payments"), payment).await;
                    held.payments.push(paid.ok(201)["id"].as_i64().unwrap());
                    let item = invoice["items"][0]["id"].as_i64().unwrap();
                    let credit = json!({"reason": format!("Credit {m}"), "lines": [{"item_id": item, "quantity": "1"},
                                        {"description": format!("Goodwill {m}"), "quantity": 1, "unit_price": "1.00"}]});
                    let note = app.post(&tenant, &format!("/v1/invoices/{id}/credit_notes"), credit).await;
                    held.credit_notes.push(note.ok(201)["id"].as_i64().unwrap());
                }
            }
            app.admin(Method::POST, &format!("/admin/accounts/{account}/api-keys"), Some(json!({"name": format!("key {m}")})))
                .await
                .ok(201);
            let events = app.get(&tenant, "/v1/events?limit=200").await;
            held.events = events.ok(200)["data"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
            tenants.push(tenant);
            holdings.push(held);
        }
        (tenants, holdings)
    }};
}

/// Asserts the reply carries no other account's marker.
#[track_caller]
fn assert_own(reply: &crate::harness::Reply, caller: usize, what: &str) {
    assert!(
        reply.status < 500,
        "{what}: {} {}",
        reply.status,
        reply.text
    );
    for other in (0..ACCOUNTS.len()).filter(|o| *o != caller) {
        assert!(
            !reply.text.contains(&marker(other)),
            "{what} as {} revealed {}'s data: {}",
            ACCOUNTS[caller],
            ACCOUNTS[other],
            reply.text
        );
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[actix_web::test]
async fn no_route_called_with_another_accounts_ids_filters_searches_or_cursors_reveals_or_changes_it()
 {
    let app = spawn().await;
    let (tenants, holdings) = fill!(app);
    let before: Vec<String> = ACCOUNTS.iter().map(|a| snapshot(app.db(), a)).collect();
    let mut calls = 0;

    for (caller, tenant) in tenants.iter().enumerate() {
        let mine = &holdings[caller];
        for (victim, theirs) in holdings.iter().enumerate().filter(|(v, _)| *v != caller) {
            let what = |route: &str| format!("{route} with {}'s values", ACCOUNTS[victim]);
            // Reads, with every id of theirs: the caller's own row or 404.
            for id in &theirs.customers {
                let reply = app.get(tenant, &format!("/v1/customers/{id}")).await;
                assert_own(&reply, caller, &what("GET customer"));
                assert_eq!(
                    reply.status,
                    if mine.customers.contains(id) {
                        200
                    } else {
                        404
                    },
                    "{}",
                    reply.text
                );
                let filtered = app
                    .get(tenant, &format!("/v1/invoices?customer_id={id}"))
                    .await;
                assert_own(&filtered, caller, &what("invoices?customer_id"));
                calls += 2;
            }
            for id in &theirs.invoices {
                for path in [
                    format!("/v1/invoices/{id}"),
                    format!("/v1/invoices/{id}/items"),
                    format!("/v1/invoices/{id}/payments"),
                    format!("/v1/invoices/{id}/credit_notes"),
                    format!("/v1/payments?invoice_id={id}"),
                    format!("/v1/credit_notes?invoice_id={id}"),
                ] {
                    let reply = app.get(tenant, &path).await;
                    assert_own(&reply, caller, &what(&path));
                    if !mine.invoices.contains(id) && !path.contains('?') {
                        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
                    }
                    calls += 1;
                }
            }
            // Their documents: the caller's own (a draft's preview, or the
            // stored documents of its issued invoice) or 404.
            for (kind, ids, mine) in [
                ("invoices", &theirs.invoices, &mine.invoices),
                ("credit_notes", &theirs.credit_notes, &mine.credit_notes),
            ] {
                for id in ids {
                    for document in ["pdf", "xml"] {
                        let path = format!("/v1/{kind}/{id}/{document}");
                        let reply = app.get(tenant, &path).await;
                        assert_own(&reply, caller, &what(&path));
                        if !mine.contains(id) {
                            assert_eq!(reply.status, 404, "{path}: {}", reply.text);
                        }
                        calls += 1;
                    }
                }
            }
            for id in &theirs.payments {
                let reply = app.get(tenant, &format!("/v1/payments/{id}")).await;
                assert_own(&reply, caller, &what("GET payment"));
                assert_eq!(
                    reply.status,
                    if mine.payments.contains(id) { 200 } else { 404 }
                );
                calls += 1;
            }
            for id in &theirs.credit_notes {
                let reply = app.get(tenant, &format!("/v1/credit_notes/{id}")).await;
                assert_own(&reply, caller, &what("GET credit note"));
                assert_eq!(
                    reply.status,
                    if mine.credit_notes.contains(id) {
                        200
                    } else {
                        404
                    }
                );
                calls += 1;
            }
            for id in &theirs.events {
                let reply = app.get(tenant, &format!("/v1/events/{id}")).await;
                assert_own(&reply, caller, &what("GET event"));
                assert_eq!(
                    reply.status,
                    if mine.events.contains(id) { 200 } else { 404 }
                );
                calls += 1;
            }
            for id in &theirs.webhook_endpoints {
                for path in [
                    format!("/v1/webhook_endpoints/{id}"),
                    format!("/v1/webhook_endpoints/{id}/deliveries"),
                ] {
                    let reply = app.get(tenant, &path).await;
                    assert_own(&reply, caller, &what(&path));
                    if !mine.webhook_endpoints.contains(id) {
                        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
                    }
                    calls += 1;
                }
            }
            // Cursors and searches of theirs.
            for id in theirs
                .customers
                .iter()
                .chain(&theirs.invoices)
                .chain(&theirs.payments)
                .chain(&theirs.credit_notes)
                .chain(&theirs.events)
            {
                for list in [
                    "/v1/customers",
                    "/v1/invoices",
                    "/v1/payments",
                    "/v1/credit_notes",
                    "/v1/events",
                    "/v1/events?type=customer.created",
                ] {
                    let list = if list.contains('?') {
                        format!("{list}&")
                    } else {
                        format!("{list}?")
                    };
                    let reply = app
                        .get(tenant, &format!("{list}after={}&limit=200", id - 1))
                        .await;
                    assert_own(&reply, caller, &what(&list));
                    calls += 1;
                }
            }
            for search in &theirs.searches {
                let reply = app
                    .get(tenant, &format!("/v1/customers?q={}", encode(search)))
                    .await;
                assert_own(&reply, caller, &what("customers?q"));
                if search.contains("zq") {
                    assert_eq!(reply.ok(200)["data"], json!([]), "{search}");
                }
                calls += 1;
            }
            // Writes, with their ids that the caller does not have: all 404.
            for id in theirs
                .customers
                .iter()
                .filter(|id| !mine.customers.contains(id))
            {
                for reply in [
                    app.patch(
                        tenant,
                        &format!("/v1/customers/{id}"),
                        json!({"name": "hijacked"}),
                    )
                    .await,
                    app.delete(tenant, &format!("/v1/customers/{id}")).await,
                    app.post(
                        tenant,
                        "/v1/invoices",
                        json!({"customer_id": id, "currency": "EUR"}),
                    )
                    .await,
                ] {
                    assert_own(&reply, caller, &what("write customer"));
                    assert!(matches!(reply.status, 404 | 422), "{}", reply.text);
                    calls += 1;
                }
            }
            for id in theirs
                .invoices
                .iter()
                .filter(|id| !mine.invoices.contains(id))
            {
                for reply in [
                    app.patch(
                        tenant,
                        &format!("/v1/invoices/{id}"),
                        json!({"notes": "hijacked"}),
                    )
                    .await,
                    app.delete(tenant, &format!("/v1/invoices/{id}")).await,
                    app.send(
                        tenant,
                        Method::POST,
                        &format!("/v1/invoices/{id}/issue"),
                        None,
                    )
                    .await,
                    app.send(
                        tenant,
                        Method::POST,
                        &format!("/v1/invoices/{id}/void"),
                        None,
                    )
                    .await,
                    app.post(
                        tenant,
                        &format!("/v1/invoices/{id}/payments"),
                        json!({"amount": "1.00"}),
                    )
                    .await,
                    app.post(
                        tenant,
                        &format!("/v1/invoices/{id}/items"),
                        json!({"description": "x", "quantity": 1, "unit_price": 1}),
                    )
                    .await,
                    app.post(
                        tenant,
                        &format!("/v1/invoices/{id}/credit_notes"),
                        json!({"reason": "hijack", "full": true}),
                    )
                    .await,
                ] {
                    assert_own(&reply, caller, &what("write invoice"));
                    assert_eq!(reply.status, 404, "{}", reply.text);
                    calls += 1;
                }
            }
            for id in theirs.events.iter().filter(|id| !mine.events.contains(id)) {
                let reply = app
                    .send(
                        tenant,
                        Method::POST,
                        &format!("/v1/events/{id}/redeliver"),
                        None,
                    )
                    .await;
                assert_own(&reply, caller, &what("redeliver event"));
                assert_eq!(reply.status, 404, "{}", reply.text);
                calls += 1;
            }
            for id in theirs
                .webhook_endpoints
                .iter()
                .filter(|id| !mine.webhook_endpoints.contains(id))
            {
                let path = format!("/v1/webhook_endpoints/{id}");
                for reply in [
                    app.patch(tenant, &path, json!({"enabled": false})).await,
                    app.delete(tenant, &path).await,
                ] {
                    assert_own(&reply, caller, &what("write webhook endpoint"));
                    assert_eq!(reply.status, 404, "{}", reply.text);
                    calls += 1;
                }
            }
            for (invoice, item) in theirs
                .items
                .iter()
                .filter(|(invoice, _)| !mine.invoices.contains(invoice))
            {
                let path = format!("/v1/invoices/{invoice}/items/{item}");
                for reply in [
                    app.patch(tenant, &path, json!({"quantity": 9})).await,
                    app.delete(tenant, &path).await,
                ] {
                    assert_own(&reply, caller, &what("write item"));
                    assert_eq!(reply.status, 404, "{}", reply.text);
                    calls += 1;
                }
            }
        }
        // The caller's own lists and profile hold exactly its own rows.
        for list in [
            "/v1/customers?limit=200",
            "/v1/invoices?limit=200",
            "/v1/payments?limit=200",
            "/v1/credit_notes?limit=200",
            "/v1/events?limit=200",
            "/v1/webhook_endpoints",
            "/v1/account",
        ] {
            let reply = app.get(tenant, list).await;
            assert_own(&reply, caller, list);
        }
    }
    let after: Vec<String> = ACCOUNTS.iter().map(|a| snapshot(app.db(), a)).collect();
    for (index, account) in ACCOUNTS.iter().enumerate() {
        assert_eq!(before[index], after[index], "{account}'s data changed");
    }
    assert!(calls > 500, "the suite made {calls} calls");
}

#[actix_web::test]
async fn header_tricks_get_400_or_401() {
    let app = spawn().await;
    let (tenants, _) = fill!(app);
    let acme = &tenants[0];
    let globex = &tenants[2];
    let bearer = |key: &str| format!("Bearer {key}");
    let long = "a".repeat(101);
    let truncated = &acme.key[..acme.key.len() - 1];
    let extended = format!("{}0", acme.key);
    // (headers, expected status)
    let cases: Vec<(Vec<(&str, String)>, u16)> = vec![
        (
            vec![
                ("X-Account-Id", "Acme".into()),
                ("Authorization", bearer(&acme.key)),
            ],
            401,
        ),
        (
            vec![
                ("X-Account-Id", "ACME".into()),
                ("Authorization", bearer(&acme.key)),
            ],
            401,
        ),
        (
            vec![
                ("X-Account-Id", "".into()),
                ("Authorization", bearer(&acme.key)),
            ],
            400,
        ),
        (
            vec![
                ("X-Account-Id", long.clone()),
                ("Authorization", bearer(&acme.key)),
            ],
            400,
        ),
        (
            vec![
                ("X-Account-Id", "\"acme\"".into()),
                ("Authorization", bearer(&acme.key)),
            ],
            400,
        ),
        (
            vec![
                ("X-Account-Id", "acme,globex".into()),
                ("Authorization", bearer(&acme.key)),
            ],
            400,
        ),
        (
            vec![
                ("X-Account-Id", "acme".into()),
                ("X-Account-Id", "globex".into()),
                ("Authorization", bearer(&acme.key)),
            ],
            400,
        ),
        (
            vec![
                ("X-Account-Id", "acme".into()),
                ("X-Account-Id", "acme".into()),
                ("Authorization", bearer(&acme.key)),
            ],
            400,
        ),
        (
            vec![
                ("X-Account-Id", "acme".into()),
                ("Authorization", acme.key.clone()),
            ],
            401,
        ),
        (
            vec![
                ("X-Account-Id", "acme".into()),
                ("Authorization", bearer(truncated)),
            ],
            401,
        ),
        (
            vec![
                ("X-Account-Id", "acme".into()),
                ("Authorization", bearer(&extended)),
            ],
            401,
        ),
        (
            vec![
                ("X-Account-Id", "acme".into()),
                ("Authorization", format!("Basic {}", acme.key)),
            ],
            401,
        ),
        (
            vec![
                ("X-Account-Id", "acme".into()),
                ("Authorization", format!("Token {}", acme.key)),
            ],
            401,
        ),
        (
            vec![
                ("X-Account-Id", "acme".into()),
                ("Authorization", bearer(&globex.key)),
            ],
            401,
        ),
        (
            vec![
                ("X-Account-Id", "globex".into()),
                ("Authorization", bearer(&acme.key)),
            ],
            401,
        ),
        (
            vec![
                ("X-Account-Id", "acme".into()),
                ("Authorization", bearer(&acme.key)),
                ("Authorization", bearer(&globex.key)),
            ],
            401,
        ),
        (
            vec![
                ("X-Account-Id", "acme".into()),
                ("Authorization", bearer(crate::harness::app::ADMIN_TOKEN)),
            ],
            401,
        ),
    ];
    for (headers, expected) in cases {
        for path in ["/v1/customers", "/v1/invoices/1", "/v1/payments"] {
            let mut request = TestRequest::get().uri(path);
            for (name, value) in &headers {
                request = request.append_header((*name, value.as_str()));
            }
            let reply = app.call(request).await;
            reply.problem(expected);
            assert_own(&reply, usize::MAX, &format!("{headers:?}"));
        }
    }
    // A tenant key is not an admin token.
    let admin = app
        .call(
            TestRequest::get()
                .uri("/admin/accounts")
                .insert_header(("Authorization", bearer(&acme.key))),
        )
        .await;
    admin.problem(401);
}

#[actix_web::test]
async fn path_tricks_get_400_or_404_never_a_500() {
    let app = spawn().await;
    let (tenants, _) = fill!(app);
    let acme = &tenants[0];
    let tricks = [
        "-1",
        "0",
        "9223372036854775808",
        "99999999999999999999999",
        "01",
        "007",
        "1.0",
        "1e3",
        "%00",
        "1%00",
        "%2e%2e",
        "%20",
        "1;DROP%20TABLE%20customers",
        "%27",
        "0x1",
    ];
    let templates = [
        (Method::GET, "/v1/customers/{}"),
        (Method::PATCH, "/v1/customers/{}"),
        (Method::DELETE, "/v1/customers/{}"),
        (Method::GET, "/v1/invoices/{}"),
        (Method::PATCH, "/v1/invoices/{}"),
        (Method::POST, "/v1/invoices/{}/issue"),
        (Method::GET, "/v1/invoices/{}/items"),
        (Method::GET, "/v1/invoices/1/items/{}"),
        (Method::DELETE, "/v1/invoices/1/items/{}"),
        (Method::GET, "/v1/invoices/{}/payments"),
        (Method::GET, "/v1/payments/{}"),
        (Method::GET, "/v1/credit_notes/{}"),
        (Method::GET, "/v1/invoices/{}/credit_notes"),
        (Method::POST, "/v1/invoices/{}/credit_notes"),
        (Method::GET, "/v1/invoices/{}/pdf"),
        (Method::GET, "/v1/invoices/{}/xml"),
        (Method::GET, "/v1/credit_notes/{}/pdf"),
        (Method::GET, "/v1/credit_notes/{}/xml"),
        (Method::GET, "/v1/events/{}"),
        (Method::POST, "/v1/events/{}/redeliver"),
        (Method::GET, "/v1/webhook_endpoints/{}"),
        (Method::PATCH, "/v1/webhook_endpoints/{}"),
        (Method::DELETE, "/v1/webhook_endpoints/{}"),
        (Method::GET, "/v1/webhook_endpoints/{}/deliveries"),
    ];
    let mut outcomes = BTreeMap::new();
    for (method, template) in templates {
        for trick in tricks {
            let path = template.replace("{}", trick);
            let reply = app.send(acme, method.clone(), &path, Some(json!({}))).await;
            assert!(
                matches!(reply.status, 400 | 404),
                "{method} {path}: {} {}",
                reply.status,
                reply.text
            );
            reply.problem(reply.status);
            *outcomes.entry(reply.status).or_insert(0) += 1;
        }
    }
    assert!(outcomes.contains_key(&400));
    // Query-string tricks: 400.
    for query in [
        "limit=99999999999999999999",
        "after=-1",
        "after=1e3",
        "limit=%00",
        "q=%00",
        "status=DRAFT",
        "status=draft%00",
    ] {
        let reply = app.get(acme, &format!("/v1/invoices?{query}")).await;
        assert!(matches!(reply.status, 200 | 400), "{query}: {}", reply.text);
        assert_own(&reply, 0, query);
    }
}
