//! `/metrics` of a real `invoiced serve`, read back with Prometheus' own
//! parser (`prometheus_client.parser` from PyPI; `.ci/run` installs it,
//! `TEST_PYTHON` names the interpreter that has it, default `python3`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::http_client::request;
use crate::harness::process::RunningService;
use crate::harness::{TestDatabase, invoiced};

/// Every sample of `text` as Prometheus parses it: family, type, sample
/// name, labels, value.
fn parse_with_prometheus(text: &str) -> Vec<Value> {
    const PARSER: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        samples.append({"family": family.name, "type": family.type, "name": sample.name,
                        "labels": sample.labels, "value": sample.value})
print(json.dumps(samples))
"#;
    let python = std::env::var("TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {python}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "Prometheus' parser refused the output (or is missing: pip install prometheus-client, \
         or set TEST_PYTHON): {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice::<Value>(&output.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value of the one sample named `name` whose labels include `labels`.
#[track_caller]
fn value(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<&Value> = samples
        .iter()
        .filter(|s| s["name"] == name)
        .filter(|s| labels.iter().all(|(k, v)| s["labels"][k] == *v))
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "{name} {labels:?}: {matching:?} in {samples:?}"
    );
    matching[0]["value"].as_f64().unwrap()
}

#[test]
fn metrics_count_requests_by_route_pattern_and_pass_prometheus_parser() {
    let db = TestDatabase::new();
    let key = crate::service_process::with_acme(&db);
    let metrics_port = free_port();
    let mut service = RunningService::start(
        invoiced()
            .arg("serve")
            .env("DATABASE_URL", db.app_url())
            .env("MIGRATION_DATABASE_URL", db.owner_url())
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("DB_POOL_MAX_SIZE", "3")
            .env("METRICS_BIND_ADDR", format!("127.0.0.1:{metrics_port}")),
    );
    let auth = format!("Bearer {key}");
    let tenant = [("X-Account-Id", "acme"), ("Authorization", auth.as_str())];
    let call = |method: &str, path: &str, body: Option<&str>| {
        let mut headers = tenant.to_vec();
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        request(service.address, method, path, &headers, body)
            .unwrap()
            .status
    };
    assert_eq!(
        call("POST", "/v1/customers", Some(r#"{"name": "Ann"}"#)),
        201
    );
    assert_eq!(call("GET", "/v1/customers/1", None), 200);
    assert_eq!(call("GET", "/v1/customers/2", None), 404);
    assert_eq!(call("GET", "/v1/customers/3", None), 404);
    assert_eq!(call("GET", "/no/such/path", None), 404);
    let unauthorized = request(
        service.address,
        "GET",
        "/v1/customers",
        &[("X-Account-Id", "acme")],
        None,
    )
    .unwrap();
    assert_eq!(unauthorized.status, 401);
    // Not on the API's address.
    assert_eq!(call("GET", "/metrics", None), 404);

    let metrics_address = format!("127.0.0.1:{metrics_port}").parse().unwrap();
    let reply = request(metrics_address, "GET", "/metrics", &[], None).unwrap();
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .head
            .to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        reply.head
    );
    let samples = parse_with_prometheus(&reply.body);

    let requests = "invoiced_http_requests_total";
    let customer = "/v1/customers/{customer_id}";
    assert_eq!(
        value(
            &samples,
            requests,
            &[
                ("route", "/v1/customers"),
                ("method", "POST"),
                ("status", "201")
            ]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            requests,
            &[("route", customer), ("method", "GET"), ("status", "200")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            requests,
            &[("route", customer), ("method", "GET"), ("status", "404")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &samples,
            requests,
            &[
                ("route", "/v1/customers"),
                ("method", "GET"),
                ("status", "401")
            ]
        ),
        1.0
    );
    assert!(
        value(
            &samples,
            requests,
            &[("route", "unmatched"), ("method", "GET"), ("status", "404")]
        ) >= 2.0
    );
    // Patterns only: no raw path becomes a label.
    for sample in &samples {
        if let Some(route) = sample["labels"]["route"].as_str() {
            assert!(
                !route.contains("/1") && !route.contains("no/such"),
                "raw path as a label: {sample}"
            );
        }
    }

    let latency = "invoiced_http_request_duration_seconds";
    let family: Vec<&Value> = samples.iter().filter(|s| s["family"] == latency).collect();
    assert!(family.iter().all(|s| s["type"] == "histogram"));
    let get_customer = [("route", customer), ("method", "GET")];
    assert_eq!(
        value(&samples, &format!("{latency}_count"), &get_customer),
        3.0
    );
    let mut with_inf = get_customer.to_vec();
    with_inf.push(("le", "+Inf"));
    assert_eq!(
        value(&samples, &format!("{latency}_bucket"), &with_inf),
        3.0
    );
    assert!(value(&samples, &format!("{latency}_sum"), &get_customer) > 0.0);

    let app = [("pool", "app")];
    assert_eq!(
        value(&samples, "invoiced_db_pool_max_connections", &app),
        3.0
    );
    assert!(value(&samples, "invoiced_db_pool_connections", &app) >= 1.0);
    assert!(value(&samples, "invoiced_db_pool_idle_connections", &app) >= 0.0);
    assert_eq!(
        value(&samples, "invoiced_db_pool_waiting_requests", &app),
        0.0
    );

    service.signal(libc::SIGTERM);
    let status = service.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{}", service.output());
}
