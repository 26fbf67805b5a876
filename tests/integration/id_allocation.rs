//! Per-account ids: 1, 2, 3, ... in each account and table, atomic under
//! concurrency, never reused, without gaps from rollbacks, for any writer.

use std::sync::{Arc, Barrier};
use std::thread;

use crate::harness::{TestDatabase, as_tenant, execute, json_rows, scalar, try_as_tenant};

fn ids(db: &TestDatabase, account: &str) -> Vec<i64> {
    json_rows(
        &mut db.owner_conn(),
        &format!("SELECT id FROM customers WHERE account_id = '{account}' ORDER BY id"),
    )
    .iter()
    .map(|row| row["id"].as_i64().unwrap())
    .collect()
}

fn with_accounts(accounts: &[&str]) -> TestDatabase {
    let db = TestDatabase::new();
    let mut conn = db.owner_conn();
    for account in accounts {
        execute(
            &mut conn,
            &format!("INSERT INTO accounts (id, name) VALUES ('{account}', '{account}')"),
        );
    }
    db
}

#[test]
fn concurrent_inserts_into_one_account_get_exactly_one_to_fifty() {
    let db = with_accounts(&["acme"]);
    let start = Arc::new(Barrier::new(50));
    let writers: Vec<_> = (0..50)
        .map(|n| {
            let (url, start) = (db.app_url(), start.clone());
            thread::spawn(move || {
                let mut conn = <diesel::PgConnection as diesel::Connection>::establish(&url).unwrap();
                start.wait();
                // Held open a moment (pg_sleep) so that the others really queue.
                as_tenant(
                    &mut conn,
                    "acme",
                    &format!("INSERT INTO customers (account_id, name) VALUES ('acme', 'c{n}'); SELECT pg_sleep(0.002)"),
                );
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    assert_eq!(ids(&db, "acme"), (1..=50).collect::<Vec<i64>>());
}

#[test]
fn each_account_and_table_counts_from_one() {
    let db = with_accounts(&["acme", "globex"]);
    let mut conn = db.app_conn();
    as_tenant(
        &mut conn,
        "acme",
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'a'), ('acme', 'b')",
    );
    as_tenant(
        &mut conn,
        "globex",
        "INSERT INTO customers (account_id, name) VALUES ('globex', 'g')",
    );
    as_tenant(
        &mut conn,
        "acme",
        "INSERT INTO invoices (account_id, customer_id, currency) VALUES ('acme', 2, 'EUR')",
    );
    assert_eq!(ids(&db, "acme"), vec![1, 2]);
    assert_eq!(ids(&db, "globex"), vec![1]);
    assert_eq!(
        scalar(
            &mut db.owner_conn(),
            "SELECT id FROM invoices WHERE account_id = 'acme'"
        ),
        1
    );
}

#[test]
fn a_rolled_back_or_failed_insert_leaves_no_gap() {
    let db = with_accounts(&["acme"]);
    let mut conn = db.app_conn();
    as_tenant(
        &mut conn,
        "acme",
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'first')",
    );
    execute(
        &mut conn,
        "BEGIN; SELECT set_config('app.account_id', 'acme', true);
         INSERT INTO customers (account_id, name) VALUES ('acme', 'undone'); ROLLBACK;",
    );
    // A check violation after the id was drawn rolls the counter back too.
    let failed = try_as_tenant(
        &mut conn,
        "acme",
        "INSERT INTO customers (account_id, name) VALUES ('acme', '')",
    );
    assert!(failed.is_err());
    as_tenant(
        &mut conn,
        "acme",
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'second')",
    );
    assert_eq!(ids(&db, "acme"), vec![1, 2]);
}

#[test]
fn ids_are_never_reused_after_a_delete() {
    let db = with_accounts(&["acme"]);
    let mut conn = db.app_conn();
    as_tenant(
        &mut conn,
        "acme",
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'a'), ('acme', 'b')",
    );
    as_tenant(&mut conn, "acme", "DELETE FROM customers WHERE id = 2");
    as_tenant(
        &mut conn,
        "acme",
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'c')",
    );
    assert_eq!(ids(&db, "acme"), vec![1, 3]);
}

#[test]
fn explicit_ids_from_plain_sql_or_copy_advance_the_counter() {
    let db = with_accounts(&["acme", "globex"]);
    let mut conn = db.owner_conn();
    execute(
        &mut conn,
        "INSERT INTO customers (account_id, id, name) VALUES ('acme', 7, 'legacy'), ('acme', 3, 'legacy'), ('globex', 40, 'legacy')",
    );
    execute(
        &mut conn,
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'next'), ('globex', 'next')",
    );
    assert_eq!(ids(&db, "acme"), vec![3, 7, 8]);
    assert_eq!(ids(&db, "globex"), vec![40, 41]);
    // An explicit id below the counter does not move it back.
    execute(
        &mut conn,
        "INSERT INTO customers (account_id, id, name) VALUES ('acme', 5, 'legacy')",
    );
    execute(
        &mut conn,
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'next')",
    );
    assert_eq!(ids(&db, "acme"), vec![3, 5, 7, 8, 9]);
    // COPY, as the importer loads, advances it too.
    // (FROM PROGRAM is for superusers; the importer streams FROM STDIN.)
    execute(
        &mut db.superuser_conn(),
        "COPY customers (account_id, id, name) FROM PROGRAM 'printf \"globex\\t90\\tcopied\\n\"'",
    );
    execute(
        &mut conn,
        "INSERT INTO customers (account_id, name) VALUES ('globex', 'after copy')",
    );
    assert_eq!(ids(&db, "globex"), vec![40, 41, 90, 91]);
}
