//! Issuing: legal numbers from the account's series, what an invoice needs
//! before it is issued, and that an issued invoice never changes again.

use std::time::{Duration, Instant};

use actix_web::http::Method;
use diesel::connection::SimpleConnection;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::harness::{TestTenant, json_rows, spawn};

/// The sequence value of an invoice number of the default format.
fn sequence(number: &Value) -> i64 {
    let number = number
        .as_str()
        .unwrap_or_else(|| panic!("no number: {number}"));
    number.rsplit('-').next().unwrap().parse().unwrap()
}

macro_rules! draft {
    ($app:expr, $tenant:expr, $customer:expr) => {
        $app.invoice($tenant, $customer, &[("1", "10.00", "19")])
            .await["id"]
            .as_i64()
            .unwrap()
    };
}

async fn issue<S, B>(
    app: &crate::harness::app::TestApp<S>,
    tenant: &TestTenant,
    id: i64,
) -> crate::harness::Reply
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    app.send(
        tenant,
        Method::POST,
        &format!("/v1/invoices/{id}/issue"),
        None,
    )
    .await
}

#[actix_web::test]
async fn fifty_concurrent_issues_in_one_account_take_the_numbers_one_to_fifty() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    let mut drafts = Vec::new();
    for _ in 0..50 {
        drafts.push(draft!(app, &acme, customer));
    }
    let replies = join_all(drafts.iter().map(|id| issue(&app, &acme, *id))).await;
    let mut sequences: Vec<i64> = replies
        .iter()
        .map(|reply| sequence(&reply.ok(200)["number"]))
        .collect();
    sequences.sort();
    assert_eq!(sequences, (1..=50).collect::<Vec<_>>());
    let year = chrono::Utc::now().format("%Y").to_string();
    assert!(replies.iter().all(|r| {
        r.body["number"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{year}-"))
    }));
    let profile = app.get(&acme, "/v1/account").await;
    assert_eq!(profile.ok(200)["next_invoice_sequence"], 51);
}

/// Every write takes its account's event counter, and every insert into a
/// table that references `accounts` key-shares the account's row. Issuing
/// used to hold that row FOR UPDATE while it went on to take the counter,
/// so an issue beside a payment (which key-shares the row only at its event
/// insert, after taking the counter) deadlocked under load, and PostgreSQL
/// aborted one of them: a 500. Here the issue is held inside that window
/// (the test holds its number series' row) while the payment runs.
#[actix_web::test]
async fn an_issue_beside_a_payment_in_one_account_does_not_deadlock() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    let payable = app.issued_invoice(&acme, "100.00").await;
    let payments = format!("/v1/invoices/{payable}/payments");
    // Not the account's first payment: that one inserts its id counter's
    // row, which key-shares the account's row before the event does.
    let first = json!({"amount": "1.00", "method": "card"});
    app.post(&acme, &payments, first).await.ok(201);
    let draft = draft!(app, &acme, customer);
    let mut holder = app.db().owner_conn();
    holder
        .batch_execute("BEGIN; SELECT * FROM number_sequences WHERE account_id = 'acme' FOR UPDATE")
        .unwrap();
    // The superuser's: the owner cannot see the app role's sessions. On
    // Citus the issue waits on the worker that holds the shard: its view
    // of every node's sessions.
    let mut watcher = app.db().superuser_conn();
    let on_citus = json_rows(
        &mut watcher,
        "SELECT FROM pg_extension WHERE extname = 'citus'",
    )
    .len()
        == 1;
    let activity = if on_citus {
        "citus_stat_activity"
    } else {
        "pg_stat_activity"
    };
    let waiting_on_locks = move || {
        json_rows(
            &mut watcher,
            &format!(
                "SELECT pid FROM {activity} WHERE wait_event_type = 'Lock' \
                 AND datname = current_database()"
            ),
        )
        .len()
    };
    let issued = issue(&app, &acme, draft);
    let rest = async {
        let mut waiting_on_locks = waiting_on_locks;
        let started = Instant::now();
        while waiting_on_locks() == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the issue never waited for its number"
            );
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        // The issue holds the account's row and waits for its number.
        let paid = app.post(
            &acme,
            &payments,
            json!({"amount": "1.00", "method": "card"}),
        );
        let release = async {
            // Time for the payment to take the event counter and reach the
            // account's row.
            actix_web::rt::time::sleep(Duration::from_millis(500)).await;
            holder.batch_execute("COMMIT").unwrap();
        };
        futures_util::future::join(paid, release).await.0
    };
    let (issued, paid) = futures_util::future::join(issued, rest).await;
    issued.ok(200);
    paid.ok(201);
}

