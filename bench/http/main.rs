//! `cargo bench --bench http`: the service under load, beside what
//! PostgreSQL itself does for the same work on the same machine.
//!
//! Sets up a private, durable PostgreSQL cluster the way a DBA would
//! (setup_postgres.sql, migrations as the owner), fills it with 100
//! accounts and one large account (200,000 invoices of 5 items, with
//! payments), starts the release build of `invoiced serve` on it as
//! `invoiced_app`, and drives it with wrk at 16 and 64 connections. Beside
//! each figure it runs pgbench, at the same connection count, on a script
//! of the SQL the service sends for that request (the tenant setting, the
//! key check, the queries, in the same transaction), and checks with
//! pg_stat_statements that the two send the same statements.
//!
//! Options: `--seconds N` per run (default 20), `--quick` (5 s runs, the
//! large account at 20,000 invoices), `--scenarios 1,3` (only those),
//! `--connections 16,64`, `--instances N` (N `serve` processes on the one
//! database, each driven by its own wrk with its share of the connections,
//! as behind a load balancer), `--pgbouncer` (the instances connect through
//! Debian's PgBouncer in transaction pooling, with
//! DB_PREPARED_STATEMENTS=false; pgbench still connects directly, as the
//! baseline). Environment variables reach the service, so
//! `DB_POOL_MAX_SIZE=4 cargo bench --bench http` measures another pool
//! size. Needs the PostgreSQL server binaries; wrk is installed from
//! Debian's packages when missing (as root).

mod dataset;
mod load;
mod scenarios;
#[path = "../support.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dataset::{LARGE_ACCOUNT, Tenant};
use load::{HttpFigures, Protocol, SqlFigures};
use scenarios::Scenario;
use support::{BenchCluster, Service, WorkDir, ensure_program, free_port, psql, run_quietly};

const DATABASE: &str = "bench";
const SMALL_LARGE_ACCOUNT: i64 = 2_000;

struct Options {
    seconds: u64,
    large_invoices: i64,
    scenarios: Vec<usize>,
    connections: Vec<u32>,
    instances: usize,
    pgbouncer: bool,
}

impl Options {
    fn from_args() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let value = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let list = |name: &str, default: &str| -> Vec<u64> {
            value(name)
                .unwrap_or_else(|| default.to_owned())
                .split(',')
                .map(|n| n.trim().parse().unwrap_or_else(|_| panic!("{name} {n}?")))
                .collect()
        };
        let quick = args.iter().any(|a| a == "--quick");
        Self {
            seconds: value("--seconds")
                .map(|s| s.parse().expect("--seconds N"))
                .unwrap_or(if quick { 5 } else { 20 }),
            large_invoices: if quick { 20_000 } else { 200_000 },
            scenarios: list("--scenarios", "1,2,3,4,5")
                .into_iter()
                .map(|n| n as usize)
                .collect(),
            connections: list("--connections", "16,64")
                .into_iter()
                .map(|n| n as u32)
                .collect(),
            instances: value("--instances")
                .map(|n| n.parse().expect("--instances N"))
                .unwrap_or(1),
            pgbouncer: args.iter().any(|a| a == "--pgbouncer"),
        }
    }
}

/// Debian's PgBouncer in transaction pooling in front of the cluster, run
/// as the server's OS user; stopped when dropped.
struct Bouncer {
    child: Child,
    port: u16,
}

