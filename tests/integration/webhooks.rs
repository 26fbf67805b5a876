//! Webhook endpoints and the sender, against a real receiver on loopback:
//! Standard Webhooks signatures checked by the reference library (PyPI
//! `standardwebhooks`; `.ci/run` installs it, TEST_PYTHON names the
//! interpreter), the retry schedule on a clock the test moves, failure,
//! redelivery, redirects, and the destination rules (SSRF) with a resolver
//! the test controls — no request ever leaves loopback.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::Method;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use invoiced::config::PoolConfig;
use invoiced::db::Database;
use invoiced::webhooks::destination::{Policy, Resolver};
use invoiced::webhooks::sender::{Clock, Sender};

use crate::harness::TestDatabase;
use crate::harness::app::{spawn, spawn_with_state, test_config};
use crate::harness::receiver::{Answer, Receiver};
use crate::harness::scalar;

/// A clock that runs with real time, plus whatever the test adds.
#[derive(Default)]
struct TestClock {
    ahead: Mutex<chrono::Duration>,
}

impl TestClock {
    fn advance(&self, by: Duration) {
        *self.ahead.lock().unwrap() += chrono::Duration::from_std(by).unwrap();
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.ahead.lock().unwrap()
    }
}

/// Host names the test decides the addresses of.
#[derive(Default)]
struct TestResolver {
    names: Mutex<HashMap<String, Vec<IpAddr>>>,
}

impl TestResolver {
    fn set(&self, name: &str, ip: &str) {
        self.names
            .lock()
            .unwrap()
            .insert(name.into(), vec![ip.parse().unwrap()]);
    }
}

impl Resolver for TestResolver {
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        self.names
            .lock()
            .unwrap()
            .get(host)
            .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"))
    }
}

fn sender_for(db: &TestDatabase, policy: Policy, clock: Arc<dyn Clock>) -> Arc<Sender> {
    let pool = PoolConfig {
        max_size: 2,
        min_idle: 0,
        ..test_config(db, false).pool
    };
    Arc::new(Sender::new(
        Database::new(&db.app_url(), &pool),
        policy,
        clock,
        Arc::default(),
    ))
}

fn insecure() -> Policy {
    Policy::new(true)
}

/// Sends until nothing is due.
async fn drain(sender: &Sender) -> usize {
    let mut sent = 0;
    loop {
        match sender.run_once().await.expect("the sender works") {
            0 => return sent,
            n => sent += n,
        }
    }
}

