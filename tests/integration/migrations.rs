//! The embedded migrations, driven through `invoiced migrate`.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use crate::harness::{TestDatabase, invoiced, json_rows, output_within, scalar};

const TIMEOUT: Duration = Duration::from_secs(120);

fn migrate(db: &TestDatabase, args: &[&str]) -> String {
    let output = output_within(
        invoiced()
            .arg("migrate")
            .args(args)
            .env("DATABASE_URL", db.owner_url()),
        TIMEOUT,
    );
    assert!(
        output.status.success(),
        "invoiced migrate {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn migration_names() -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    names.sort();
    names
}

/// The schema as pg_dump prints it, without the per-run restrict key.
fn schema_dump(db: &TestDatabase) -> String {
    let output = Command::new(db.server().binaries().tool("pg_dump"))
        .arg("--schema-only")
        .arg(format!("--dbname={}", db.superuser_url()))
        .output()
        .expect("run pg_dump");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn up_down_up_leaves_the_same_schema_as_a_plain_up() {
    let plain = TestDatabase::unmigrated();
    migrate(&plain, &["run"]);
    let round_trip = TestDatabase::unmigrated();
    migrate(&round_trip, &["run"]);
    migrate(&round_trip, &["redo", "--all"]);
    migrate(&round_trip, &["revert", "--all"]);
    migrate(&round_trip, &["run"]);
    // One step at a time too: each down undoes exactly its up.
    for _ in migration_names() {
        migrate(&round_trip, &["redo"]);
        migrate(&round_trip, &["revert"]);
    }
    migrate(&round_trip, &["run"]);
    let (plain, round_trip) = (schema_dump(&plain), schema_dump(&round_trip));
    assert!(
        plain.contains("CREATE TABLE public.invoices"),
        "the dump holds the schema"
    );
    assert_eq!(plain, round_trip);
}

#[test]
fn revert_all_leaves_no_table_function_or_extension() {
    let db = TestDatabase::unmigrated();
    let before = schema_dump(&db);
    migrate(&db, &["run"]);
    let output = migrate(&db, &["revert", "--all"]);
    assert_eq!(output.lines().count(), migration_names().len(), "{output}");
    let mut conn = db.owner_conn();
    let tables = json_rows(
        &mut conn,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '__diesel_schema_migrations'",
    );
    assert!(tables.is_empty(), "left behind: {tables:?}");
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) AS n FROM __diesel_schema_migrations"
        ),
        0
    );
    assert_eq!(schema_dump(&db), before);
}

#[test]
fn concurrent_migrate_runs_apply_each_migration_exactly_once() {
    let db = TestDatabase::unmigrated();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            invoiced()
                .args(["migrate", "run"])
                .env("DATABASE_URL", db.owner_url())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied: BTreeMap<String, usize> = BTreeMap::new();
    for run in runs {
        let output = run.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for line in String::from_utf8(output.stdout).unwrap().lines() {
            if let Some(name) = line.strip_prefix("applied: ") {
                *applied.entry(name.to_owned()).or_default() += 1;
            }
        }
    }
    let expected: BTreeMap<String, usize> = migration_names()
        .into_iter()
        .map(|name| (name, 1))
        .collect();
    assert_eq!(applied, expected);
    let recorded = scalar(
        &mut db.owner_conn(),
        "SELECT count(*) AS n FROM __diesel_schema_migrations",
    );
    assert_eq!(recorded, migration_names().len());
}

#[test]
fn status_lists_applied_and_pending_migrations_by_name() {
    let db = TestDatabase::unmigrated();
    let names = migration_names();
    let status = migrate(&db, &["status"]);
    for name in &names {
        assert!(status.contains(&format!("[ ] {name}")), "{status}");
    }
    migrate(&db, &["run"]);
    migrate(&db, &["revert"]);
    let status = migrate(&db, &["status"]);
    let (last, applied) = names.split_last().unwrap();
    for name in applied {
        assert!(status.contains(&format!("[X] {name}")), "{status}");
    }
    assert!(status.contains(&format!("[ ] {last}")), "{status}");
    assert!(
        status.contains(&format!("{} applied, 1 pending", applied.len())),
        "{status}"
    );
}

#[test]
fn serve_refuses_to_start_while_migrations_are_pending() {
    let db = TestDatabase::unmigrated();
    let output = output_within(
        invoiced()
            .arg("serve")
            .env("DATABASE_URL", db.app_url())
            .env("BIND_ADDR", "127.0.0.1:0"),
        TIMEOUT,
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in migration_names() {
        assert!(stderr.contains(&name), "{name} not named in: {stderr}");
    }
    assert!(stderr.contains("invoiced migrate run"), "{stderr}");
    assert!(stderr.contains("AUTO_MIGRATE=true"), "{stderr}");
    // Nothing was applied behind the operator's back.
    let applied = scalar(
        &mut db.owner_conn(),
        "SELECT count(*) AS n FROM __diesel_schema_migrations",
    );
    assert_eq!(applied, 0);
}