#[actix_web::test]
async fn a_failed_issue_takes_no_number() {
    let app = spawn().await;
    let acme = app.bare_tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    let first = draft!(app, &acme, customer);
    // Refused for missing seller data: nothing written, no number taken.
    let refused = issue(&app, &acme, first).await;
    let problem = refused.problem(409);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["account.legal_name", "account.address.country"]);
    let still = app.get(&acme, &format!("/v1/invoices/{first}")).await;
    assert_eq!(still.ok(200)["status"], "draft");
    assert_eq!(still.body["number"], Value::Null);
    assert_eq!(
        app.get(&acme, "/v1/account").await.ok(200)["next_invoice_sequence"],
        1
    );
    // Refused for a due date before today: no number either.
    app.patch(
        &acme,
        "/v1/account",
        crate::harness::app::seller_profile("acme"),
    )
    .await
    .ok(200);
    let late = app
        .post(
            &acme,
            "/v1/invoices",
            json!({"customer_id": customer, "currency": "EUR", "due_date": "2001-01-01",
                   "items": [{"description": "x", "quantity": 1, "unit_price": "1.00"}]}),
        )
        .await;
    let late = late.ok(201)["id"].as_i64().unwrap();
    issue(&app, &acme, late).await.problem(409);
    // The next successful issue gets number 1.
    let issued = issue(&app, &acme, first).await;
    assert_eq!(sequence(&issued.ok(200)["number"]), 1);
}

#[actix_web::test]
async fn issuing_without_seller_data_or_customer_country_names_each_field_and_writes_nothing() {
    let app = spawn().await;
    let acme = app.bare_tenant("acme").await;
    let bare = app
        .post(&acme, "/v1/customers", json!({"name": "No Address"}))
        .await;
    let bare = bare.ok(201)["id"].as_i64().unwrap();
    let id = draft!(app, &acme, bare);
    let before = json_rows(
        &mut app.db().owner_conn(),
        "SELECT * FROM invoices ORDER BY id",
    );
    let problem = issue(&app, &acme, id).await;
    let problem = problem.problem(409);
    assert_eq!(problem["type"], "urn:invoiced:problem:invoice-incomplete");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "account.legal_name",
            "account.address.country",
            "customer.billing_address.country"
        ]
    );
    let after = json_rows(
        &mut app.db().owner_conn(),
        "SELECT * FROM invoices ORDER BY id",
    );
    assert_eq!(before, after);
    assert_eq!(app.count("number_sequences"), 0);
    // An empty draft is refused first.
    let empty = app
        .post(
            &acme,
            "/v1/invoices",
            json!({"customer_id": bare, "currency": "EUR"}),
        )
        .await;
    let empty = empty.ok(201)["id"].as_i64().unwrap();
    let refused = issue(&app, &acme, empty).await;
    assert_eq!(
        refused.problem(409)["type"],
        "urn:invoiced:problem:invoice-has-no-items"
    );
}

