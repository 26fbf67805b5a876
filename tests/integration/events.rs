//! Events: one per committed change, in the change's transaction, with the
//! object as the API showed it, the request id and the acting key; none for
//! a rolled-back request; append-only for the app role; pruned after the
//! retention period.

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::harness::app::{Reply, spawn};
use crate::harness::{execute, scalar, try_as_tenant};

/// The account's events, oldest first, all pages.
async fn all_events<S, B>(
    app: &crate::harness::app::TestApp<S>,
    tenant: &crate::harness::app::TestTenant,
) -> Vec<Value>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = app
            .get(tenant, &format!("/v1/events?limit=3&after={after}"))
            .await;
        let body = page.ok(200).clone();
        events.extend(body["data"].as_array().unwrap().iter().cloned());
        match body["next_after"].as_i64() {
            Some(next) => after = next,
            None => return events,
        }
    }
}

fn request_id(reply: &Reply) -> String {
    reply
        .header("x-request-id")
        .expect("every answer has one")
        .to_owned()
}

#[actix_web::test]
async fn every_committed_change_has_exactly_one_event_with_what_the_api_showed() {
    let app = spawn().await;
    let tenant = app.tenant("events-acme").await;
    let key_id = scalar(
        &mut app.db().owner_conn(),
        "SELECT id FROM api_keys WHERE account_id = 'events-acme'",
    );
    // (type, data expected, request id) of each change, in order.
    let mut expected: Vec<(&str, Value, String)> = Vec::new();

    let reply = app
        .patch(&tenant, "/v1/account", json!({"phone": "+49 30 1234"}))
        .await;
    expected.push(("account.updated", reply.ok(200).clone(), request_id(&reply)));

    let reply = app
        .post(
            &tenant,
            "/v1/customers",
            json!({"name": "Kunde", "billing_address": {
            "line1": "Weg 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}}),
        )
        .await;
    let customer = reply.ok(201).clone();
    let customer_id = customer["id"].as_i64().unwrap();
    expected.push(("customer.created", customer, request_id(&reply)));

    let reply = app
        .patch(
            &tenant,
            &format!("/v1/customers/{customer_id}"),
            json!({"email": "k@example.com"}),
        )
        .await;
    expected.push((
        "customer.updated",
        reply.ok(200).clone(),
        request_id(&reply),
    ));

    let reply = app
        .post(&tenant, "/v1/invoices", json!({"customer_id": customer_id, "currency": "EUR",
            "items": [{"description": "Work", "quantity": "2", "unit_price": "50.00", "tax_rate": "19"}]}))
        .await;
    let invoice = reply.ok(201).clone();
    let invoice_id = invoice["id"].as_i64().unwrap();
    expected.push(("invoice.created", invoice, request_id(&reply)));

    let reply = app
        .post(&tenant, &format!("/v1/invoices/{invoice_id}/items"),
            json!({"description": "Extra", "quantity": "1", "unit_price": "10.00", "tax_rate": "19"}))
        .await;
    let item_id = reply.ok(201)["id"].as_i64().unwrap();
    let after_add = app
        .get(&tenant, &format!("/v1/invoices/{invoice_id}"))
        .await
        .ok(200)
        .clone();
    expected.push(("invoice.updated", after_add, request_id(&reply)));

    let reply = app
        .delete(
            &tenant,
            &format!("/v1/invoices/{invoice_id}/items/{item_id}"),
        )
        .await;
    assert_eq!(reply.status, 204);
    let after_delete = app
        .get(&tenant, &format!("/v1/invoices/{invoice_id}"))
        .await
        .ok(200)
        .clone();
    expected.push(("invoice.updated", after_delete, request_id(&reply)));

    let reply = app
        .patch(
            &tenant,
            &format!("/v1/invoices/{invoice_id}"),
            json!({"notes": "Danke"}),
        )
        .await;
    expected.push(("invoice.updated", reply.ok(200).clone(), request_id(&reply)));

    let reply = app
        .send(
            &tenant,
            Method::POST,
            &format!("/v1/invoices/{invoice_id}/issue"),
            None,
        )
        .await;
    let issued = reply.ok(200).clone();
    expected.push(("invoice.issued", issued.clone(), request_id(&reply)));

    let reply = app
        .post(
            &tenant,
            &format!("/v1/invoices/{invoice_id}/payments"),
            json!({"amount": issued["total"], "method": "bank_transfer"}),
        )
        .await;
    expected.push(("payment.created", reply.ok(201).clone(), request_id(&reply)));
    let paid = app
        .get(&tenant, &format!("/v1/invoices/{invoice_id}"))
        .await
        .ok(200)
        .clone();
    assert_eq!(paid["status"], "paid");
    expected.push(("invoice.paid", paid, request_id(&reply)));

    // Void: the invoice and its cancellation credit note, one event each.
    let second = app
        .invoice(&tenant, customer_id, &[("1", "30.00", "19")])
        .await;
    let second_id = second["id"].as_i64().unwrap();
    expected.push(("invoice.created", second, String::new()));
    let reply = app
        .send(
            &tenant,
            Method::POST,
            &format!("/v1/invoices/{second_id}/issue"),
            None,
        )
        .await;
    expected.push(("invoice.issued", reply.ok(200).clone(), request_id(&reply)));
    let reply = app
        .send(
            &tenant,
            Method::POST,
            &format!("/v1/invoices/{second_id}/void"),
            None,
        )
        .await;
    expected.push(("invoice.voided", reply.ok(200).clone(), request_id(&reply)));
    let note = app
        .get(&tenant, &format!("/v1/invoices/{second_id}/credit_notes"))
        .await
        .ok(200)["data"][0]
        .clone();
    expected.push(("credit_note.created", note, request_id(&reply)));

    // A partial payment and a credit note for the rest settle an invoice;
    // a full credit note on an unpaid one cancels it.
    let third = app
        .invoice(&tenant, customer_id, &[("1", "40.00", "0")])
        .await;
    let third_id = third["id"].as_i64().unwrap();
    expected.push(("invoice.created", third, String::new()));
    let reply = app
        .send(
            &tenant,
            Method::POST,
            &format!("/v1/invoices/{third_id}/issue"),
            None,
        )
        .await;
    expected.push(("invoice.issued", reply.ok(200).clone(), request_id(&reply)));
    let reply = app
        .post(
            &tenant,
            &format!("/v1/invoices/{third_id}/credit_notes"),
            json!({"reason": "Goodwill", "full": true}),
        )
        .await;
    expected.push((
        "credit_note.created",
        reply.ok(201).clone(),
        request_id(&reply),
    ));
    let cancelled = app
        .get(&tenant, &format!("/v1/invoices/{third_id}"))
        .await
        .ok(200)
        .clone();
    assert_eq!(cancelled["status"], "void", "{cancelled}");
    expected.push(("invoice.voided", cancelled, request_id(&reply)));
    let fourth = app
        .invoice(&tenant, customer_id, &[("2", "20.00", "0")])
        .await;
    let fourth_id = fourth["id"].as_i64().unwrap();
    let fourth_item = fourth["items"][0]["id"].as_i64().unwrap();
    expected.push(("invoice.created", fourth, String::new()));
    let reply = app
        .send(
            &tenant,
            Method::POST,
            &format!("/v1/invoices/{fourth_id}/issue"),
            None,
        )
        .await;
    expected.push(("invoice.issued", reply.ok(200).clone(), request_id(&reply)));
    let reply = app
        .post(
            &tenant,
            &format!("/v1/invoices/{fourth_id}/payments"),
            json!({"amount": "20.00", "method": "card"}),
        )
        .await;
    expected.push(("payment.created", reply.ok(201).clone(), request_id(&reply)));
    let reply = app
        .post(
            &tenant,
            &format!("/v1/invoices/{fourth_id}/credit_notes"),
            json!({"reason": "One returned", "lines": [{"item_id": fourth_item, "quantity": "1"}]}),
        )
        .await;
    expected.push((
        "credit_note.created",
        reply.ok(201).clone(),
        request_id(&reply),
    ));
    let settled = app
        .get(&tenant, &format!("/v1/invoices/{fourth_id}"))
        .await
        .ok(200)
        .clone();
    assert_eq!(settled["status"], "paid", "{settled}");
    expected.push(("invoice.paid", settled, request_id(&reply)));

    // Deletions show the object as it was.
    let draft = app
        .invoice(&tenant, customer_id, &[("1", "5.00", "0")])
        .await;
    let draft_id = draft["id"].as_i64().unwrap();
    expected.push(("invoice.created", draft.clone(), String::new()));
    let reply = app
        .delete(&tenant, &format!("/v1/invoices/{draft_id}"))
        .await;
    assert_eq!(reply.status, 204);
    expected.push(("invoice.deleted", draft, request_id(&reply)));
    let lone = app
        .post(&tenant, "/v1/customers", json!({"name": "Lone"}))
        .await;
    let lone_body = lone.ok(201).clone();
    expected.push(("customer.created", lone_body.clone(), request_id(&lone)));
    let reply = app
        .delete(&tenant, &format!("/v1/customers/{}", lone_body["id"]))
        .await;
    assert_eq!(reply.status, 204);
    expected.push(("customer.deleted", lone_body, request_id(&reply)));

    let events = all_events(&app, &tenant).await;
    // The first event is the harness's own profile update.
    assert_eq!(events[0]["type"], "account.updated");
    let events = &events[1..];
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let wanted: Vec<&str> = expected.iter().map(|(t, _, _)| *t).collect();
    assert_eq!(types, wanted);
    for (event, (kind, data, request)) in events.iter().zip(&expected) {
        assert_eq!(&event["data"], data, "{kind}");
        if !request.is_empty() {
            assert_eq!(
                event["request_id"].as_str(),
                Some(request.as_str()),
                "{kind}"
            );
        }
        assert_eq!(event["api_key_id"], key_id, "{kind}");
        let one = app
            .get(&tenant, &format!("/v1/events/{}", event["id"]))
            .await;
        assert_eq!(one.ok(200), event);
    }
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");

    // Reads and refused requests write nothing.
    let count = events.len();
    app.get(&tenant, "/v1/customers").await.ok(200);
    app.post(&tenant, "/v1/customers", json!({"name": ""}))
        .await
        .problem(422);
    app.send(
        &tenant,
        Method::POST,
        &format!("/v1/invoices/{second_id}/void"),
        None,
    )
    .await
    .problem(409);
    assert_eq!(all_events(&app, &tenant).await.len() - 1, count);

    // ?type= narrows; an unknown type is refused.
    let paid_only = app.get(&tenant, "/v1/events?type=invoice.paid").await;
    assert_eq!(paid_only.ok(200)["data"].as_array().unwrap().len(), 2);
    assert!(
        paid_only.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] == "invoice.paid")
    );
    app.get(&tenant, "/v1/events?type=invoice.payed")
        .await
        .problem(400);
    app.get(&tenant, "/v1/events/999999").await.problem(404);
}

#[actix_web::test]
async fn a_rolled_back_request_leaves_neither_its_change_nor_its_event() {
    let app = spawn().await;
    let tenant = app.tenant("events-rollback").await;
    let before = scalar(&mut app.db().owner_conn(), "SELECT count(*) FROM events");
    // The event's insert fails (as a full disk or a lost connection would
    // make it fail) after the customer has been inserted in the same
    // transaction.
    // One statement at a time (Citus passes some DDL on to the workers
    // as sent), and a trigger on a distributed table only when told.
    let mut superuser = app.db().superuser_conn();
    for statement in [
        "SET citus.enable_unsafe_triggers = on",
        "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'no events today'; END $$",
        "CREATE TRIGGER refuse_event BEFORE INSERT ON events FOR EACH ROW
             WHEN (NEW.type = 'customer.created') EXECUTE FUNCTION refuse_event()",
    ] {
        execute(&mut superuser, statement);
    }
    let reply = app
        .post(&tenant, "/v1/customers", json!({"name": "Ghost"}))
        .await;
    reply.problem(500);
    let mut owner = app.db().owner_conn();
    assert_eq!(
        scalar(&mut owner, "SELECT count(*) FROM customers"),
        json!(0)
    );
    assert_eq!(scalar(&mut owner, "SELECT count(*) FROM events"), before);
    // The customer and its event exist together once events are written.
    execute(&mut superuser, "DROP TRIGGER refuse_event ON events");
    app.post(&tenant, "/v1/customers", json!({"name": "Real"}))
        .await
        .ok(201);
    assert_eq!(
        scalar(
            &mut owner,
            "SELECT count(*) FROM events WHERE type = 'customer.created'"
        ),
        json!(1)
    );
}

#[actix_web::test]
async fn the_app_role_may_write_and_read_events_but_never_change_or_delete_them() {
    let app = spawn().await;
    let tenant = app.tenant("events-append").await;
    app.tenant("events-other").await;
    app.post(&tenant, "/v1/customers", json!({"name": "Kept"}))
        .await
        .ok(201);
    let mut conn = app.db().app_conn();
    for statement in [
        "UPDATE events SET data = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
        "UPDATE events SET type = 'customer.deleted' WHERE id = 1",
    ] {
        let refused = try_as_tenant(&mut conn, "events-append", statement).unwrap_err();
        assert!(
            refused.contains("permission denied"),
            "{statement}: {refused}"
        );
    }
    // Inserts go as the service sends them: prepared, with parameters.
    let insert = |conn: &mut diesel::PgConnection, account: &str| {
        use diesel::connection::SimpleConnection;
        use diesel::{Connection, RunQueryDsl};
        conn.transaction(|conn| {
            conn.batch_execute(
                "SET LOCAL citus.propagate_set_commands = 'local';
                 SET LOCAL app.account_id = 'events-append'",
            )?;
            diesel::sql_query(
                "INSERT INTO events (account_id, type, data) VALUES ($1, 'customer.updated', '{}')",
            )
            .bind::<diesel::sql_types::Text, _>(account)
            .execute(conn)
        })
        .map_err(|error: diesel::result::Error| error.to_string())
    };
    insert(&mut conn, "events-append").unwrap();
    // Not into another account's trail.
    let refused = insert(&mut conn, "events-other").unwrap_err();
    assert!(refused.contains("row-level security"), "{refused}");
}

#[actix_web::test]
async fn events_older_than_the_retention_are_pruned_with_their_deliveries() {
    let app = spawn().await;
    let tenant = app.tenant("events-prune").await;
    app.post(
        &tenant,
        "/v1/webhook_endpoints",
        json!({"url": "http://127.0.0.1:9/", "events": ["*"]}),
    )
    .await
    .ok(201);
    for name in ["One", "Two", "Three"] {
        app.post(&tenant, "/v1/customers", json!({"name": name}))
            .await
            .ok(201);
    }
    let mut owner = app.db().owner_conn();
    execute(
        &mut owner,
        "UPDATE events SET created_at = now() - interval '31 days'
         WHERE type = 'customer.created' AND data->>'name' IN ('One', 'Two')",
    );
    let pruned = invoiced::maintenance::run_once(&mut app.db().app_conn(), 30).unwrap();
    assert_eq!(pruned.events, 2);
    let left = scalar(
        &mut owner,
        "SELECT json_agg(data->>'name' ORDER BY id) FROM events WHERE type = 'customer.created'",
    );
    assert_eq!(left, json!(["Three"]));
    assert_eq!(
        scalar(
            &mut owner,
            "SELECT count(*) FROM webhook_deliveries d JOIN events e ON e.account_id = d.account_id AND e.id = d.event_id WHERE e.type = 'customer.created'"
        ),
        json!(1)
    );
    assert_eq!(
        scalar(&mut owner, "SELECT count(*) FROM webhook_deliveries"),
        json!(1)
    );
}