impl Bouncer {
    fn start(work: &WorkDir, cluster: &BenchCluster) -> Self {
        assert!(
            ensure_program("pgbouncer", "pgbouncer"),
            "pgbouncer is needed"
        );
        let dir = work.join("pgbouncer");
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        std::fs::write(
            dir.join("userlist.txt"),
            format!("\"invoiced_app\" \"{}\"\n", support::PASSWORD),
        )
        .unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host=127.0.0.1 port={}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = plain\nauth_file = {dir}/userlist.txt\npool_mode = transaction\n\
                 max_client_conn = 2000\ndefault_pool_size = 20\nlogfile = {dir}/pgbouncer.log\n",
                cluster.port,
                dir = dir.display(),
            ),
        )
        .unwrap();
        let mut command = Command::new("pgbouncer");
        command.arg(dir.join("pgbouncer.ini"));
        invoiced::local_postgres::run_as_server_user(
            &mut command,
            &[&dir, &dir.join("userlist.txt"), &dir.join("pgbouncer.ini")],
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pgbouncer");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    fn app_url(&self, database: &str) -> String {
        format!(
            "postgresql://invoiced_app:{}@127.0.0.1:{}/{database}",
            support::PASSWORD,
            self.port
        )
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The statements `invoiced_app` ran since the last reset, normalised
/// (parameters and constants alike as `?`: pg_stat_statements keeps the
/// constants of a statement prepared by name), with their calls.
fn statements(cluster: &BenchCluster) -> BTreeMap<String, u64> {
    let output = run_quietly(
        psql(&cluster.binaries, &cluster.superuser_url(DATABASE))
            .args(["-At", "-F", "\t", "-c"])
            .arg(
                r#"SELECT calls,
                     regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(query,
                       '\$[0-9]+', '?', 'g'),
                       '''[^'']*''', '?', 'g'),
                       '\m(true|false)\M', '?', 'g'),
                       '\m[0-9]+(\.[0-9]+)?\M', '?', 'g'),
                       '\s+', ' ', 'g')
                   FROM pg_stat_statements s
                   WHERE s.userid = 'invoiced_app'::regrole
                     AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"#,
            ),
        "read pg_stat_statements",
    );
    let mut statements = BTreeMap::new();
    for line in output.lines() {
        let (calls, query) = line.split_once('\t').unwrap();
        let query = query.trim().trim_end_matches(';').trim();
        let query = if query.eq_ignore_ascii_case("begin") || query.eq_ignore_ascii_case("commit") {
            query.to_uppercase()
        } else {
            query.to_owned()
        };
        *statements.entry(query).or_default() += calls.parse::<u64>().unwrap();
    }
    statements
}

fn reset_statements(cluster: &BenchCluster) {
    run_quietly(
        psql(&cluster.binaries, &cluster.superuser_url(DATABASE))
            .args(["-c", "SELECT pg_stat_statements_reset()"]),
        "reset pg_stat_statements",
    );
}

/// Statements per request, as `count × statement` lines.
fn per_request(statements: &BTreeMap<String, u64>, requests: u64) -> Vec<String> {
    statements
        .iter()
        .map(|(query, calls)| format!("{:>5.2} × {query}", *calls as f64 / requests.max(1) as f64))
        .collect()
}

/// Runs the scenario briefly through the service and through pgbench, and
/// compares what each sent to PostgreSQL. Doubles as the warm-up.
fn compare_statements(
    cluster: &BenchCluster,
    services: &[Service],
    files: &Files,
) -> Result<usize, String> {
    reset_statements(cluster);
    let http = load::wrk_all(&files.lua, &base_urls(services), 4, 3);
    let served = statements(cluster);
    reset_statements(cluster);
    let raw = load::pgbench(
        &cluster.binaries,
        &cluster.app_url(DATABASE),
        &files.sql,
        Protocol::Simple,
        4,
        3,
    );
    let scripted = statements(cluster);
    let served = per_request(&served, http.requests);
    let scripted = per_request(&scripted, raw.transactions);
    // Per request, rounded: a statement the service sends now and then (the
    // key's last_used_at, once a minute) is not part of the request's work.
    let rounded = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter_map(|line| {
                let (count, query) = line.split_once(" × ").unwrap();
                let count = count.trim().parse::<f64>().unwrap().round();
                (count > 0.0).then(|| format!("{count} × {query}"))
            })
            .collect()
    };
    let per_request = rounded(&served);
    if per_request == rounded(&scripted) {
        let count = per_request
            .iter()
            .map(|line| line.split(" × ").next().unwrap().parse::<f64>().unwrap())
            .sum::<f64>();
        Ok(count as usize)
    } else {
        Err(format!(
            "the service sent:\n  {}\npgbench sent:\n  {}",
            served.join("\n  "),
            scripted.join("\n  ")
        ))
    }
}

struct Files {
    lua: PathBuf,
    sql: Vec<PathBuf>,
}

fn write_files(work: &WorkDir, scenario: &Scenario) -> Files {
    let lua = work.join(format!("scenario-{}.lua", scenario.number));
    std::fs::write(&lua, &scenario.lua).unwrap();
    let sql = scenario
        .sql
        .iter()
        .enumerate()
        .map(|(n, script)| {
            let path = work.join(format!("scenario-{}-{n}.sql", scenario.number));
            std::fs::write(&path, script).unwrap();
            path
        })
        .collect();
    Files { lua, sql }
}

