//! `cargo bench --bench import`: how fast `invoiced import-sqlite` moves a
//! legacy file of about 650k rows (20k customers, 120k invoices, ~400k
//! items, ~110k payments), beside pgloader on the same file and beside a
//! plain COPY of the same rows from CSV into the same indexed schema.
//!
//! Each timed run follows an untimed warm-up import and a CHECKPOINT (see
//! `warm_up`). Prints wall time, rows per second and peak RSS of each.
//! Options:
//! `--small` (a quick run), `--keep FILE` (keep the generated legacy file),
//! `--no-pgloader`. Needs the PostgreSQL server binaries; pgloader is
//! installed from Debian's packages when missing (as root).

#[path = "../../tests/integration/legacy_file.rs"]
mod legacy_file;

#[path = "../support.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use support::{BenchCluster, WorkDir, ensure_program, peak_rss_mb, psql, run_quietly};

struct Run {
    name: &'static str,
    seconds: f64,
    peak_rss_mb: f64,
}

/// Runs `command` to completion; its wall time and peak RSS (polled).
fn measure(name: &'static str, command: &mut Command) -> Run {
    let started = Instant::now();
    let mut child = command.spawn().unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut peak: f64 = 0.0;
    let status = loop {
        if let Some(rss) = peak_rss_mb(child.id()) {
            peak = peak.max(rss);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let seconds = started.elapsed().as_secs_f64();
    assert!(status.success(), "{name} failed ({status})");
    Run {
        name,
        seconds,
        peak_rss_mb: peak,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let small = args.iter().any(|a| a == "--small");
    let with_pgloader = !args.iter().any(|a| a == "--no-pgloader");
    let keep = args
        .iter()
        .position(|a| a == "--keep")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);

    let work = WorkDir::new("import");
    let file = keep.clone().unwrap_or_else(|| work.join("legacy.db"));

    // 50 accounts × (400 customers, 2400 invoices of 2–5 items): about
    // 20k customers, 120k invoices, 420k items and 110k payments.
    let plan = legacy_file::Plan {
        seed: 2026,
        accounts: (0..50).map(|n| format!("account-{n:02}")).collect(),
        customers_per_account: if small { 40 } else { 400 },
        invoices_per_account: if small { 240 } else { 2400 },
        max_items_per_invoice: 5,
        messy: true,
        errors: false,
    };
    let started = Instant::now();
    let generated = legacy_file::generate(&file, &plan);
    let rows = generated.rows();
    let size = std::fs::metadata(&file).unwrap().len() as f64 / 1e6;
    println!(
        "generated {} ({rows} rows, {size:.0} MB) in {:.1} s",
        file.display(),
        started.elapsed().as_secs_f64()
    );
    drop(generated);

    let cluster = BenchCluster::start(&work.0, &[]);
    let binaries = &cluster.binaries;
    for database in ["bench_ours", "bench_copy"] {
        cluster.setup_database(database);
    }
    cluster.migrate("bench_copy");
    let invoiced = env!("CARGO_BIN_EXE_invoiced");
    warm_up(&cluster, &file);

    let mut runs = Vec::new();
    checkpoint(&cluster);
    let ours = measure(
        "invoiced import-sqlite",
        import_command(&cluster, "bench_ours", &file).stdout(Stdio::null()),
    );
    runs.push(ours);
    // What an operator runs next; the importer's ANALYZE is what keeps it
    // to seconds on a freshly loaded database.
    let verify = measure(
        "invoiced verify",
        Command::new(invoiced)
            .arg("verify")
            .env("DATABASE_URL", cluster.owner_url("bench_ours"))
            .stdout(Stdio::null()),
    );

    // The same rows, normalised, as CSV: what a plain COPY loads.
    let tables: [(&str, &str); 5] = [
        ("accounts", "id, name, created_at"),
        (
            "customers",
            "account_id, id, name, email, phone, address, tax_id, created_at, updated_at",
        ),
        (
            "invoices",
            "account_id, id, customer_id, number, status, currency, issue_date, due_date, notes, created_at, updated_at",
        ),
        (
            "invoice_items",
            "account_id, id, invoice_id, position, description, quantity, unit_price, tax_rate, created_at",
        ),
        (
            "payments",
            "account_id, id, invoice_id, amount, paid_at, method, reference, created_at",
        ),
    ];
    let mut script = String::from("BEGIN;\n");
    for (table, columns) in tables {
        let csv = work.join(format!("{table}.csv"));
        run_quietly(
            psql(binaries, &cluster.owner_url("bench_ours"))
                .arg("-c")
                .arg(format!(
                    "\\copy (SELECT {columns} FROM {table} ORDER BY 1, 2) TO '{}' CSV",
                    csv.display()
                )),
            "export CSV",
        );
        script.push_str(&format!(
            "\\copy {table} ({columns}) FROM '{}' CSV\n",
            csv.display()
        ));
    }
    script.push_str("COMMIT;\n");
    let script_file = work.join("copy.sql");
    std::fs::write(&script_file, script).unwrap();
    checkpoint(&cluster);
    runs.push(measure(
        "plain COPY from CSV",
        psql(binaries, &cluster.owner_url("bench_copy"))
            .arg("-f")
            .arg(&script_file)
            .stdout(Stdio::null()),
    ));

    let pgloader = with_pgloader && ensure_program("pgloader", "pgloader");
    if pgloader {
        checkpoint(&cluster);
        runs.push(run_pgloader(&cluster, &work, &file));
    } else {
        println!("pgloader: not available, skipped");
    }
    println!("\n{rows} legacy rows\n");
    println!(
        "{:<30} {:>9} {:>12} {:>14}",
        "", "wall (s)", "rows/s", "peak RSS (MB)"
    );
    for run in &runs {
        println!(
            "{:<30} {:>9.2} {:>12.0} {:>14.1}",
            run.name,
            run.seconds,
            rows as f64 / run.seconds,
            run.peak_rss_mb
        );
    }
    let ours = &runs[0];
    let copy = &runs[1];
    println!(
        "\ninvoiced / plain COPY: {:.2}×",
        ours.seconds / copy.seconds
    );
    if let Some(pgloader) = runs.get(2) {
        println!(
            "invoiced / pgloader:   {:.2}× (target ≤ 0.7×)",
            ours.seconds / pgloader.seconds
        );
    }
    println!(
        "invoiced peak RSS:     {:.1} MB (target ≤ 100 MB)",
        ours.peak_rss_mb
    );
    println!("invoiced verify after the import: {:.2} s", verify.seconds);
    drop(cluster);

    // What a DBA can do for a one-off migration onto a server that has no
    // replicas yet: wal_level = minimal. PostgreSQL then writes no WAL
    // for tables created or truncated in the loading transaction, which
    // is what the importer's empty-target path does (pgloader creates its
    // tables in transactions of their own, so it gains less). Not the
    // target's comparison, which is on a default server.
    if pgloader {
        let minimal_dir = work.join("minimal");
        std::fs::create_dir_all(&minimal_dir).unwrap();
        let minimal = BenchCluster::start(
            &minimal_dir,
            &[("wal_level", "minimal"), ("max_wal_senders", "0")],
        );
        minimal.setup_database("bench_ours");
        warm_up(&minimal, &file);
        checkpoint(&minimal);
        let ours = measure(
            "invoiced import-sqlite",
            import_command(&minimal, "bench_ours", &file).stdout(Stdio::null()),
        );
        checkpoint(&minimal);
        let theirs = run_pgloader(&minimal, &work, &file);
        println!(
            "\nwith wal_level = minimal: invoiced {:.2} s, pgloader {:.2} s: {:.2}×",
            ours.seconds,
            theirs.seconds,
            ours.seconds / theirs.seconds
        );
        drop(minimal);
    }

    // The clusters stop, then the work directory goes (a --keep file
    // lives outside it).
    drop(work);
}

/// `invoiced import-sqlite FILE` into `database` of `cluster`.
fn import_command(cluster: &BenchCluster, database: &str, file: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_invoiced"));
    command
        .arg("import-sqlite")
        .arg(file)
        .env("DATABASE_URL", cluster.owner_url(database))
        .env("RUST_LOG", "warn");
    command
}

/// An untimed import into a throwaway database, so that every timed run
/// finds the server as it is in service: a new cluster has one WAL segment,
/// and its first large writer creates and zero-fills the others (about a
/// quarter of a second here), which would fall on whichever tool ran first.
fn warm_up(cluster: &BenchCluster, file: &std::path::Path) {
    cluster.setup_database("bench_warm_up");
    run_quietly(
        &mut import_command(cluster, "bench_warm_up", file),
        "warm-up import",
    );
    as_superuser(cluster, "DROP DATABASE bench_warm_up");
}

/// A checkpoint before each timed run: none of them pays for the one
/// before it (dirty pages written back, WAL segments recycled).
fn checkpoint(cluster: &BenchCluster) {
    as_superuser(cluster, "CHECKPOINT");
}

/// One statement as the superuser, in the `postgres` database.
fn as_superuser(cluster: &BenchCluster, sql: &str) {
    run_quietly(
        psql(&cluster.binaries, &cluster.superuser_url("postgres"))
            .arg("-c")
            .arg(sql),
        sql,
    );
}

/// pgloader moving `file` into a new database of `cluster`, as a user
/// would run it: its tables, indexes and sequences made from SQLite's.
fn run_pgloader(cluster: &BenchCluster, work: &WorkDir, file: &std::path::Path) -> Run {
    as_superuser(cluster, "CREATE DATABASE bench_pgloader");
    let load = work.join("legacy.load");
    std::fs::write(
        &load,
        format!(
            "LOAD DATABASE\n  FROM sqlite://{}\n  INTO {}\n\
             WITH include drop, create tables, create indexes, reset sequences\n\
             CAST type datetime to text drop typemod, type date to text drop typemod;\n",
            file.display(),
            cluster.superuser_url("bench_pgloader"),
        ),
    )
    .unwrap();
    measure(
        "pgloader 3 (no normalising)",
        Command::new("pgloader")
            .arg(&load)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}
