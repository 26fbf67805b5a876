//! The importer's rules, each on a small legacy file written by hand: every
//! rule of the schema an error row before the database could refuse it,
//! duplicates decided among importable rows, counters past every legacy
//! id, an honest verification table, statistics, number series continued.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

use crate::harness::{TestDatabase, invoiced, json_rows, output_within, scalar};
use crate::import::import;
use crate::legacy_file::LEGACY_SCHEMA;

/// A legacy file holding `rows` (SQL INSERTs into the legacy schema).
fn legacy(name: &str, rows: &str) -> PathBuf {
    let dir = crate::harness::server::server()
        .run_dir()
        .join("import-rules");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let mut conn = SqliteConnection::establish(&path.display().to_string()).unwrap();
    conn.batch_execute(LEGACY_SCHEMA).unwrap();
    conn.batch_execute(rows).unwrap();
    path
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The rejects CSV's (table, legacy id, column, reason) lines.
fn rejects(path: &Path) -> Vec<(String, i64, String, String)> {
    let content = std::fs::read_to_string(path).unwrap();
    content
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.splitn(5, ',').collect();
            (
                fields[0].to_owned(),
                fields[1].parse().unwrap(),
                fields[2].to_owned(),
                fields[4].trim_matches('"').to_owned(),
            )
        })
        .collect()
}

