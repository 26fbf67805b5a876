//! The webhook sender inside real `invoiced serve` processes: two instances
//! on one database share the work and send no event twice; a SIGKILL in
//! the middle of sending loses nothing. Everything goes to a receiver on
//! loopback (WEBHOOK_ALLOW_INSECURE=true).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::harness::http_client::request;
use crate::harness::process::RunningService;
use crate::harness::receiver::Receiver;
use crate::harness::{TestDatabase, invoiced, scalar};
use crate::service_process::with_acme;

/// `serve` with its sender (two workers) and its metrics on a port of its own.
fn serve_with_sender(db: &TestDatabase) -> RunningService {
    RunningService::start(
        invoiced()
            .arg("serve")
            .env("DATABASE_URL", db.app_url())
            .env("MIGRATION_DATABASE_URL", db.owner_url())
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("METRICS_BIND_ADDR", "127.0.0.1:0")
            .env("WEBHOOK_WORKERS", "2")
            .env("WEBHOOK_ALLOW_INSECURE", "true")
            .env("RUST_LOG", "info"),
    )
}

/// Where the instance serves /metrics (it logs the address it bound).
fn metrics_address(service: &RunningService) -> SocketAddr {
    let output = service.output_with(|line| line.contains("metrics on http://"));
    output
        .lines()
        .find_map(|line| {
            let rest = line.split("metrics on http://").nth(1)?;
            rest.split('/').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no metrics address in:\n{output}"))
}

/// Deliveries this instance's sender made that the receiver took (2xx).
fn delivered_by(service: &RunningService) -> u64 {
    let metrics = request(metrics_address(service), "GET", "/metrics", &[], None).unwrap();
    metrics
        .body
        .lines()
        .find_map(|line| {
            line.strip_prefix("invoiced_webhook_attempts_total{outcome=\"delivered\"} ")
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no delivered count in:\n{}", metrics.body))
}

fn post(service: &RunningService, key: &str, path: &str, body: &str) -> serde_json::Value {
    let auth = format!("Bearer {key}");
    let reply = request(
        service.address,
        "POST",
        path,
        &[("X-Account-Id", "acme"), ("Authorization", &auth)],
        Some(body),
    )
    .unwrap();
    assert_eq!(reply.status, 201, "{path}: {}", reply.body);
    reply.json()
}

/// Requests received so far, by webhook-id.
fn received_by_id(receiver: &Receiver) -> BTreeMap<String, usize> {
    let mut by_id = BTreeMap::new();
    for request in receiver.received() {
        *by_id
            .entry(request.header("webhook-id").to_owned())
            .or_insert(0) += 1;
    }
    by_id
}

/// Waits until the receiver has `count` distinct webhook-ids.
fn wait_for_distinct(receiver: &Receiver, count: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while received_by_id(receiver).len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} events arrived within {within:?}",
            received_by_id(receiver).len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_instances_deliver_a_thousand_events_each_exactly_once_and_both_send() {
    let db = TestDatabase::new();
    let key = with_acme(&db);
    let receiver = Receiver::start(204);
    // A receiver that takes a moment, as real ones do, so that one worker
    // cannot drain the queue before the other instance looks.
    receiver.answer_after(Duration::from_millis(5));
    let instances = [serve_with_sender(&db), serve_with_sender(&db)];
    let endpoint = format!(r#"{{"url": "{}", "events": ["*"]}}"#, receiver.url("/"));
    post(&instances[0], &key, "/v1/webhook_endpoints", &endpoint);

    const EVENTS: usize = 1000;
    const CLIENTS: usize = 8;
    std::thread::scope(|scope| {
        for client in 0..CLIENTS {
            let (instances, key) = (&instances, &key);
            scope.spawn(move || {
                for n in (client..EVENTS).step_by(CLIENTS) {
                    let body = format!(r#"{{"name": "Customer {n}"}}"#);
                    post(&instances[n % 2], key, "/v1/customers", &body);
                }
            });
        }
    });
    wait_for_distinct(&receiver, EVENTS, Duration::from_secs(120));
    // Anything sent twice would arrive by now.
    std::thread::sleep(Duration::from_millis(500));

    let by_id = received_by_id(&receiver);
    assert_eq!(by_id.len(), EVENTS);
    let twice: Vec<_> = by_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert_eq!(receiver.received().len(), EVENTS);
    let sent: Vec<u64> = instances.iter().map(delivered_by).collect();
    eprintln!("delivered by each instance: {sent:?}");
    assert_eq!(sent.iter().sum::<u64>(), EVENTS as u64, "{sent:?}");
    assert!(
        sent.iter().all(|n| *n > 0),
        "one instance sent nothing: {sent:?}"
    );
    let mut conn = db.owner_conn();
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'"
        ),
        EVENTS
    );
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM webhook_attempts"),
        EVENTS
    );
}

#[test]
fn a_sigkill_in_the_middle_of_sending_loses_nothing() {
    let db = TestDatabase::new();
    let key = with_acme(&db);
    let receiver = Receiver::start(200);
    // Slow enough that the kill finds deliveries in flight.
    receiver.answer_after(Duration::from_millis(400));
    let first = serve_with_sender(&db);
    let endpoint = format!(r#"{{"url": "{}", "events": ["*"]}}"#, receiver.url("/"));
    post(&first, &key, "/v1/webhook_endpoints", &endpoint);
    const EVENTS: usize = 20;
    for n in 0..EVENTS {
        post(
            &first,
            &key,
            "/v1/customers",
            &format!(r#"{{"name": "C{n}"}}"#),
        );
    }
    wait_for_distinct(&receiver, 3, Duration::from_secs(30));
    first.signal(libc::SIGKILL);
    let mut first = first;
    assert!(!first.wait(Duration::from_secs(10)).success());
    let before_restart: BTreeSet<String> = received_by_id(&receiver).into_keys().collect();
    assert!(
        before_restart.len() < EVENTS,
        "everything was sent before the kill: the test proves nothing"
    );

    // The claims the killed process held run out after their lease (20 s);
    // a new instance then sends what is left, and what was in flight again.
    let _second = serve_with_sender(&db);
    wait_for_distinct(&receiver, EVENTS, Duration::from_secs(90));
    let by_id = received_by_id(&receiver);
    assert_eq!(by_id.len(), EVENTS);
    // Only a delivery that was in flight at the kill may arrive twice.
    for (id, times) in &by_id {
        assert!(
            *times == 1 || before_restart.contains(id),
            "{id} arrived {times} times"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut conn = db.owner_conn();
    loop {
        let delivered = scalar(
            &mut conn,
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'",
        );
        if delivered == EVENTS {
            break;
        }
        assert!(Instant::now() < deadline, "{delivered} delivered");
        std::thread::sleep(Duration::from_millis(50));
    }
}
