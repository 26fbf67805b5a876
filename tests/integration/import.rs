//! `invoiced import-sqlite`, run as a process on generated legacy files and
//! held to what the generator expects.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{TestDatabase, invoiced, json_rows, output_within, scalar};
use crate::legacy_file::{Expected, Plan, generate};

const TIMEOUT: Duration = Duration::from_secs(300);

pub fn scratch(name: &str) -> PathBuf {
    let dir = crate::harness::server::server().run_dir().join("import");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

pub fn import(db: &TestDatabase, file: &Path, args: &[&str]) -> Output {
    output_within(
        invoiced()
            .arg("import-sqlite")
            .arg(file)
            .args(args)
            .env("DATABASE_URL", db.owner_url()),
        TIMEOUT,
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "import failed ({}):\n{}\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Rows in each data table, across accounts.
fn row_counts(db: &TestDatabase) -> Vec<i64> {
    let mut conn = db.owner_conn();
    [
        "accounts",
        "customers",
        "invoices",
        "invoice_items",
        "payments",
    ]
    .iter()
    .map(|table| {
        scalar(&mut conn, &format!("SELECT count(*) AS n FROM {table}"))
            .as_i64()
            .unwrap()
    })
    .collect()
}

/// The database holds exactly what the generator expects.
#[track_caller]
fn assert_holds(db: &TestDatabase, expected: &Expected) {
    let mut conn = db.owner_conn();
    let accounts = json_rows(
        &mut conn,
        "SELECT a.id AS account,
           (SELECT count(*) FROM customers t WHERE t.account_id = a.id) AS customers,
           (SELECT count(*) FROM invoices t WHERE t.account_id = a.id) AS invoices,
           (SELECT count(*) FROM invoice_items t WHERE t.account_id = a.id) AS items,
           (SELECT count(*) FROM payments t WHERE t.account_id = a.id) AS payments,
           (SELECT coalesce(max(id), 0) FROM customers t WHERE t.account_id = a.id) AS max_customer,
           (SELECT coalesce(max(id), 0) FROM invoices t WHERE t.account_id = a.id) AS max_invoice,
           (SELECT coalesce(max(id), 0) FROM invoice_items t WHERE t.account_id = a.id) AS max_item,
           (SELECT coalesce(max(id), 0) FROM payments t WHERE t.account_id = a.id) AS max_payment,
           (SELECT (coalesce(sum(subtotal + tax), 0) * 100)::bigint FROM invoice_items t WHERE t.account_id = a.id) AS items_cents,
           (SELECT (coalesce(sum(amount), 0) * 100)::bigint FROM payments t WHERE t.account_id = a.id) AS payments_cents
         FROM accounts a ORDER BY a.id",
    );
    for row in &accounts {
        let account = row["account"].as_str().unwrap();
        let want = expected.accounts.get(account).cloned().unwrap_or_default();
        let got = crate::legacy_file::AccountTotals {
            customers: row["customers"].as_i64().unwrap(),
            invoices: row["invoices"].as_i64().unwrap(),
            items: row["items"].as_i64().unwrap(),
            payments: row["payments"].as_i64().unwrap(),
            max_customer: row["max_customer"].as_i64().unwrap(),
            max_invoice: row["max_invoice"].as_i64().unwrap(),
            max_item: row["max_item"].as_i64().unwrap(),
            max_payment: row["max_payment"].as_i64().unwrap(),
            items_cents: row["items_cents"].as_i64().unwrap(),
            payments_cents: row["payments_cents"].as_i64().unwrap(),
        };
        assert_eq!(got, want, "account {account}");
    }
    for account in expected.accounts.keys() {
        assert!(
            accounts
                .iter()
                .any(|row| row["account"] == account.as_str()),
            "account {account} missing"
        );
    }
    // Statuses, normalised.
    let statuses = json_rows(&mut conn, "SELECT id, status FROM invoices");
    assert_eq!(statuses.len(), expected.statuses.len());
    for row in statuses {
        let id = row["id"].as_i64().unwrap();
        assert_eq!(
            Some(row["status"].as_str().unwrap()),
            expected.statuses.get(&id).map(String::as_str),
            "invoice {id}"
        );
    }
    // A sample of values: instants, NULLs for empty strings, methods, dates.
    for field in &expected.fields {
        let rendered = if matches!(field.column, "created_at" | "updated_at" | "paid_at") {
            format!(
                "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
                field.column
            )
        } else {
            format!("{}::text", field.column)
        };
        let value = scalar(
            &mut conn,
            &format!(
                "SELECT {rendered} AS v FROM {} WHERE account_id = '{}' AND id = {}",
                field.table, field.account, field.id
            ),
        );
        assert_eq!(
            value.as_str().map(str::to_owned),
            field.expected,
            "{field:?}"
        );
    }
    // Every account's id counters are ahead of its ids.
    let behind = scalar(
        &mut conn,
        "SELECT count(*) AS n FROM (
           SELECT account_id, 'customers' AS t, max(id) AS m FROM customers GROUP BY 1
           UNION ALL SELECT account_id, 'invoices', max(id) FROM invoices GROUP BY 1
           UNION ALL SELECT account_id, 'invoice_items', max(id) FROM invoice_items GROUP BY 1
           UNION ALL SELECT account_id, 'payments', max(id) FROM payments GROUP BY 1) ids
         LEFT JOIN id_counters c ON c.account_id = ids.account_id AND c.table_name = ids.t
         WHERE c.last_id IS NULL OR c.last_id < ids.m",
    );
    assert_eq!(behind, 0, "an id counter is behind its ids");
}

fn file_fingerprint(path: &Path) -> (Vec<u8>, std::time::SystemTime) {
    (
        std::fs::read(path).unwrap(),
        std::fs::metadata(path).unwrap().modified().unwrap(),
    )
}

#[test]
fn a_messy_file_imports_exactly_as_generated_and_stays_untouched() {
    let db = TestDatabase::new();
    let file = scratch("messy.db");
    let generated = generate(&file, &Plan::small(false));
    let expected = generated.expected(false);
    let before = file_fingerprint(&file);
    let stdout = succeeded(&import(&db, &file, &[]));
    assert_eq!(
        file_fingerprint(&file),
        before,
        "the legacy file was modified"
    );
    assert_holds(&db, &expected);
    assert!(
        stdout.contains("ignored tables the importer does not know: sqlite_sequence, users"),
        "{stdout}"
    );
    assert!(
        stdout.contains("verification:") && !stdout.contains("MISMATCH"),
        "{stdout}"
    );
    for account in expected.accounts.keys() {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(account.as_str()) && l.contains("invoice_items")),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains(&format!(
            "imported {} of {} rows",
            expected.rows, expected.rows
        )),
        "{stdout}"
    );
}

#[test]
fn loading_with_row_triggers_gives_the_same_result_as_in_bulk() {
    let file = scratch("triggers.db");
    let generated = generate(&file, &Plan::small(true));
    for (args, mode) in [
        (vec!["--skip-invalid"], "loading in bulk"),
        (
            vec!["--skip-invalid", "--row-triggers"],
            "loading with per-row triggers",
        ),
    ] {
        let db = TestDatabase::new();
        let stdout = succeeded(&import(&db, &file, &args));
        assert!(stdout.contains(mode), "{stdout}");
        assert_holds(&db, &generated.expected(false));
    }
}

#[actix_web::test]
async fn after_an_import_new_rows_continue_after_the_legacy_ids() {
    let db = TestDatabase::new();
    let file = scratch("continue.db");
    let expected = generate(&file, &Plan::small(false)).expected(false);
    succeeded(&import(&db, &file, &[]));
    let account = invoiced::domain::AccountId::parse("acme").unwrap();
    let key_name = invoiced::domain::Name::parse("after import").unwrap();
    let key = invoiced::admin::create_key(&mut db.owner_conn(), &account, &key_name)
        .unwrap()
        .unwrap();
    let tenant = crate::harness::TestTenant {
        account: "acme".into(),
        key: key.secret,
    };
    let config = crate::harness::app::config_for(db.app_url(), db.owner_url(), false);
    let app = crate::harness::app::spawn_with(None, config).await;
    let totals = &expected.accounts["acme"];
    // Past the highest legacy id of the file, whichever account held it:
    // the legacy ids were unique across accounts.
    let highest = |of: fn(&crate::legacy_file::AccountTotals) -> i64| {
        expected.accounts.values().map(of).max().unwrap()
    };
    let customer = app.customer(&tenant, "After the import").await;
    assert_eq!(customer, highest(|a| a.max_customer) + 1);
    let invoice = app.invoice(&tenant, customer, &[("1", "5.00", "0")]).await;
    assert_eq!(invoice["id"], highest(|a| a.max_invoice) + 1);
    assert_eq!(invoice["items"][0]["id"], highest(|a| a.max_item) + 1);
    // And the imported data reads back through the API.
    let listed = app.get(&tenant, "/v1/invoices?limit=200").await;
    assert_eq!(
        listed.ok(200)["data"].as_array().unwrap().len() as i64,
        totals.invoices + 1
    );
    drop(app);
    drop(db);
}

#[test]
fn a_second_import_is_refused_and_replace_replaces() {
    let db = TestDatabase::new();
    let file = scratch("twice.db");
    let expected = generate(&file, &Plan::small(false)).expected(false);
    succeeded(&import(&db, &file, &[]));
    let once = row_counts(&db);
    let again = import(&db, &file, &[]);
    assert_eq!(again.status.code(), Some(1));
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains("already hold data") && stderr.contains("--replace"),
        "{stderr}"
    );
    assert!(
        stderr.contains("acme") && stderr.contains("Acme"),
        "{stderr}"
    );
    assert_eq!(
        row_counts(&db),
        once,
        "the refused import changed something"
    );

    // Data added since is replaced too: the file is what the accounts hold
    // after, the documents of an imported invoice fetched since included.
    crate::harness::execute(
        &mut db.owner_conn(),
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'added later');
         INSERT INTO documents (account_id, invoice_id, format, language, content, sha256)
             SELECT account_id, id, 'pdf', 'en', 'x', sha256('x') FROM invoices
             WHERE account_id = 'acme' ORDER BY id LIMIT 1",
    );
    succeeded(&import(&db, &file, &["--replace"]));
    assert_eq!(
        scalar(&mut db.owner_conn(), "SELECT count(*) AS n FROM documents"),
        serde_json::json!(0)
    );
    assert_eq!(row_counts(&db), once);
    assert_holds(&db, &expected);
    // Replaced ids are not handed out again.
    let next = scalar(
        &mut db.owner_conn(),
        "SELECT last_id AS n FROM id_counters WHERE account_id = 'acme' AND table_name = 'customers'",
    );
    assert!(next.as_i64().unwrap() > expected.accounts["acme"].max_customer);
}