/// Each case verified by the reference implementation: true when
/// `Webhook(secret).verify(body, headers)` accepts it.
fn verify_with_reference_library(
    cases: &[(String, Vec<u8>, HashMap<String, String>)],
) -> Vec<bool> {
    const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
results = []
for case in json.load(sys.stdin):
    try:
        Webhook(case["secret"]).verify(case["body"], case["headers"])
        results.append(True)
    except WebhookVerificationError:
        results.append(False)
print(json.dumps(results))
"#;
    let input: Vec<Value> = cases
        .iter()
        .map(|(secret, body, headers)| {
            json!({"secret": secret, "body": String::from_utf8(body.clone()).unwrap(), "headers": headers})
        })
        .collect();
    let python = std::env::var("TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .args(["-c", VERIFY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {python}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the standardwebhooks library failed (or is missing: pip install standardwebhooks, \
         or set TEST_PYTHON): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[actix_web::test]
async fn endpoints_are_created_with_a_secret_shown_once_listed_changed_and_deleted() {
    let app = spawn().await;
    let tenant = app.tenant("hooks-crud").await;
    let created = app
        .post(
            &tenant,
            "/v1/webhook_endpoints",
            json!({
            "url": "http://127.0.0.1:9/in", "events": ["invoice.paid", "payment.created"],
            "description": "Accounting"}),
        )
        .await;
    let body = created.ok(201).clone();
    let secret = body["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() >= 6 + 44,
        "{secret}"
    );
    assert_eq!(body["events"], json!(["invoice.paid", "payment.created"]));
    assert_eq!(body["enabled"], true);
    let id = body["id"].as_i64().unwrap();
    let path = format!("/v1/webhook_endpoints/{id}");
    let got = app.get(&tenant, &path).await;
    assert!(got.ok(200).get("secret").is_none(), "{}", got.text);
    let listed = app.get(&tenant, "/v1/webhook_endpoints").await;
    assert!(listed.ok(200)["data"][0].get("secret").is_none());
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);

    let changed = app
        .patch(
            &tenant,
            &path,
            json!({"events": ["*"], "enabled": false, "description": null}),
        )
        .await;
    assert_eq!(changed.ok(200)["events"], json!(["*"]));
    assert_eq!(changed.body["enabled"], false);
    assert_eq!(changed.body["description"], Value::Null);

    for (body, field) in [
        (
            json!({"url": "http://127.0.0.1:9/", "events": []}),
            "events",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["invoice.payed"]}),
            "events",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["*", "invoice.paid"]}),
            "events",
        ),
        (json!({"url": "ftp://127.0.0.1/", "events": ["*"]}), "url"),
        (
            json!({"url": "http://user@127.0.0.1/", "events": ["*"]}),
            "url",
        ),
    ] {
        let refused = app
            .post(&tenant, "/v1/webhook_endpoints", body.clone())
            .await;
        assert_eq!(refused.problem(422)["errors"][0]["field"], field, "{body}");
    }

    assert_eq!(app.delete(&tenant, &path).await.status, 204);
    app.get(&tenant, &path).await.problem(404);
    app.delete(&tenant, &path).await.problem(404);

    // At most 16 per account.
    for n in 0..16 {
        app.post(
            &tenant,
            "/v1/webhook_endpoints",
            json!({"url": format!("http://127.0.0.1:9/{n}"), "events": ["*"]}),
        )
        .await
        .ok(201);
    }
    let refused = app
        .post(
            &tenant,
            "/v1/webhook_endpoints",
            json!({"url": "http://127.0.0.1:9/17", "events": ["*"]}),
        )
        .await;
    assert_eq!(
        refused.problem(409)["type"]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next(),
        Some("too-many-webhook-endpoints")
    );
    assert_eq!(
        scalar(
            &mut app.db().owner_conn(),
            "SELECT count(*) FROM webhook_endpoints"
        ),
        json!(16)
    );
}

#[actix_web::test]
async fn a_receiver_gets_each_event_signed_so_that_the_reference_library_verifies_it() {
    let app = spawn().await;
    let tenant = app.tenant("hooks-signed").await;
    let receiver = Receiver::start(204);
    let endpoint = app
        .post(&tenant, "/v1/webhook_endpoints", json!({"url": receiver.url("/hooks?src=invoiced"), "events": ["customer.created", "customer.updated"]}))
        .await
        .ok(201)
        .clone();
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    let customer = app.customer(&tenant, "Signed GmbH").await;
    app.patch(
        &tenant,
        &format!("/v1/customers/{customer}"),
        json!({"phone": "1"}),
    )
    .await
    .ok(200);
    // Not subscribed: not sent.
    app.invoice(&tenant, customer, &[("1", "1.00", "0")]).await;

    let sender = sender_for(app.db(), insecure(), Arc::new(TestClock::default()));
    assert_eq!(drain(&sender).await, 2);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let events = app
        .get(&tenant, "/v1/events?type=customer.created")
        .await
        .ok(200)
        .clone();
    let created = &events["data"][0];
    assert_eq!(received[0].path, "/hooks?src=invoiced");
    assert_eq!(received[0].header("content-type"), "application/json");
    assert_eq!(
        received[0].header("webhook-id"),
        format!("evt_hooks-signed_{}", created["id"])
    );
    let body = received[0].json();
    assert_eq!(body["type"], "customer.created");
    assert_eq!(body["data"], created["data"]);
    assert_eq!(
        DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).unwrap(),
        DateTime::parse_from_rfc3339(created["created_at"].as_str().unwrap()).unwrap()
    );
    assert_eq!(received[1].json()["type"], "customer.updated");

    let mut cases = Vec::new();
    for request in &received {
        cases.push((
            secret.clone(),
            request.body.clone(),
            request.headers.clone(),
        ));
    }
    // Tampered: another body, another timestamp, another secret.
    let mut body = received[0].body.clone();
    body[10] ^= 1;
    cases.push((secret.clone(), body, received[0].headers.clone()));
    let mut headers = received[0].headers.clone();
    let timestamp: i64 = headers["webhook-timestamp"].parse().unwrap();
    headers.insert("webhook-timestamp".into(), (timestamp + 1).to_string());
    cases.push((secret.clone(), received[0].body.clone(), headers));
    cases.push((
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        received[0].body.clone(),
        received[0].headers.clone(),
    ));
    assert_eq!(
        verify_with_reference_library(&cases),
        vec![true, true, false, false, false]
    );

    // The log shows both as delivered.
    let log = app
        .get(
            &tenant,
            &format!("/v1/webhook_endpoints/{}/deliveries", endpoint["id"]),
        )
        .await;
    let attempts = log.ok(200)["data"].as_array().unwrap().clone();
    assert_eq!(attempts.len(), 2);
    for attempt in &attempts {
        assert_eq!(attempt["status_code"], 204);
        assert_eq!(attempt["error"], Value::Null);
        assert_eq!(attempt["attempt"], 1);
    }
    assert_eq!(drain(&sender).await, 0, "nothing is sent twice");
}