#[actix_web::test]
async fn issuing_sets_dates_from_the_profile_and_a_zero_invoice_is_paid_at_once() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    app.patch(&acme, "/v1/account", json!({"payment_terms_days": 30}))
        .await
        .ok(200);
    let customer = app.customer(&acme, "Ann").await;
    let dated = app
        .post(
            &acme,
            "/v1/invoices",
            json!({"customer_id": customer, "currency": "EUR", "issue_date": "2026-03-01",
                   "items": [{"description": "x", "quantity": 1, "unit_price": "1.00"}]}),
        )
        .await;
    let dated = dated.ok(201)["id"].as_i64().unwrap();
    let issued = issue(&app, &acme, dated).await;
    assert_eq!(issued.ok(200)["issue_date"], "2026-03-01");
    assert_eq!(issued.body["due_date"], "2026-03-31");
    assert_eq!(issued.body["status"], "issued");
    // The seller and buyer as they were are kept with it.
    let kept = json_rows(
        &mut app.db().owner_conn(),
        &format!(
            "SELECT seller->>'legal_name' AS seller, buyer->>'name' AS buyer FROM invoices WHERE id = {dated}"
        ),
    );
    assert_eq!(kept[0], json!({"seller": "acme GmbH", "buyer": "Ann"}));

    let free = app.invoice(&acme, customer, &[("1", "0.00", "0")]).await;
    let free = free["id"].as_i64().unwrap();
    let paid = issue(&app, &acme, free).await;
    assert_eq!(paid.ok(200)["status"], "paid");
    assert_eq!(paid.body["total"], "0.00");
    assert_eq!(paid.body["balance_due"], "0.00");
    // The number given to a draft is kept; the series passes over it.
    let year = chrono::Utc::now().format("%Y").to_string();
    let claimed = app
        .post(
            &acme,
            "/v1/invoices",
            json!({"customer_id": customer, "currency": "EUR", "number": format!("{year}-00003"),
                   "items": [{"description": "x", "quantity": 1, "unit_price": "1.00"}]}),
        )
        .await;
    let claimed = claimed.ok(201)["id"].as_i64().unwrap();
    let next = draft!(app, &acme, customer);
    assert_eq!(
        sequence(&issue(&app, &acme, next).await.ok(200)["number"]),
        4
    );
    let kept = issue(&app, &acme, claimed).await;
    assert_eq!(kept.ok(200)["number"], format!("{year}-00003"));
}

#[actix_web::test]
async fn two_accounts_number_independently_and_do_not_wait_for_each_other() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let (a, g) = (
        app.customer(&acme, "A").await,
        app.customer(&globex, "G").await,
    );
    let first = draft!(app, &acme, a);
    assert_eq!(
        sequence(&issue(&app, &acme, first).await.ok(200)["number"]),
        1
    );
    // Another session holds acme's invoice counter (as an issue in flight would).
    let mut holder = app.db().owner_conn();
    holder
        .batch_execute("BEGIN; SELECT * FROM number_sequences WHERE account_id = 'acme' FOR UPDATE")
        .unwrap();
    let other = draft!(app, &globex, g);
    let started = Instant::now();
    let issued = issue(&app, &globex, other).await;
    assert_eq!(sequence(&issued.ok(200)["number"]), 1, "globex starts at 1");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "globex waited for acme"
    );
    holder.batch_execute("ROLLBACK").unwrap();
    let second = draft!(app, &acme, a);
    assert_eq!(
        sequence(&issue(&app, &acme, second).await.ok(200)["number"]),
        2
    );
}

#[actix_web::test]
async fn a_yearly_series_restarts_at_one_in_a_new_year() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    app.patch(
        &acme,
        "/v1/account",
        json!({"number_reset": "yearly", "invoice_number_format": "RE-{YY}/{SEQ:3}"}),
    )
    .await
    .ok(200);
    let customer = app.customer(&acme, "Ann").await;
    let mut numbers = Vec::new();
    for date in ["2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02"] {
        let draft = app
            .post(
                &acme,
                "/v1/invoices",
                json!({"customer_id": customer, "currency": "EUR", "issue_date": date,
                       "items": [{"description": "x", "quantity": 1, "unit_price": "1.00"}]}),
            )
            .await;
        let id = draft.ok(201)["id"].as_i64().unwrap();
        numbers.push(issue(&app, &acme, id).await.ok(200)["number"].clone());
    }
    assert_eq!(
        numbers,
        [
            json!("RE-26/001"),
            json!("RE-26/002"),
            json!("RE-27/001"),
            json!("RE-27/002")
        ]
    );
}