#[test]
fn a_dry_run_checks_everything_and_writes_nothing() {
    let db = TestDatabase::new();
    let file = scratch("dry.db");
    generate(&file, &Plan::small(false));
    let stdout = succeeded(&import(&db, &file, &["--dry-run"]));
    assert!(
        stdout.contains("verification:") && stdout.contains("dry run"),
        "{stdout}"
    );
    assert_eq!(row_counts(&db), vec![0, 0, 0, 0, 0]);
    // A dry run of a dirty file fails the same way, still writing nothing.
    let dirty = scratch("dry-dirty.db");
    generate(&dirty, &Plan::small(true));
    let output = import(&db, &dirty, &["--dry-run"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(row_counts(&db), vec![0, 0, 0, 0, 0]);
}

/// (table, legacy id) of every `error: TABLE row ID: ...` line.
fn listed_rows(stderr: &str) -> BTreeSet<(String, i64)> {
    stderr
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("error: ")?;
            let (table, rest) = rest.split_once(" row ")?;
            let id = rest.split(':').next()?.parse().ok()?;
            Some((table.to_owned(), id))
        })
        .collect()
}

#[test]
fn a_dirty_file_writes_nothing_and_lists_every_error_row() {
    let db = TestDatabase::new();
    let file = scratch("dirty.db");
    let expected = generate(&file, &Plan::small(true)).expected(false);
    let output = import(&db, &file, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    assert_eq!(
        row_counts(&db),
        vec![0, 0, 0, 0, 0],
        "a refused import wrote rows"
    );
    let stderr = text(&output.stderr);
    assert_eq!(listed_rows(&stderr), expected.rejected, "{stderr}");
    for (table, id, column) in &expected.errors {
        let prefix = format!("error: {table} row {id}: {column} ");
        assert!(
            stderr.lines().any(|line| line.starts_with(&prefix)),
            "{prefix} not in:\n{stderr}"
        );
    }
    assert!(stderr.contains("--skip-invalid"), "{stderr}");
    // Each error class is there, explained.
    for reason in [
        "differs from its customer's account",
        "references a customer that does not exist",
        "references an invoice that does not exist",
        "is negative",
        "is not a date",
        "duplicates the number of invoices row",
        "is missing (pass --default-currency",
        "is paid but",
        "must be 1 to 100 characters",
    ] {
        assert!(stderr.contains(reason), "no {reason:?} in:\n{stderr}");
    }
}

/// (table, legacy id, column) of every line of a rejects CSV.
fn csv_rows(path: &Path) -> Vec<(String, i64, String)> {
    let content = std::fs::read_to_string(path).unwrap();
    let mut lines = content.lines();
    assert_eq!(lines.next(), Some("table,legacy_id,column,value,reason"));
    lines
        .map(|line| {
            let mut fields = line.splitn(4, ',');
            let table = fields.next().unwrap().to_owned();
            let id = fields.next().unwrap().parse().unwrap();
            let column = fields.next().unwrap().to_owned();
            (table, id, column)
        })
        .collect()
}

#[test]
fn skip_invalid_imports_the_rest_and_writes_every_reject_to_the_csv() {
    let db = TestDatabase::new();
    let file = scratch("skip.db");
    let expected = generate(&file, &Plan::small(true)).expected(false);
    let rejects = scratch("skip.rejects.csv");
    let stdout = succeeded(&import(
        &db,
        &file,
        &["--skip-invalid", "--rejects", rejects.to_str().unwrap()],
    ));
    assert_holds(&db, &expected);
    let rows = csv_rows(&rejects);
    let listed: BTreeSet<(String, i64)> = rows.iter().map(|(t, id, _)| (t.clone(), *id)).collect();
    assert_eq!(listed, expected.rejected);
    for error in &expected.errors {
        assert!(rows.contains(error), "{error:?} not in the CSV");
    }
    assert!(
        stdout.contains(&format!("{} rejected row(s)", expected.rejected.len())),
        "{stdout}"
    );
    assert!(!stdout.contains("MISMATCH"), "{stdout}");

    // The default CSV path is next to the file.
    let db = TestDatabase::new();
    succeeded(&import(&db, &file, &["--skip-invalid"]));
    assert!(scratch("skip.db.rejects.csv").is_file());
}

#[test]
fn a_default_currency_fills_in_missing_currencies() {
    let db = TestDatabase::new();
    let file = scratch("currency.db");
    let generated = generate(&file, &Plan::small(true));
    let with_default = generated.expected(true);
    let without = generated.expected(false);
    assert!(
        with_default.rejected.len() < without.rejected.len(),
        "the plan has a missing currency"
    );
    succeeded(&import(
        &db,
        &file,
        &["--skip-invalid", "--default-currency", "usd"],
    ));
    assert_holds(&db, &with_default);
    let currencies = json_rows(
        &mut db.owner_conn(),
        "SELECT DISTINCT currency FROM invoices ORDER BY 1",
    );
    assert_eq!(
        currencies,
        vec![json!({"currency": "EUR"}), json!({"currency": "USD"})]
    );
    let bad = import(&db, &file, &["--default-currency", "EURO"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn an_import_killed_mid_load_leaves_the_target_unchanged_and_can_be_run_again() {
    let db = TestDatabase::new();
    let file = scratch("killed.db");
    let plan = Plan {
        seed: 11,
        accounts: (0..4).map(|n| format!("tenant-{n}")).collect(),
        customers_per_account: 200,
        invoices_per_account: 3000,
        max_items_per_invoice: 5,
        messy: true,
        errors: false,
    };
    let expected = generate(&file, &plan).expected(false);
    let mut child = invoiced()
        .arg("import-sqlite")
        .arg(&file)
        .env("DATABASE_URL", db.owner_url())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until rows are streaming into the database, then kill it.
    let mut watcher = db.superuser_conn();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let copying = scalar(
            &mut watcher,
            "SELECT count(*) AS n FROM pg_stat_progress_copy p JOIN pg_stat_activity a USING (pid)
             WHERE a.datname = current_database() AND p.tuples_processed > 0",
        );
        if copying.as_i64() == Some(1) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it could be killed"
        );
        assert!(
            Instant::now() < deadline,
            "the import never started loading"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The server notices the dead client; its transaction rolls back.
    let deadline = Instant::now() + Duration::from_secs(30);
    while scalar(
        &mut watcher,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND usename = 'invoiced_owner'",
    ) != 0
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(row_counts(&db), vec![0, 0, 0, 0, 0]);
    succeeded(&import(&db, &file, &[]));
    assert_holds(&db, &expected);
}

#[test]
fn a_missing_or_foreign_file_is_refused_clearly() {
    let db = TestDatabase::new();
    let missing = import(&db, &scratch("nothing-here.db"), &[]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("does not exist"));
    let foreign = scratch("foreign.db");
    let mut conn =
        <diesel::SqliteConnection as diesel::Connection>::establish(foreign.to_str().unwrap())
            .unwrap();
    diesel::connection::SimpleConnection::batch_execute(
        &mut conn,
        "CREATE TABLE notes (id INTEGER PRIMARY KEY)",
    )
    .unwrap();
    let output = import(&db, &foreign, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("not a legacy invoicing database"),
        "{}",
        text(&output.stderr)
    );
}
