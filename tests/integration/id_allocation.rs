//! Per-account ids: 1, 2, 3, ... in each account and table, atomic under
//! concurrency, never reused, without gaps from rollbacks, for any writer.

use std::sync::{Arc, Barrier};
use std::thread;

use diesel::Connection;

use crate::harness::{TestDatabase, execute, json_rows, scalar, try_execute};

fn ids(conn: &mut diesel::PgConnection, account: &str) -> Vec<i64> {
    json_rows(
        conn,
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
                let mut conn = diesel::PgConnection::establish(&url).unwrap();
                start.wait();
                conn.transaction(|conn| {
                    crate::harness::try_execute(
                        conn,
                        &format!(
                            "INSERT INTO customers (account_id, name) VALUES ('acme', 'c{n}')"
                        ),
                    )
                    .map_err(|_| diesel::result::Error::RollbackTransaction)?;
                    // Hold the transaction open a moment so others really queue.
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    Ok::<_, diesel::result::Error>(())
                })
                .unwrap();
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    assert_eq!(
        ids(&mut db.owner_conn(), "acme"),
        (1..=50).collect::<Vec<i64>>()
    );
}

#[test]
fn each_account_and_table_counts_from_one() {
    let db = with_accounts(&["acme", "globex"]);
    let mut conn = db.app_conn();
    execute(
        &mut conn,
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'a'), ('acme', 'b')",
    );
    execute(
        &mut conn,
        "INSERT INTO customers (account_id, name) VALUES ('globex', 'g')",
    );
    execute(
        &mut conn,
        "INSERT INTO invoices (account_id, customer_id, currency) VALUES ('acme', 2, 'EUR')",
    );
    assert_eq!(ids(&mut conn, "acme"), vec![1, 2]);
    assert_eq!(ids(&mut conn, "globex"), vec![1]);
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT id FROM invoices WHERE account_id = 'acme'"
        ),
        1
    );
}

#[test]
fn a_rolled_back_or_failed_insert_leaves_no_gap() {
    let db = with_accounts(&["acme"]);
    let mut conn = db.app_conn();
    execute(
        &mut conn,
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'first')",
    );
    execute(
        &mut conn,
        "BEGIN; INSERT INTO customers (account_id, name) VALUES ('acme', 'undone'); ROLLBACK;",
    );
    // A check violation after the id was drawn rolls the counter back too.
    assert!(
        try_execute(
            &mut conn,
            "INSERT INTO customers (account_id, name) VALUES ('acme', '')"
        )
        .is_err()
    );
    execute(
        &mut conn,
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'second')",
    );
    assert_eq!(ids(&mut conn, "acme"), vec![1, 2]);
}

#[test]
fn ids_are_never_reused_after_a_delete() {
    let db = with_accounts(&["acme"]);
    let mut conn = db.app_conn();
    execute(
        &mut conn,
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'a'), ('acme', 'b')",
    );
    execute(&mut conn, "DELETE FROM customers WHERE id = 2");
    execute(
        &mut conn,
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'c')",
    );
    assert_eq!(ids(&mut conn, "acme"), vec![1, 3]);
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
    assert_eq!(ids(&mut conn, "acme"), vec![3, 7, 8]);
    assert_eq!(ids(&mut conn, "globex"), vec![40, 41]);
    // An explicit id below the counter does not move it back.
    execute(
        &mut conn,
        "INSERT INTO customers (account_id, id, name) VALUES ('acme', 5, 'legacy')",
    );
    execute(
        &mut conn,
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'next')",
    );
    assert_eq!(ids(&mut conn, "acme"), vec![3, 5, 7, 8, 9]);
}