#[actix_web::test]
async fn the_next_number_can_be_raised_and_never_lowered_to_a_used_one() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    for _ in 0..3 {
        let id = draft!(app, &acme, customer);
        issue(&app, &acme, id).await.ok(200);
    }
    let raised = app
        .patch(&acme, "/v1/account", json!({"next_invoice_sequence": 1000}))
        .await;
    assert_eq!(raised.ok(200)["next_invoice_sequence"], 1000);
    let id = draft!(app, &acme, customer);
    assert_eq!(
        sequence(&issue(&app, &acme, id).await.ok(200)["number"]),
        1000
    );
    // Down again, but not to a used value: 1001 is next; 1000 and below are used.
    for used in [1000, 3, 1] {
        let refused = app
            .patch(
                &acme,
                "/v1/account",
                json!({"next_invoice_sequence": used, "legal_name": "Changed"}),
            )
            .await;
        let problem = refused.problem(409);
        assert_eq!(problem["errors"][0]["field"], "next_invoice_sequence");
    }
    let profile = app.get(&acme, "/v1/account").await;
    assert_eq!(profile.ok(200)["next_invoice_sequence"], 1001);
    assert_eq!(
        profile.body["legal_name"], "acme GmbH",
        "the refused PATCH changed nothing"
    );
    // Raised beyond, it may come down again to just past the last used.
    app.patch(&acme, "/v1/account", json!({"next_invoice_sequence": 5000}))
        .await
        .ok(200);
    let lowered = app
        .patch(&acme, "/v1/account", json!({"next_invoice_sequence": 1001}))
        .await;
    assert_eq!(lowered.ok(200)["next_invoice_sequence"], 1001);
    let credit = app
        .patch(
            &acme,
            "/v1/account",
            json!({"next_credit_note_sequence": 70}),
        )
        .await;
    assert_eq!(credit.ok(200)["next_credit_note_sequence"], 70);
}

#[actix_web::test]
async fn no_route_changes_an_issued_invoice() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;
    let id = draft!(app, &acme, customer);
    let issued = issue(&app, &acme, id).await.ok(200).clone();
    let item = issued["items"][0]["id"].as_i64().unwrap();
    let path = format!("/v1/invoices/{id}");
    let item_path = format!("{path}/items/{item}");
    for reply in [
        app.patch(&acme, &path, json!({"notes": "changed"})).await,
        app.patch(&acme, &path, json!({"number": "X-1"})).await,
        app.patch(&acme, &path, json!({"due_date": "2099-01-01"}))
            .await,
        app.patch(&acme, &path, json!({"customer_id": customer}))
            .await,
        app.patch(&acme, &path, json!({"service_date": "2026-01-01"}))
            .await,
        app.delete(&acme, &path).await,
        app.post(
            &acme,
            &format!("{path}/items"),
            json!({"description": "x", "quantity": 1, "unit_price": 1}),
        )
        .await,
        app.patch(&acme, &item_path, json!({"unit_price": "0.01"}))
            .await,
        app.patch(&acme, &item_path, json!({"tax_rate": "0"})).await,
        app.delete(&acme, &item_path).await,
        issue(&app, &acme, id).await,
    ] {
        reply.problem(409);
    }
    // Changing the customer or the account changes the live rows, never
    // the parties kept with the issued invoice.
    app.patch(
        &acme,
        &format!("/v1/customers/{customer}"),
        json!({"name": "Someone Else"}),
    )
    .await
    .ok(200);
    app.patch(&acme, "/v1/account", json!({"legal_name": "New Name"}))
        .await
        .ok(200);
    let after = app.get(&acme, &path).await.ok(200).clone();
    let mut expected = issued.clone();
    expected["updated_at"] = after["updated_at"].clone();
    assert_eq!(after, expected);
    let kept = json_rows(
        &mut app.db().owner_conn(),
        &format!(
            "SELECT seller->>'legal_name' AS seller, buyer->>'name' AS buyer FROM invoices WHERE id = {id}"
        ),
    );
    assert_eq!(kept[0], json!({"seller": "acme GmbH", "buyer": "Ann"}));

    // The database refuses it too, whoever asks (the app role in SQL).
    let mut sql = app.db().app_conn();
    for statement in [
        format!("UPDATE invoices SET notes = 'forged' WHERE id = {id}"),
        format!("UPDATE invoices SET number = 'X' WHERE id = {id}"),
        format!("UPDATE invoices SET status = 'paid' WHERE id = {id}"),
        format!("UPDATE invoices SET status = 'void' WHERE id = {id}"),
        format!("UPDATE invoice_items SET unit_price = 0 WHERE invoice_id = {id}"),
        format!("DELETE FROM invoice_items WHERE invoice_id = {id}"),
        format!("INSERT INTO invoice_items (account_id, invoice_id, position, description, quantity, unit_price)
                 VALUES ('acme', {id}, 2, 'x', 1, 1)"),
    ] {
        let refused = crate::harness::try_as_tenant(&mut sql, "acme", &statement);
        assert!(refused.is_err(), "allowed: {statement}");
    }
    assert_eq!(app.get(&acme, &path).await.ok(200)["status"], "issued");
}

