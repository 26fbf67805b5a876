//! `cargo bench --bench documents`: what it costs to issue an invoice now
//! that issuing renders and stores its documents (the PDF/A-3 with its
//! Factur-X XML, the CII and the UBL), and how big they are.
//!
//! On a private, durable PostgreSQL cluster set up as a DBA would, with the
//! release build of `invoiced serve` (default pool of 10): drafts of 5 and
//! of 200 lines are created first (not timed), then issued, timing each
//! `POST /v1/invoices/{id}/issue` from request to answer: one account
//! issuing one invoice after another, and 16 accounts issuing at once (one
//! client each). Prints p50 and p99, issues per second, the documents'
//! sizes, and the service's peak RSS.
//!
//! Options: `--invoices N` per account and size (default 100; 200-line
//! invoices: a quarter of it).

#[path = "../support.rs"]
mod support;

use std::time::Instant;

use serde_json::{Value, json};
use support::{BenchCluster, Service, WorkDir, http, percentile};

const DATABASE: &str = "bench";
const ACCOUNTS: usize = 16;

struct Api {
    address: String,
    account: String,
    key: String,
}

impl Api {
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Vec<u8>) {
        let auth = format!("Bearer {}", self.key);
        let body = body.map(Value::to_string);
        http(
            &self.address,
            method,
            path,
            &[("X-Account-Id", &self.account), ("Authorization", &auth)],
            body.as_deref(),
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn ok(&self, method: &str, path: &str, body: Option<&Value>, status: u16) -> Value {
        let (got, answer) = self.call(method, path, body);
        assert_eq!(got, status, "{path}: {}", String::from_utf8_lossy(&answer));
        serde_json::from_slice(&answer).unwrap_or(Value::Null)
    }

    /// A seller and a customer complete enough for every document.
    fn prepare(&self) -> i64 {
        self.ok(
            "PATCH",
            "/v1/account",
            Some(&json!({
                "legal_name": "Benchmark Software GmbH",
                "address": {"line1": "Hafenstraße 12", "postal_code": "20457", "city": "Hamburg", "country": "DE"},
                "vat_id": "DE123456789", "tax_number": "27/123/45678",
                "email": "billing@bench.example", "phone": "+49 40 1234567",
                "iban": "DE89370400440532013000", "bic": "COBADEFFXXX"
            })),
            200,
        );
        self.ok(
            "POST",
            "/v1/customers",
            Some(&json!({"name": "Kunde GmbH", "email": "ap@kunde.example", "vat_id": "DE987654321",
                "billing_address": {"line1": "Kaistraße 3", "postal_code": "24103", "city": "Kiel", "country": "DE"}})),
            201,
        )["id"]
            .as_i64()
            .unwrap()
    }

    fn draft(&self, customer: i64, lines: usize) -> i64 {
        let items: Vec<Value> = (1..=lines)
            .map(|n| {
                json!({"description": format!("Consulting, work package {n}"), "quantity": "1.5",
                       "unit_price": format!("{}.{:02}", 100 + n, n % 100),
                       "tax_rate": if n % 4 == 0 { "7" } else { "19" }})
            })
            .collect();
        self.ok(
            "POST",
            "/v1/invoices",
            Some(&json!({"customer_id": customer, "currency": "EUR", "items": items})),
            201,
        )["id"]
            .as_i64()
            .unwrap()
    }

    /// Issues `id`; how long it took, in milliseconds.
    fn issue(&self, id: i64) -> f64 {
        let started = Instant::now();
        self.ok("POST", &format!("/v1/invoices/{id}/issue"), None, 200);
        started.elapsed().as_secs_f64() * 1000.0
    }
}

struct Figures {
    p50: f64,
    p99: f64,
    per_second: f64,
}

fn figures(mut latencies: Vec<f64>, seconds: f64) -> Figures {
    latencies.sort_by(f64::total_cmp);
    Figures {
        p50: percentile(&latencies, 50.0),
        p99: percentile(&latencies, 99.0),
        per_second: latencies.len() as f64 / seconds,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let invoices: usize = args
        .iter()
        .position(|a| a == "--invoices")
        .and_then(|i| args.get(i + 1))
        .map_or(100, |v| v.parse().expect("--invoices takes a number"));
    let work = WorkDir::new("documents");
    let cluster = BenchCluster::start(&work.0, &[]);
    cluster.setup_database(DATABASE);
    cluster.migrate(DATABASE);
    let apis: Vec<(String, String)> = (0..ACCOUNTS)
        .map(|n| {
            let account = format!("bench-{n}");
            let key = cluster.create_account(DATABASE, &account);
            (account, key)
        })
        .collect();
    let service = Service::start(&cluster.app_url(DATABASE), &[], work.join("serve.log"));
    let apis: Vec<Api> = apis
        .into_iter()
        .map(|(account, key)| Api {
            address: service.address.clone(),
            account,
            key,
        })
        .collect();
    let customers: Vec<i64> = apis.iter().map(Api::prepare).collect();

    println!("# invoiced: issuing with documents");
    println!();
    println!(
        "Each issue renders the PDF/A-3 (with its Factur-X XML), the CII and the UBL and stores \
         them in the issuing transaction."
    );
    println!();
    println!("| lines | accounts | issues | p50 ms | p99 ms | issues/s |");
    println!("|---|---|---|---|---|---|");
    let mut sizes = Vec::new();
    for lines in [5, 200] {
        let count = if lines == 5 {
            invoices
        } else {
            (invoices / 4).max(4)
        };
        // Warm-up: connections, caches, the fonts.
        for _ in 0..3 {
            let draft = apis[0].draft(customers[0], lines);
            apis[0].issue(draft);
        }
        // One account, one issue after another.
        let drafts: Vec<i64> = (0..count)
            .map(|_| apis[0].draft(customers[0], lines))
            .collect();
        let started = Instant::now();
        let latencies: Vec<f64> = drafts.iter().map(|id| apis[0].issue(*id)).collect();
        let single = figures(latencies, started.elapsed().as_secs_f64());
        println!(
            "| {lines} | 1 | {count} | {:.1} | {:.1} | {:.1} |",
            single.p50, single.p99, single.per_second
        );
        // Sixteen accounts at once, one client each.
        let drafts: Vec<Vec<i64>> = apis
            .iter()
            .zip(&customers)
            .map(|(api, customer)| (0..count).map(|_| api.draft(*customer, lines)).collect())
            .collect();
        let started = Instant::now();
        let latencies: Vec<f64> = std::thread::scope(|scope| {
            let handles: Vec<_> = apis
                .iter()
                .zip(&drafts)
                .map(|(api, ids)| {
                    scope.spawn(move || ids.iter().map(|id| api.issue(*id)).collect::<Vec<f64>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a client thread"))
                .collect()
        });
        let concurrent = figures(latencies, started.elapsed().as_secs_f64());
        println!(
            "| {lines} | {ACCOUNTS} | {} | {:.1} | {:.1} | {:.1} |",
            count * ACCOUNTS,
            concurrent.p50,
            concurrent.p99,
            concurrent.per_second
        );
        let sample = drafts[0][0];
        let size = |path: String| apis[0].call("GET", &path, None).1.len();
        sizes.push((
            lines,
            size(format!("/v1/invoices/{sample}/pdf")),
            size(format!("/v1/invoices/{sample}/xml?syntax=cii")),
            size(format!("/v1/invoices/{sample}/xml?syntax=ubl")),
        ));
    }
    println!();
    println!("| lines | PDF | CII | UBL |");
    println!("|---|---|---|---|");
    for (lines, pdf, cii, ubl) in sizes {
        println!(
            "| {lines} | {:.1} KB | {:.1} KB | {:.1} KB |",
            pdf as f64 / 1024.0,
            cii as f64 / 1024.0,
            ubl as f64 / 1024.0
        );
    }
    println!();
    println!(
        "Peak RSS of `invoiced serve`: {:.1} MB",
        service.peak_rss_mb()
    );
}
