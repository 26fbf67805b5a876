//! `cargo bench --bench webhooks`: what events and webhooks cost.
//!
//! On a private, durable PostgreSQL cluster set up as a DBA would, with the
//! release build of `invoiced serve`:
//!
//! 1. The write path: the latency of `POST /v1/customers` (one client,
//!    sequential requests) with no webhook endpoint, with one subscribed
//!    endpoint and with sixteen: every write records its event, and one
//!    delivery per subscribed endpoint, in its own transaction. Beside it,
//!    pg_stat_statements' mean time of the event's and the deliveries'
//!    INSERTs: the part of a request that is the event.
//! 2. Delivery: events queued while no sender runs, then one instance and
//!    then two instances (each with WEBHOOK_WORKERS workers) deliver them
//!    to a receiver on loopback that answers 204 at once; events per
//!    second from the first arrival to the last, and how many arrived
//!    twice (none should).
//!
//! Options: `--events N` per delivery run (default 5000), `--requests N`
//! per latency case (default 2000), `--workers N` (default 2).

#[path = "../support.rs"]
mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{BenchCluster, Service, WorkDir, http, percentile, psql, run_quietly};

const DATABASE: &str = "bench";
const ACCOUNT: &str = "bench";

struct Options {
    events: usize,
    requests: usize,
    workers: usize,
}

impl Options {
    fn from_args() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let value = |name: &str, default: usize| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .map_or(default, |v| {
                    v.parse()
                        .unwrap_or_else(|_| panic!("{name} takes a number"))
                })
        };
        Self {
            events: value("--events", 5000),
            requests: value("--requests", 2000),
            workers: value("--workers", 2),
        }
    }
}

/// A webhook receiver on loopback: answers 204 at once, and notes when
/// each webhook-id arrived and how often.
struct Receiver {
    address: String,
    arrivals: Arc<Mutex<HashMap<String, (Instant, usize)>>>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let arrivals = Arc::new(Mutex::new(HashMap::new()));
        let shared = arrivals.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let arrivals = shared.clone();
                std::thread::spawn(move || receive(stream, &arrivals));
            }
        });
        Self { address, arrivals }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks", self.address)
    }

    fn clear(&self) {
        self.arrivals.lock().unwrap().clear();
    }

    /// Waits for `count` distinct ids; (events per second between the first
    /// and the last arrival, ids that arrived more than once).
    fn wait_for(&self, count: usize) -> (f64, usize) {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            {
                let arrivals = self.arrivals.lock().unwrap();
                if arrivals.len() >= count {
                    let first = arrivals.values().map(|(at, _)| *at).min().unwrap();
                    let last = arrivals.values().map(|(at, _)| *at).max().unwrap();
                    let twice = arrivals.values().filter(|(_, n)| *n > 1).count();
                    let seconds = (last - first).as_secs_f64().max(1e-9);
                    return ((count - 1) as f64 / seconds, twice);
                }
            }
            assert!(Instant::now() < deadline, "the events never all arrived");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn receive(mut stream: TcpStream, arrivals: &Mutex<HashMap<String, (Instant, usize)>>) {
    let mut data = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let Some(head_end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => data.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(|v| v.trim().to_owned())
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while data.len() < head_end + 4 + length {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => data.extend_from_slice(&chunk[..n]),
            }
        }
        if let Some(id) = header("webhook-id") {
            let mut arrivals = arrivals.lock().unwrap();
            arrivals.entry(id).or_insert((Instant::now(), 0)).1 += 1;
        }
        let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        return;
    }
}

struct Api<'a> {
    address: &'a str,
    key: &'a str,
}