struct Row {
    scenario: usize,
    name: &'static str,
    connections: u32,
    http: HttpFigures,
    sql: SqlFigures,
    /// CPU per request: the service's, and PostgreSQL's for it.
    service_cpu_us: f64,
    postgres_cpu_us: f64,
    /// PostgreSQL's CPU per pgbench transaction.
    raw_cpu_us: f64,
}

fn base_urls(services: &[Service]) -> Vec<String> {
    services.iter().map(|s| s.base_url.clone()).collect()
}

fn build(number: usize, tenants: &[Tenant], large_invoices: i64) -> Scenario {
    let large = &tenants[0];
    match number {
        1 => scenarios::get_invoice(large, large_invoices),
        2 => scenarios::list_invoices(large, large_invoices),
        3 => scenarios::create_invoice(large),
        4 => scenarios::record_payment(large, large_invoices),
        5 => scenarios::get_customer(tenants),
        other => panic!("there is no scenario {other}"),
    }
}

fn main() {
    let options = Options::from_args();
    assert!(ensure_program("wrk", "wrk"), "wrk is needed");
    let work = WorkDir::new("http");
    let started = Instant::now();

    let cluster = BenchCluster::start(
        &work.0,
        &[
            ("shared_preload_libraries", "pg_stat_statements"),
            ("shared_buffers", "512MB"),
        ],
    );
    cluster.setup_database(DATABASE);
    cluster.migrate(DATABASE);
    let superuser = cluster.superuser_url(DATABASE);
    run_quietly(
        psql(&cluster.binaries, &superuser).args(["-c", "CREATE EXTENSION pg_stat_statements"]),
        "CREATE EXTENSION pg_stat_statements",
    );
    let tenants = dataset::create_accounts(&cluster.owner_url(DATABASE));
    assert_eq!(tenants[0].account, LARGE_ACCOUNT);
    // As a script (not `-c`), so that each statement is its own transaction
    // and VACUUM may run.
    let fill = |sql: String| {
        let script = work.join("fill.sql");
        std::fs::write(&script, sql).unwrap();
        run_quietly(
            psql(&cluster.binaries, &superuser).arg("-f").arg(&script),
            "fill",
        );
    };
    fill(dataset::base_sql());
    fill(dataset::large_account_sql(1, SMALL_LARGE_ACCOUNT));
    println!(
        "set up {} accounts, the large one with {SMALL_LARGE_ACCOUNT} invoices, in {:.0} s",
        tenants.len(),
        started.elapsed().as_secs_f64()
    );

    let bouncer = options.pgbouncer.then(|| Bouncer::start(&work, &cluster));
    let app_url = bouncer
        .as_ref()
        .map_or_else(|| cluster.app_url(DATABASE), |b| b.app_url(DATABASE));
    let services: Vec<Service> = (0..options.instances.max(1))
        .map(|n| {
            Service::start(
                &app_url,
                &[("DB_PREPARED_STATEMENTS", &bouncer.is_none().to_string())],
                work.join(format!("invoiced-{n}.log")),
            )
        })
        .collect();
    let urls = base_urls(&services);
    let services_cpu = || services.iter().map(Service::cpu_seconds).sum::<f64>();
    let peak_connections = options.connections.iter().copied().max().unwrap_or(64);

    // p99 of scenarios 1 and 2 while the large account is small, to compare
    // with the same at full size.
    let mut small_p99 = BTreeMap::new();
    for number in [1, 2] {
        if !options.scenarios.contains(&number) {
            continue;
        }
        let scenario = build(number, &tenants, SMALL_LARGE_ACCOUNT);
        let files = write_files(&work, &scenario);
        // Warmed up as long as the full-size runs (by the statement check).
        load::wrk_all(&files.lua, &urls, 4, 6);
        let figures = load::wrk_all(&files.lua, &urls, peak_connections, options.seconds);
        small_p99.insert(number, figures.p99_ms);
    }

    let grow = Instant::now();
    fill(dataset::large_account_sql(
        SMALL_LARGE_ACCOUNT + 1,
        options.large_invoices,
    ));
    println!(
        "grew the large account to {} invoices in {:.0} s",
        options.large_invoices,
        grow.elapsed().as_secs_f64()
    );

    let mut rows = Vec::new();
    let mut mismatches = Vec::new();
    let mut statement_counts = BTreeMap::new();
    for &number in &options.scenarios {
        let scenario = build(number, &tenants, options.large_invoices);
        let files = write_files(&work, &scenario);
        match compare_statements(&cluster, &services, &files) {
            Ok(count) => {
                statement_counts.insert(number, count);
            }
            Err(difference) => mismatches.push(format!("scenario {number}: {difference}")),
        }
        for &connections in &options.connections {
            let (service_before, postgres_before) = (services_cpu(), cluster.cpu_seconds());
            let http = load::wrk_all(&files.lua, &urls, connections, options.seconds);
            let service_cpu = services_cpu() - service_before;
            let postgres_cpu = cluster.cpu_seconds() - postgres_before;
            let raw_before = cluster.cpu_seconds();
            let sql = load::pgbench(
                &cluster.binaries,
                &cluster.app_url(DATABASE),
                &files.sql,
                Protocol::Prepared,
                connections,
                options.seconds,
            );
            let raw_cpu = cluster.cpu_seconds() - raw_before;
            let per = |seconds: f64, count: u64| 1e6 * seconds / count.max(1) as f64;
            println!(
                "scenario {number} at {connections:>2} connections: {:>7.0} req/s, p99 {:>6.1} ms; raw SQL {:>7.0} tx/s",
                http.requests_per_s, http.p99_ms, sql.per_s
            );
            rows.push(Row {
                scenario: number,
                name: scenario.name,
                connections,
                http,
                sql,
                service_cpu_us: per(service_cpu, http.requests),
                postgres_cpu_us: per(postgres_cpu, http.requests),
                raw_cpu_us: per(raw_cpu, sql.transactions),
            });
        }
    }
    let rss = services
        .iter()
        .map(Service::peak_rss_mb)
        .fold(0.0, f64::max);
    drop(services);
    drop(bouncer);

    println!(
        "\n{} accounts; the large one with {} invoices of 5 items; {} s per run; wrk and pgbench on 2 threads",
        tenants.len(),
        options.large_invoices,
        options.seconds
    );
    println!(
        "{} instance(s) of invoiced serve, {}",
        options.instances.max(1),
        if options.pgbouncer {
            "through PgBouncer (transaction pooling, DB_PREPARED_STATEMENTS=false)"
        } else {
            "connected directly"
        }
    );
    println!(
        "\n{:<40} {:>5} {:>9} {:>8} {:>8} {:>7} {:>11} {:>11} {:>7}",
        "scenario",
        "conns",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "raw SQL/s",
        "raw avg ms",
        "ratio"
    );
    for row in &rows {
        println!(
            "{:<40} {:>5} {:>9.0} {:>8.2} {:>8.2} {:>7} {:>11.0} {:>11.2} {:>6.0}%",
            format!("{}. {}", row.scenario, row.name),
            row.connections,
            row.http.requests_per_s,
            row.http.p50_ms,
            row.http.p99_ms,
            row.http.errors + row.sql.failed,
            row.sql.per_s,
            row.sql.latency_ms,
            100.0 * row.http.requests_per_s / row.sql.per_s
        );
    }
    println!(
        "\nCPU time per request (µs): the service's, and PostgreSQL's for it and for the raw SQL"
    );
    println!(
        "{:<40} {:>5} {:>9} {:>12} {:>12}",
        "scenario", "conns", "service", "PostgreSQL", "raw SQL"
    );
    for row in &rows {
        println!(
            "{:<40} {:>5} {:>9.0} {:>12.0} {:>12.0}",
            format!("{}. {}", row.scenario, row.name),
            row.connections,
            row.service_cpu_us,
            row.postgres_cpu_us,
            row.raw_cpu_us
        );
    }
    println!();
    for (number, count) in &statement_counts {
        println!(
            "scenario {number}: the service and pgbench sent the same {count} statements per request"
        );
    }
    for mismatch in &mismatches {
        println!("STATEMENTS DIFFER, {mismatch}");
    }
    if !small_p99.is_empty() {
        println!("\np99 at {peak_connections} connections as the large account grows:");
        for (number, small) in &small_p99 {
            let large = rows
                .iter()
                .find(|r| r.scenario == *number && r.connections == peak_connections)
                .map_or(f64::NAN, |r| r.http.p99_ms);
            println!(
                "  scenario {number}: {small:>6.2} ms at {SMALL_LARGE_ACCOUNT} invoices, {large:>6.2} ms at {}",
                options.large_invoices
            );
        }
    }
    println!("\ninvoiced peak RSS under load (the largest instance): {rss:.1} MB");
    println!(
        "\ntargets: scenario 1 ≥ 60 % and scenario 3 ≥ 50 % of raw SQL; p99 < 20 ms at 64 connections; RSS < 100 MB"
    );
    println!("total {:.0} s", started.elapsed().as_secs_f64());
}