#[actix_web::test]
async fn require_einvoice_asks_for_what_an_en_16931_invoice_needs() {
    let app = spawn().await;
    let acme = app.bare_tenant("acme").await;
    app.patch(
        &acme,
        "/v1/account",
        json!({"legal_name": "Acme GmbH", "address": {"city": "Berlin", "country": "DE"},
               "require_einvoice": true}),
    )
    .await
    .ok(200);
    let customer = app.customer(&acme, "Ann").await;
    let id = draft!(app, &acme, customer);
    let problem = issue(&app, &acme, id).await;
    let problem = problem.problem(409);
    assert_eq!(problem["errors"][0]["field"], "account.vat_id", "{problem}");
    // An intra-community supply needs the seller's and buyer's VAT ids and
    // a delivery date.
    app.patch(&acme, "/v1/account", json!({"vat_id": "DE123456789"}))
        .await
        .ok(200);
    let supply = app
        .post(
            &acme,
            "/v1/invoices",
            json!({"customer_id": customer, "currency": "EUR",
                   "items": [{"description": "Goods", "quantity": 1, "unit_price": "100.00",
                              "tax_category": "K", "tax_exemption_reason": "VATEX-EU-IC"}]}),
        )
        .await;
    let supply = supply.ok(201)["id"].as_i64().unwrap();
    let problem = issue(&app, &acme, supply).await;
    let fields: Vec<String> = problem.problem(409)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["customer.vat_id", "service_date"]);
    app.patch(
        &acme,
        &format!("/v1/customers/{customer}"),
        json!({"vat_id": "FR12345678901"}),
    )
    .await
    .ok(200);
    app.patch(
        &acme,
        &format!("/v1/invoices/{supply}"),
        json!({"service_date": "2026-11-30"}),
    )
    .await
    .ok(200);
    issue(&app, &acme, supply).await.ok(200);
    issue(&app, &acme, id).await.ok(200);
    // O cannot share an e-invoice with other categories (BR-O-11).
    let mixed = app
        .post(
            &acme,
            "/v1/invoices",
            json!({"customer_id": customer, "currency": "EUR",
                   "items": [{"description": "a", "quantity": 1, "unit_price": "1.00", "tax_rate": "19"},
                             {"description": "b", "quantity": 1, "unit_price": "1.00",
                              "tax_category": "O", "tax_exemption_reason": "Not subject to VAT"}]}),
        )
        .await;
    let mixed = mixed.ok(201)["id"].as_i64().unwrap();
    let problem = issue(&app, &acme, mixed).await;
    assert!(
        problem.problem(409)["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "items.tax_category")
    );
}