/// Imports with --skip-invalid; the rejects and stdout.
fn import_skipping(db: &TestDatabase, file: &Path) -> (Vec<(String, i64, String, String)>, String) {
    let csv = file.with_extension("rejects.csv");
    let output = import(
        db,
        file,
        &["--skip-invalid", "--rejects", csv.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    (rejects(&csv), stdout(&output))
}

const CUSTOMERS: &str = "INSERT INTO customers (id, account_id, name) VALUES
    (1, 'acme', 'Alpha'), (2, 'acme ', 'Beta'), (3, 'globex', 'Gamma');";

#[test]
fn a_duplicate_number_stays_with_the_first_importable_invoice() {
    let db = TestDatabase::new();
    // 10 is rejected (a negative quantity), so 11 keeps INV-1; 12 differs
    // from 11 only in a tab and 13 only in its account's trailing space:
    // both are duplicates of 11. globex's INV-1 is another account's.
    let file = legacy(
        "duplicates.db",
        &format!(
            "{CUSTOMERS}
             INSERT INTO invoices (id, account_id, customer_id, number, status, currency) VALUES
                 (10, 'acme', 1, 'INV-1', 'draft', 'EUR'),
                 (11, 'acme', 1, 'INV-1', 'draft', 'EUR'),
                 (12, 'acme', 1, 'INV-1' || char(9), 'draft', 'EUR'),
                 (13, 'acme ', 2, ' INV-1', 'draft', 'EUR'),
                 (14, 'globex', 3, 'INV-1', 'draft', 'EUR');
             INSERT INTO invoice_items (id, invoice_id, description, quantity, unit_price, tax_rate) VALUES
                 (100, 10, 'x', -1, 5, 0), (101, 11, 'y', 1, 5, 0), (102, 13, 'z', 1, 7, 0);"
        ),
    );
    let (rejected, _) = import_skipping(&db, &file);
    let reasons = |id: i64| -> Vec<String> {
        rejected
            .iter()
            .filter(|(table, legacy_id, _, _)| table == "invoices" && *legacy_id == id)
            .map(|(_, _, column, reason)| format!("{column}: {reason}"))
            .collect()
    };
    assert!(
        reasons(10)
            .iter()
            .any(|r| r.contains("goes with rejected invoice_items row 100")),
        "{rejected:?}"
    );
    assert!(reasons(11).is_empty(), "{rejected:?}");
    for id in [12, 13] {
        assert_eq!(
            reasons(id),
            ["number: duplicates the number of invoices row 11, which keeps it"],
            "{rejected:?}"
        );
    }
    assert!(
        rejected.contains(&(
            "invoice_items".into(),
            102,
            "invoice_id".into(),
            "depends on rejected invoices row 13".into()
        )),
        "{rejected:?}"
    );
    let mut conn = db.owner_conn();
    let held = json_rows(
        &mut conn,
        "SELECT account_id, id, number FROM invoices ORDER BY account_id, id",
    );
    assert_eq!(
        held,
        vec![
            serde_json::json!({"account_id": "acme", "id": 11, "number": "INV-1"}),
            serde_json::json!({"account_id": "globex", "id": 14, "number": "INV-1"}),
        ]
    );
}

#[test]
fn ids_below_one_are_error_rows_not_a_refused_import() {
    let db = TestDatabase::new();
    let file = legacy(
        "ids.db",
        "INSERT INTO customers (id, account_id, name) VALUES (0, 'acme', 'Zero'), (1, 'acme', 'One');
         INSERT INTO invoices (id, account_id, customer_id, status, currency) VALUES
             (-5, 'acme', 1, 'draft', 'EUR'), (0, 'acme', 0, 'draft', 'EUR'), (7, 'acme', 1, 'issued', 'EUR');
         INSERT INTO invoice_items (id, invoice_id, description, quantity, unit_price) VALUES
             (0, 7, 'a', 1, 1), (5, 7, 'b', 1, 1);
         INSERT INTO payments (id, invoice_id, amount, paid_at) VALUES (-1, 7, 1, '2025-01-01');",
    );
    // All or nothing: refused, every such row listed, nothing written.
    let output = import(&db, &file, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let errors = stderr(&output);
    for row in [
        "customers row 0: id",
        "invoices row -5: id",
        "invoices row 0: id",
        "invoice_items row 0: id",
        "payments row -1: id",
    ] {
        assert!(
            errors.contains(&format!("error: {row} \"")),
            "{row} not in:\n{errors}"
        );
    }
    assert!(errors.contains("is not above 0"), "{errors}");
    assert!(!errors.contains("PostgreSQL refused"), "{errors}");
    // Skipping them imports the rest: invoice 7 went with its item 0.
    let (rejected, _) = import_skipping(&db, &file);
    assert!(
        rejected.iter().any(|r| r.0 == "invoices" && r.1 == 7),
        "{rejected:?}"
    );
    let mut conn = db.owner_conn();
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM customers"), 1);
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM invoices"), 0);
}

#[test]
fn counters_pass_every_legacy_id_also_rejected_ones() {
    let db = TestDatabase::new();
    // The highest id of each table is on a rejected row.
    let file = legacy(
        "counters.db",
        "INSERT INTO customers (id, account_id, name) VALUES (1, 'acme', 'One'), (90, 'acme', '');
         INSERT INTO invoices (id, account_id, customer_id, status, currency) VALUES
             (2, 'acme', 1, 'issued', 'EUR'), (80, 'acme', 1, 'paid', 'EUR');
         INSERT INTO invoice_items (id, invoice_id, description, quantity, unit_price) VALUES
             (3, 2, 'a', 1, 10), (70, 80, 'b', 1, 10);
         INSERT INTO payments (id, invoice_id, amount, paid_at) VALUES
             (4, 2, 1, '2025-01-01'), (60, 999, 1, '2025-01-01');",
    );
    let (rejected, _) = import_skipping(&db, &file);
    assert_eq!(rejected.len(), 4, "{rejected:?}");
    let mut conn = db.owner_conn();
    let counters = json_rows(
        &mut conn,
        "SELECT table_name, last_id FROM id_counters WHERE account_id = 'acme' ORDER BY 1",
    );
    assert_eq!(
        counters,
        vec![
            serde_json::json!({"table_name": "customers", "last_id": 90}),
            serde_json::json!({"table_name": "invoice_items", "last_id": 70}),
            serde_json::json!({"table_name": "invoices", "last_id": 80}),
            serde_json::json!({"table_name": "payments", "last_id": 60}),
        ]
    );
    // And a new row gets the next id (the insert trigger allocates from
    // those counters, as for the service's rows).
    conn.batch_execute("INSERT INTO customers (account_id, name) VALUES ('acme', 'New')")
        .unwrap();
    assert_eq!(
        scalar(&mut conn, "SELECT id FROM customers WHERE name = 'New'"),
        91
    );
}

#[test]
fn the_verification_table_counts_every_source_row_and_the_money_rejected() {
    let db = TestDatabase::new();
    // Payments of 93.63 imported and 70.00 rejected (an invoice that does
    // not exist): the source held 163.63.
    let file = legacy(
        "money.db",
        "INSERT INTO customers (id, account_id, name) VALUES (1, 'acme', 'One');
         INSERT INTO invoices (id, account_id, customer_id, status, currency) VALUES (1, 'acme', 1, 'issued', 'EUR');
         INSERT INTO invoice_items (id, invoice_id, description, quantity, unit_price) VALUES (1, 1, 'a', 1, 200);
         INSERT INTO payments (id, invoice_id, amount, paid_at) VALUES
             (1, 1, 93.63, '2025-01-01'), (2, 1, 'lots', '2025-01-01');
         INSERT INTO invoices (id, account_id, customer_id, status, currency) VALUES (2, 'acme', 1, 'issued', NULL);
         INSERT INTO payments (id, invoice_id, amount, paid_at) VALUES (3, 2, 70, '2025-01-01');",
    );
    // Refused (rejected rows, no --skip-invalid): 0 written anywhere.
    let output = import(&db, &file, &[]);
    assert_eq!(output.status.code(), Some(1));
    let table = stdout(&output);
    let line = |table: &str, prefix: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{table}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert!(table.contains("rejected money"), "{table}");
    // account table read written rejected source rejected target
    let payments = line(&table, "acme     payments");
    assert_eq!(payments[2..5], ["3", "0", "3"], "{table}");
    assert_eq!(payments[5], "163.63", "{table}");
    assert_eq!(payments[6], "163.63", "{table}");
    assert_eq!(
        payments[7], "+1?",
        "the unreadable amount is counted: {table}"
    );
    let customers = line(&table, "acme     customers");
    assert_eq!(customers[2..5], ["1", "0", "0"], "{table}");

    // With --skip-invalid: written, and the target holds source less rejected.
    let (_, table) = import_skipping(&db, &file);
    let payments = line(&table, "acme     payments");
    assert_eq!(
        payments[2..],
        ["3", "0", "3", "163.63", "163.63", "+1?", "0"],
        "{table}"
    );
    let customers = line(&table, "acme     customers");
    assert_eq!(customers[2..5], ["1", "1", "0"], "{table}");
    assert!(!table.contains("MISMATCH"), "{table}");
}

#[test]
fn an_import_analyzes_what_it_loaded_and_says_how_to_reach_the_accounts() {
    let db = TestDatabase::new();
    let file = legacy(
        "analyze.db",
        "INSERT INTO customers (id, account_id, name) VALUES (1, 'acme', 'One');
         INSERT INTO invoices (id, account_id, customer_id, status, currency) VALUES (1, 'acme', 1, 'draft', 'EUR');",
    );
    let output = import(&db, &file, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("1 account(s) have no API key yet")
            && out.contains("invoiced api-keys create --account ACCOUNT --name NAME")
            && out.contains("Without a key: acme"),
        "{out}"
    );
    let mut conn = db.owner_conn();
    // Statistics are in place for every loaded table: analyzed, and the
    // planner's row estimate is what was loaded (not an empty table's).
    let unanalyzed = json_rows(
        &mut conn,
        "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
         WHERE s.relname IN ('customers', 'invoices', 'invoice_items', 'payments')
           AND (s.last_analyze IS NULL OR c.reltuples < 0
                OR (s.relname IN ('customers', 'invoices') AND c.reltuples <> 1))",
    );
    assert_eq!(unanalyzed, Vec::<serde_json::Value>::new());
}

/// The side connections that analyse the large tables in parallel only
/// save time: where the database allows the importer a single connection,
/// the import still commits, analyses every table on its own connection,
/// and says it succeeded.
#[test]
fn an_import_allowed_a_single_connection_still_analyzes_everything() {
    let db = TestDatabase::new();
    let file = legacy(
        "one-connection.db",
        "INSERT INTO customers (id, account_id, name) VALUES (1, 'acme', 'One');
         INSERT INTO invoices (id, account_id, customer_id, status, currency) VALUES (1, 'acme', 1, 'issued', 'EUR');
         INSERT INTO invoice_items (id, invoice_id, description, quantity, unit_price) VALUES (1, 1, 'Work', 1, 10);
         INSERT INTO payments (id, invoice_id, amount, paid_at) VALUES (1, 1, 5, '2025-01-01');",
    );
    let limit = |n: i32| {
        db.superuser_conn()
            .batch_execute(&format!(
                "ALTER DATABASE {} CONNECTION LIMIT {n}",
                db.name()
            ))
            .unwrap()
    };
    limit(1);
    let output = import(&db, &file, &[]);
    limit(-1);
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let unanalyzed = json_rows(
        &mut db.owner_conn(),
        "SELECT relname FROM pg_stat_user_tables
         WHERE relname IN ('customers', 'invoices', 'invoice_items', 'payments')
           AND last_analyze IS NULL",
    );
    assert_eq!(unanalyzed, Vec::<serde_json::Value>::new());
}

#[test]
fn a_number_format_continues_each_accounts_series() {
    let db = TestDatabase::new();
    let file = legacy(
        "series.db",
        "INSERT INTO customers (id, account_id, name) VALUES (1, 'acme', 'One'), (2, 'globex', 'Two');
         INSERT INTO invoices (id, account_id, customer_id, number, status, currency, issue_date) VALUES
             (1, 'acme', 1, 'INV-00041', 'issued', 'EUR', '2025-03-01'),
             (2, 'acme', 1, 'INV-00007', 'issued', 'EUR', '2025-04-01'),
             (3, 'acme', 1, 'OLD-99999', 'issued', 'EUR', '2025-04-01'),
             (4, 'globex', 2, 'INV-00003', 'issued', 'EUR', '2025-04-01');",
    );
    let bad = import(&db, &file, &["--invoice-number-format", "INV-{SEQ:5"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    let output = import(&db, &file, &["--invoice-number-format", "INV-{SEQ:5}"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut conn = db.owner_conn();
    let series = json_rows(
        &mut conn,
        "SELECT a.id, a.invoice_number_format, s.next_value FROM accounts a
         JOIN number_sequences s ON s.account_id = a.id AND s.series = 'invoice' ORDER BY 1",
    );
    assert_eq!(
        series,
        vec![
            serde_json::json!({"id": "acme", "invoice_number_format": "INV-{SEQ:5}", "next_value": 42}),
            serde_json::json!({"id": "globex", "invoice_number_format": "INV-{SEQ:5}", "next_value": 4}),
        ]
    );
}

/// The loaded tables' data as `pg_dump --data-only` prints it, sorted,
/// without the lines of `skip_account` (the accounts table is left out:
/// its rows carry the time of the import).
fn data_dump(db: &TestDatabase, skip_account: &str) -> Vec<String> {
    let tables = [
        "customers",
        "invoices",
        "invoice_items",
        "payments",
        "id_counters",
        "document_numbers",
        "number_sequences",
    ];
    let mut args = vec!["--data-only"];
    args.extend(tables.iter().flat_map(|table| ["--table", table]));
    let mut lines: Vec<String> = pg_dump(db, &args)
        .into_iter()
        .filter(|line| !line.contains(skip_account))
        .collect();
    lines.sort();
    lines
}

/// `pg_dump`'s lines of the database, without comments and the
/// per-run `\restrict` keys.
fn pg_dump(db: &TestDatabase, args: &[&str]) -> Vec<String> {
    let pg_dump = invoiced::local_postgres::Binaries::locate()
        .unwrap()
        .tool("pg_dump");
    let output = std::process::Command::new(pg_dump)
        .arg("--no-owner")
        .args(args)
        .arg("--dbname")
        .arg(db.owner_url())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
        .lines()
        .filter(|line| {
            !line.starts_with("--")
                && !line.starts_with("\\restrict")
                && !line.starts_with("\\unrestrict")
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_empty_target_fast_path_loads_what_the_populated_path_loads() {
    let file = crate::import::scratch("fast-path.db");
    crate::legacy_file::generate(&file, &crate::legacy_file::Plan::small(false));

    // In both targets: a disabled trigger and one with a comment, which
    // the fast path sets aside and must give back as they were
    // (pg_get_triggerdef alone forgets both); and a trigger of the DBA's
    // that fires ALWAYS, even in bulk mode, which must fire for every
    // imported customer on either path.
    let adjusted = |db: &TestDatabase| {
        db.owner_conn()
            .batch_execute(
                "ALTER TABLE invoice_items DISABLE TRIGGER invoice_items_default_tax_category;
                 COMMENT ON TRIGGER customers_fill_row ON customers IS 'fills what the client left out';
                 CREATE TABLE customer_arrivals (n bigint NOT NULL);
                 REVOKE ALL ON customer_arrivals FROM invoiced_app;
                 INSERT INTO customer_arrivals VALUES (0);
                 CREATE FUNCTION count_customer_arrival() RETURNS trigger LANGUAGE plpgsql AS
                     $$ BEGIN UPDATE customer_arrivals SET n = n + 1; RETURN NEW; END $$;
                 CREATE TRIGGER customers_count_arrival BEFORE INSERT ON customers
                     FOR EACH ROW EXECUTE FUNCTION count_customer_arrival();
                 ALTER TABLE customers ENABLE ALWAYS TRIGGER customers_count_arrival;",
            )
            .unwrap();
    };
    let every_customer_counted = |db: &TestDatabase| {
        scalar(
            &mut db.owner_conn(),
            "SELECT (SELECT n FROM customer_arrivals) = (SELECT count(*) FROM customers)
                    AND (SELECT count(*) FROM customers) > 10",
        )
    };
    let empty = TestDatabase::new();
    adjusted(&empty);
    let output = import(&empty, &file, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("keys and indexes built after the load"),
        "{}",
        stdout(&output)
    );

    let populated = TestDatabase::new();
    adjusted(&populated);
    populated
        .owner_conn()
        .batch_execute(
            "INSERT INTO accounts (id, name) VALUES ('zz-other', 'Other');
             INSERT INTO customers (account_id, name) VALUES ('zz-other', 'Someone');",
        )
        .unwrap();
    let output = import(&populated, &file, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains("built after the load"));

    let (fast, slow) = (
        data_dump(&empty, "zz-other"),
        data_dump(&populated, "zz-other"),
    );
    assert!(fast.len() > 100, "{fast:?}");
    let only_fast: Vec<&String> = fast.iter().filter(|l| !slow.contains(l)).collect();
    let only_slow: Vec<&String> = slow.iter().filter(|l| !fast.contains(l)).collect();
    assert!(
        fast == slow,
        "only after the fast path: {only_fast:#?}\nonly after the other: {only_slow:#?}"
    );
    // Into the empty target the rows arrive frozen (HEAP_XMIN_FROZEN in
    // every tuple header, read with pageinspect): nothing has to rewrite
    // them later to freeze them. The populated path leaves that to
    // autovacuum.
    let frozen = |db: &TestDatabase| {
        let mut conn = db.superuser_conn();
        conn.batch_execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
            .unwrap();
        scalar(
            &mut conn,
            "SELECT bool_and(t_infomask & 768 = 768)
             FROM generate_series(0, pg_relation_size('invoice_items') / 8192 - 1) AS page,
                  heap_page_items(get_raw_page('invoice_items', page::integer))
             WHERE t_infomask IS NOT NULL",
        )
    };
    assert_eq!(frozen(&empty), true);
    assert_eq!(frozen(&populated), false);
    assert_eq!(every_customer_counted(&empty), true);
    assert_eq!(every_customer_counted(&populated), true);
    // Loaded without BEFORE ROW triggers, COPY inserts in batches, which
    // mark each page all-visible as they fill it: the first vacuum has
    // nothing to do (pg_visibility reads the visibility map).
    let all_visible = |db: &TestDatabase| {
        let mut conn = db.superuser_conn();
        conn.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_visibility")
            .unwrap();
        scalar(
            &mut conn,
            "SELECT all_visible = pg_relation_size('invoice_items') / 8192
             FROM pg_visibility_map_summary('invoice_items')",
        )
    };
    assert_eq!(all_visible(&empty), true);
    assert_eq!(all_visible(&populated), false);
    // The schema came back whole: keys, indexes, foreign keys and
    // triggers, with their states and comments, as the populated path
    // (which sets nothing aside) left them.
    let schema = |db: &TestDatabase| pg_dump(db, &["--schema-only"]);
    let (fast, slow) = (schema(&empty), schema(&populated));
    assert!(
        fast.iter()
            .any(|l| l.contains("DISABLE TRIGGER invoice_items_default_tax_category"))
    );
    assert!(
        fast.iter()
            .any(|l| l.contains("COMMENT ON TRIGGER customers_fill_row"))
    );
    assert!(
        fast.iter()
            .any(|l| l.contains("CREATE TRIGGER invoice_items_allocate_id"))
    );
    assert!(
        fast.iter()
            .any(|l| l.contains("ENABLE ALWAYS TRIGGER customers_count_arrival"))
    );
    let only_fast: Vec<&String> = fast.iter().filter(|l| !slow.contains(l)).collect();
    let only_slow: Vec<&String> = slow.iter().filter(|l| !fast.contains(l)).collect();
    assert!(
        fast == slow,
        "schema only after the fast path: {only_fast:#?}\nonly after the other: {only_slow:#?}"
    );
    // And the catalog checks pass.
    let verified = output_within(
        invoiced()
            .arg("verify")
            .env("DATABASE_URL", empty.owner_url()),
        Duration::from_secs(120),
    );
    assert!(verified.status.success(), "{}", stdout(&verified));
}

/// Each CHECK of the schema, broken by one legacy row: an error row that
/// names it, never a refusal by PostgreSQL. (Ids below 1 and duplicate
/// numbers have their own tests above.)
#[test]
fn every_check_of_the_schema_is_an_error_row_first() {
    let long = |n: usize| format!("'{}'", "x".repeat(n));
    // (legacy rows, table, legacy id, column) — customer 1 and invoice 1
    // are sound and shared; each case adds the row that breaks one rule.
    let base = "INSERT INTO customers (id, account_id, name) VALUES (1, 'acme', 'Sound');
                INSERT INTO invoices (id, account_id, customer_id, status, currency) VALUES (1, 'acme', 1, 'issued', 'EUR');
                INSERT INTO invoice_items (id, invoice_id, description, quantity, unit_price) VALUES (1, 1, 'ok', 1, 10);";
    let customer = |column: &str, value: &str| {
        format!(
            "INSERT INTO customers (id, account_id, name, {column}) VALUES (9, 'acme', 'C', {value});"
        )
    };
    let invoice = |columns: &str, values: &str| {
        format!(
            "INSERT INTO invoices (id, account_id, customer_id, status, currency, {columns}) VALUES (9, 'acme', 1, 'draft', 'EUR', {values});"
        )
    };
    let item = |column: &str, value: &str| {
        format!(
            "INSERT INTO invoice_items (id, invoice_id, description, quantity, unit_price, tax_rate) VALUES (9, 1, 'd', 1, 1, 0);
             UPDATE invoice_items SET {column} = {value} WHERE id = 9;"
        )
    };
    let payment = |column: &str, value: &str| {
        format!(
            "INSERT INTO payments (id, invoice_id, amount, paid_at) VALUES (9, 1, 1, '2025-01-01');
             UPDATE payments SET {column} = {value} WHERE id = 9;"
        )
    };
    let cases: Vec<(String, &str, &str)> = vec![
        // customers_name_length
        ("INSERT INTO customers (id, account_id, name) VALUES (9, 'acme', '   ');".into(), "customers", "name"),
        (customer("email", &long(255)), "customers", "email"),
        (customer("phone", &long(101)), "customers", "phone"),
        (customer("address", &long(1001)), "customers", "address"),
        (customer("tax_id", &long(101)), "customers", "tax_id"),
        (customer("email", "'a' || char(0) || 'b'"), "customers", "email"),
        // Not UTF-8 (SQLite stores any bytes as TEXT); PostgreSQL refuses it.
        (customer("address", "CAST(x'41c328' AS TEXT)"), "customers", "address"),
        // accounts_id_format
        ("INSERT INTO customers (id, account_id, name) VALUES (9, 'no spaces please', 'C');".into(), "customers", "account_id"),
        (invoice("number", &long(101)), "invoices", "number"),
        (invoice("notes", &long(5001)), "invoices", "notes"),
        ("INSERT INTO invoices (id, account_id, customer_id, status, currency) VALUES (9, 'acme', 1, 'lost', 'EUR');".into(), "invoices", "status"),
        ("INSERT INTO invoices (id, account_id, customer_id, status, currency) VALUES (9, 'acme', 1, 'draft', 'EURO');".into(), "invoices", "currency"),
        (invoice("issue_date, due_date", "'2025-02-01', '2025-01-01'"), "invoices", "due_date"),
        (item("description", &long(1001)), "invoice_items", "description"),
        (item("quantity", "0"), "invoice_items", "quantity"),
        (item("unit_price", "-1"), "invoice_items", "unit_price"),
        (item("tax_rate", "101"), "invoice_items", "tax_rate"),
        (item("quantity", "1e12"), "invoice_items", "quantity"),
        (payment("amount", "0"), "payments", "amount"),
        (payment("method", "'barter'"), "payments", "method"),
        (payment("reference", &long(201)), "payments", "reference"),
    ];
    for (n, (rows, table, column)) in cases.iter().enumerate() {
        let db = TestDatabase::new();
        let file = legacy(&format!("check-{n}.db"), &format!("{base}\n{rows}"));
        let output = import(&db, &file, &[]);
        let errors = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{table}.{column}: {errors}");
        assert!(
            errors.contains(&format!("error: {table} row 9: {column} ")),
            "{table}.{column} not named:\n{errors}"
        );
        assert!(!errors.contains("PostgreSQL refused"), "{errors}");
    }
}