impl Api<'_> {
    fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Vec<u8>) {
        let auth = format!("Bearer {}", self.key);
        http(
            self.address,
            method,
            path,
            &[("X-Account-Id", ACCOUNT), ("Authorization", &auth)],
            body,
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn create_customer(&self, n: usize) {
        let body = format!(r#"{{"name": "Customer {n}", "email": "c{n}@example.com"}}"#);
        let (status, answer) = self.call("POST", "/v1/customers", Some(&body));
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
    }

    fn add_endpoint(&self, url: &str) {
        let body = format!(r#"{{"url": "{url}", "events": ["*"]}}"#);
        let (status, answer) = self.call("POST", "/v1/webhook_endpoints", Some(&body));
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
    }

    fn delete_endpoints(&self) {
        let (_, list) = self.call("GET", "/v1/webhook_endpoints", None);
        let list: serde_json::Value = serde_json::from_slice(&list).unwrap();
        for endpoint in list["data"].as_array().unwrap() {
            let path = format!("/v1/webhook_endpoints/{}", endpoint["id"]);
            assert_eq!(self.call("DELETE", &path, None).0, 204);
        }
    }
}

/// pg_stat_statements' mean time (ms) and calls of the statements that
/// start with `prefix`, since the last reset.
fn statement_mean_ms(cluster: &BenchCluster, prefix: &str) -> (f64, u64) {
    let out = run_quietly(
        psql(&cluster.binaries, &cluster.superuser_url(DATABASE)).args([
            "-At",
            "-c",
            &format!(
                "SELECT coalesce(sum(total_exec_time) / nullif(sum(calls), 0), 0), coalesce(sum(calls), 0) \
                 FROM pg_stat_statements WHERE query LIKE '{prefix}%'"
            ),
        ]),
        "pg_stat_statements",
    );
    let (mean, calls) = out.trim().split_once('|').unwrap();
    (mean.parse().unwrap(), calls.parse().unwrap())
}

fn reset_statements(cluster: &BenchCluster) {
    run_quietly(
        psql(&cluster.binaries, &cluster.superuser_url(DATABASE))
            .args(["-c", "SELECT pg_stat_statements_reset()"]),
        "pg_stat_statements_reset",
    );
}

fn main() {
    let options = Options::from_args();
    let work = WorkDir::new("webhooks");
    let cluster = BenchCluster::start(
        &work.0,
        &[("shared_preload_libraries", "pg_stat_statements")],
    );
    cluster.setup_database(DATABASE);
    cluster.migrate(DATABASE);
    run_quietly(
        psql(&cluster.binaries, &cluster.superuser_url(DATABASE))
            .args(["-c", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"]),
        "CREATE EXTENSION pg_stat_statements",
    );
    let key = cluster.create_account(DATABASE, ACCOUNT);
    let receiver = Receiver::start();
    let app_url = cluster.app_url(DATABASE);
    let insecure = ("WEBHOOK_ALLOW_INSECURE", "true");
    let workers = options.workers.to_string();

    println!("# invoiced: events and webhooks");
    println!();
    println!(
        "## A write with its event: POST /v1/customers, one client, {} sequential requests per case",
        options.requests
    );
    println!();
    println!(
        "| subscribed endpoints | p50 ms | p99 ms | mean ms | event INSERT ms | deliveries INSERT ms |"
    );
    println!("|---|---|---|---|---|---|");
    let mut made = 0;
    {
        let api_only = Service::start(
            &app_url,
            &[("WEBHOOK_WORKERS", "0"), insecure],
            work.join("api-only.log"),
        );
        let api = Api {
            address: &api_only.address,
            key: &key,
        };
        // Warm-up: connections, caches, the account's counters.
        for _ in 0..200 {
            api.create_customer(made);
            made += 1;
        }
        let mut endpoints = 0;
        for wanted in [0, 1, 16] {
            while endpoints < wanted {
                api.add_endpoint(&receiver.url());
                endpoints += 1;
            }
            reset_statements(&cluster);
            let mut latencies = Vec::with_capacity(options.requests);
            for _ in 0..options.requests {
                let started = Instant::now();
                api.create_customer(made);
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                made += 1;
            }
            latencies.sort_by(f64::total_cmp);
            let mean = latencies.iter().sum::<f64>() / latencies.len() as f64;
            let (event_ms, _) = statement_mean_ms(&cluster, "INSERT INTO \"events\"");
            let (deliveries_ms, calls) =
                statement_mean_ms(&cluster, "INSERT INTO webhook_deliveries");
            println!(
                "| {wanted} | {:.2} | {:.2} | {mean:.2} | {event_ms:.3} | {} |",
                percentile(&latencies, 50.0),
                percentile(&latencies, 99.0),
                if calls == 0 {
                    "–".to_owned()
                } else {
                    format!("{deliveries_ms:.3}")
                }
            );
        }
        api.delete_endpoints();
        api.add_endpoint(&receiver.url());
    }

    println!();
    println!(
        "## Delivery to a receiver on loopback: {} events queued, then sent ({} worker(s) per instance)",
        options.events, options.workers
    );
    println!();
    println!("| instances | events/s | sent twice | sender CPU s |");
    println!("|---|---|---|---|");
    for instances in [1, 2] {
        {
            let api_only = Service::start(
                &app_url,
                &[("WEBHOOK_WORKERS", "0"), insecure],
                work.join(format!("queue-{instances}.log")),
            );
            let api = Api {
                address: &api_only.address,
                key: &key,
            };
            std::thread::scope(|scope| {
                for client in 0..8 {
                    let api = &api;
                    scope.spawn(move || {
                        for n in (client..options.events).step_by(8) {
                            api.create_customer(made + n);
                        }
                    });
                }
            });
            made += options.events;
        }
        receiver.clear();
        let senders: Vec<Service> = (0..instances)
            .map(|n| {
                Service::start(
                    &app_url,
                    &[("WEBHOOK_WORKERS", &workers), insecure],
                    work.join(format!("sender-{instances}-{n}.log")),
                )
            })
            .collect();
        let (rate, twice) = receiver.wait_for(options.events);
        let cpu: f64 = senders.iter().map(Service::cpu_seconds).sum();
        println!("| {instances} | {rate:.0} | {twice} | {cpu:.1} |");
    }
}