#[actix_web::test]
async fn a_failing_receiver_is_retried_on_schedule_with_the_same_webhook_id() {
    let app = spawn().await;
    let tenant = app.tenant("hooks-retry").await;
    let receiver = Receiver::start(200);
    receiver.script([Answer::from(500), Answer::from(500)]);
    let endpoint = app
        .post(
            &tenant,
            "/v1/webhook_endpoints",
            json!({"url": receiver.url("/"), "events": ["customer.created"]}),
        )
        .await
        .ok(201)
        .clone();
    app.customer(&tenant, "Retry AG").await;
    let clock = Arc::new(TestClock::default());
    let sender = sender_for(app.db(), insecure(), clock.clone());

    assert_eq!(drain(&sender).await, 1);
    // Not due again for 5 s.
    clock.advance(Duration::from_secs(4));
    assert_eq!(drain(&sender).await, 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(drain(&sender).await, 1);
    // Then 5 minutes.
    clock.advance(Duration::from_secs(299));
    assert_eq!(drain(&sender).await, 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(drain(&sender).await, 1);
    clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(drain(&sender).await, 0, "delivered: never again");

    let received = receiver.received();
    assert_eq!(received.len(), 3);
    let ids: Vec<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(received[0].body, received[2].body);

    let log = app
        .get(
            &tenant,
            &format!("/v1/webhook_endpoints/{}/deliveries", endpoint["id"]),
        )
        .await
        .ok(200)
        .clone();
    let attempts = log["data"].as_array().unwrap();
    let codes: Vec<i64> = attempts
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 200]);
    assert_eq!(attempts[0]["error"], "answered 500: status 500");
    let at = |n: usize| {
        DateTime::parse_from_rfc3339(attempts[n]["attempted_at"].as_str().unwrap()).unwrap()
    };
    let first_gap = (at(1) - at(0)).num_milliseconds();
    let second_gap = (at(2) - at(1)).num_milliseconds();
    assert!((5_000..7_000).contains(&first_gap), "{first_gap} ms");
    assert!((300_000..302_000).contains(&second_gap), "{second_gap} ms");
    assert_eq!(
        scalar(
            &mut app.db().owner_conn(),
            "SELECT json_agg(status) FROM webhook_deliveries"
        ),
        json!(["delivered"])
    );
}

#[actix_web::test]
async fn a_receiver_that_never_answers_2xx_ends_failed_with_every_attempt_logged_then_redelivery_works()
 {
    let app = spawn().await;
    let tenant = app.tenant("hooks-failed").await;
    let receiver = Receiver::start(503);
    let endpoint = app
        .post(
            &tenant,
            "/v1/webhook_endpoints",
            json!({"url": receiver.url("/"), "events": ["*"]}),
        )
        .await
        .ok(201)
        .clone();
    app.customer(&tenant, "Never AG").await;
    let clock = Arc::new(TestClock::default());
    let sender = sender_for(app.db(), insecure(), clock.clone());
    let mut sent = drain(&sender).await;
    for delay in invoiced::webhooks::sender::RETRY_DELAYS {
        clock.advance(delay);
        sent += drain(&sender).await;
    }
    assert_eq!(sent, 8);
    clock.advance(Duration::from_secs(7 * 24 * 3600));
    assert_eq!(drain(&sender).await, 0);
    let mut owner = app.db().owner_conn();
    assert_eq!(
        scalar(
            &mut owner,
            "SELECT json_agg(json_build_array(status, attempts)) FROM webhook_deliveries"
        ),
        json!([["failed", 8]])
    );
    let log = app
        .get(
            &tenant,
            &format!("/v1/webhook_endpoints/{}/deliveries", endpoint["id"]),
        )
        .await
        .ok(200)
        .clone();
    let attempts = log["data"].as_array().unwrap();
    assert_eq!(attempts.len(), 8);
    assert!(attempts.iter().all(|a| a["status_code"] == 503));
    let numbers: Vec<i64> = attempts
        .iter()
        .map(|a| a["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=8).collect::<Vec<_>>());

    // Redelivery queues it once more, with the same webhook-id.
    receiver.answer(200);
    let event_id = attempts[0]["event_id"].as_i64().unwrap();
    let queued = app
        .send(
            &tenant,
            Method::POST,
            &format!("/v1/events/{event_id}/redeliver"),
            None,
        )
        .await;
    assert_eq!(queued.status, 202, "{}", queued.text);
    assert_eq!(queued.body["deliveries"][0]["status"], "pending");
    assert_eq!(drain(&sender).await, 1);
    let received = receiver.received();
    assert_eq!(received.len(), 9);
    assert_eq!(
        received[8].header("webhook-id"),
        received[0].header("webhook-id")
    );
    app.send(&tenant, Method::POST, "/v1/events/999/redeliver", None)
        .await
        .problem(404);
    // With no endpoint left, there is nothing to redeliver to.
    app.delete(
        &tenant,
        &format!("/v1/webhook_endpoints/{}", endpoint["id"]),
    )
    .await;
    app.send(
        &tenant,
        Method::POST,
        &format!("/v1/events/{event_id}/redeliver"),
        None,
    )
    .await
    .problem(409);
}

#[actix_web::test]
async fn a_redirect_is_an_answer_not_a_new_destination() {
    let app = spawn().await;
    let tenant = app.tenant("hooks-redirect").await;
    let target = Receiver::start(200);
    let redirecting = Receiver::start(200);
    redirecting.script([Answer {
        status: 307,
        location: Some(target.url("/elsewhere")),
    }]);
    app.post(
        &tenant,
        "/v1/webhook_endpoints",
        json!({"url": redirecting.url("/"), "events": ["*"]}),
    )
    .await
    .ok(201);
    app.customer(&tenant, "Moved KG").await;
    let sender = sender_for(app.db(), insecure(), Arc::new(TestClock::default()));
    assert_eq!(drain(&sender).await, 1);
    assert_eq!(redirecting.received().len(), 1);
    assert_eq!(target.connections(), 0, "the redirect was followed");
    assert_eq!(
        scalar(
            &mut app.db().owner_conn(),
            "SELECT json_agg(json_build_array(status, attempts)) FROM webhook_deliveries"
        ),
        json!([["pending", 1]])
    );
}

#[actix_web::test]
async fn destinations_must_be_https_and_public_at_creation_and_again_when_sending() {
    let db = TestDatabase::new();
    let mut config = test_config(&db, true);
    config.webhooks.allow_insecure = false;
    let resolver = Arc::new(TestResolver::default());
    resolver.set("public.example.test", "93.184.216.34");
    resolver.set("inside.example.test", "192.168.0.10");
    resolver.set("moving.example.test", "93.184.216.35");
    let policy = Policy {
        allow_insecure: false,
        resolver: resolver.clone(),
    };
    let app_policy = policy.clone();
    let app = spawn_with_state(Some(db), config, move |state| {
        state.webhook_policy = app_policy
    })
    .await;
    let tenant = app.tenant("hooks-ssrf").await;
    for (url, why) in [
        ("http://public.example.test/", "must be https"),
        ("https://127.0.0.1/", "loopback"),
        ("https://localhost.example.test/", "could not be resolved"),
        ("https://10.1.2.3/", "private"),
        ("https://[::1]/", "loopback"),
        ("https://[fd00::1]/", "unique-local"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://inside.example.test/", "private"),
    ] {
        let refused = app
            .post(
                &tenant,
                "/v1/webhook_endpoints",
                json!({"url": url, "events": ["*"]}),
            )
            .await;
        let problem = refused.problem(422);
        assert_eq!(problem["errors"][0]["field"], "url", "{url}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(why),
            "{url}: {problem}"
        );
    }
    // Accepted while the name resolves to a public address (nothing is
    // sent at creation)...
    let receiver = Receiver::start(200);
    let url = format!("https://moving.example.test:{}/", receiver.port());
    app.post(
        &tenant,
        "/v1/webhook_endpoints",
        json!({"url": url, "events": ["*"]}),
    )
    .await
    .ok(201);
    app.patch(
        &tenant,
        "/v1/webhook_endpoints/1",
        json!({"url": "http://public.example.test/"}),
    )
    .await
    .problem(422);
    app.customer(&tenant, "Rebind Ltd").await;
    // ...then it resolves to loopback, where a receiver listens: the
    // sender must not connect.
    resolver.set("moving.example.test", "127.0.0.1");
    let sender = sender_for(app.db(), policy, Arc::new(TestClock::default()));
    assert_eq!(drain(&sender).await, 1);
    assert_eq!(
        receiver.connections(),
        0,
        "the sender connected to loopback"
    );
    let log = app
        .get(&tenant, "/v1/webhook_endpoints/1/deliveries")
        .await
        .ok(200)
        .clone();
    let attempt = &log["data"][0];
    assert_eq!(attempt["status_code"], Value::Null);
    let error = attempt["error"].as_str().unwrap();
    assert!(
        error.contains("127.0.0.1") && error.contains("loopback"),
        "{error}"
    );
}

#[actix_web::test]
async fn another_accounts_events_endpoints_and_deliveries_are_404_and_unchanged() {
    let app = spawn().await;
    let owner = app.tenant("hooks-owner").await;
    let other = app.tenant("hooks-other").await;
    let endpoint = app
        .post(
            &owner,
            "/v1/webhook_endpoints",
            json!({"url": "http://127.0.0.1:9/", "events": ["*"]}),
        )
        .await
        .ok(201)
        .clone();
    let id = endpoint["id"].as_i64().unwrap();
    app.customer(&owner, "Private GmbH").await;
    let event = app
        .get(&owner, "/v1/events?type=customer.created")
        .await
        .ok(200)["data"][0]["id"]
        .as_i64()
        .unwrap();
    let before = scalar(
        &mut app.db().owner_conn(),
        "SELECT json_agg(t ORDER BY id) FROM (SELECT id, url, enabled FROM webhook_endpoints) t",
    );
    for path in [
        format!("/v1/events/{event}"),
        format!("/v1/webhook_endpoints/{id}"),
        format!("/v1/webhook_endpoints/{id}/deliveries"),
    ] {
        app.get(&other, &path).await.problem(404);
    }
    app.send(
        &other,
        Method::POST,
        &format!("/v1/events/{event}/redeliver"),
        None,
    )
    .await
    .problem(404);
    app.patch(
        &other,
        &format!("/v1/webhook_endpoints/{id}"),
        json!({"enabled": false}),
    )
    .await
    .problem(404);
    app.delete(&other, &format!("/v1/webhook_endpoints/{id}"))
        .await
        .problem(404);
    // Lists show only the caller's own.
    assert_eq!(
        app.get(&other, "/v1/webhook_endpoints").await.ok(200)["data"],
        json!([])
    );
    let theirs = app.get(&other, "/v1/events").await.ok(200).clone();
    assert!(
        theirs["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] == "account.updated"),
        "{theirs}"
    );
    assert_eq!(
        scalar(
            &mut app.db().owner_conn(),
            "SELECT json_agg(t ORDER BY id) FROM (SELECT id, url, enabled FROM webhook_endpoints) t",
        ),
        before
    );
    assert_eq!(
        scalar(
            &mut app.db().owner_conn(),
            "SELECT count(*) FROM webhook_deliveries WHERE account_id = 'hooks-other'"
        ),
        json!(0)
    );
}
