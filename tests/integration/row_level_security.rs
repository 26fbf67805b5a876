//! Row-level security, tested directly as invoiced_app: even a query with
//! no account filter at all sees one account, and only inside a tenant
//! transaction.

use std::time::Duration;

use diesel::connection::SimpleConnection;

use crate::harness::{
    TestDatabase, as_tenant, execute, json_rows, scalar, try_as_tenant, try_execute,
};

const TENANT_TABLES: [&str; 17] = [
    "api_keys",
    "customers",
    "invoices",
    "invoice_items",
    "payments",
    "id_counters",
    "idempotency_keys",
    "number_sequences",
    "document_numbers",
    "credit_notes",
    "credit_note_lines",
    "credit_note_taxes",
    "events",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_attempts",
    "documents",
];

/// The tenant tables the app may read (id_counters it may not touch at all).
fn app_readable() -> impl Iterator<Item = &'static str> {
    TENANT_TABLES
        .into_iter()
        .filter(|table| *table != "id_counters")
        .chain(["accounts"])
}

/// Two accounts (one a case variant of another's name), each with a row in every tenant table.
fn two_accounts() -> TestDatabase {
    let db = TestDatabase::new();
    let mut owner = db.owner_conn();
    for account in ["acme", "Acme"] {
        execute(
            &mut owner,
            &format!(
                "INSERT INTO accounts (id, name) VALUES ('{account}', '{account}');
                 INSERT INTO api_keys (account_id, name, prefix, key_hash) VALUES ('{account}', 'k', 'inv_{account}0000', sha256('{account}'));
                 INSERT INTO customers (account_id, name) VALUES ('{account}', '{account} customer');
                 INSERT INTO invoices (account_id, customer_id, currency, number) VALUES ('{account}', 1, 'EUR', 'N-1');
                 INSERT INTO number_sequences (account_id, series, period, next_value) VALUES ('{account}', 'invoice', 0, 1);
                 INSERT INTO credit_notes (account_id, invoice_id, number, kind, reason, currency, issue_date, tax_rounding)
                     VALUES ('{account}', 1, 'CN-1', 'full', 'r', 'EUR', '2026-01-01', 'line');
                 INSERT INTO credit_note_lines (account_id, credit_note_id, invoice_id, position, description, quantity,
                                                unit_price, tax_rate, tax_category, subtotal, tax)
                     VALUES ('{account}', 1, 1, 1, 'x', 1, 1, 0, 'Z', 1, 0);
                 INSERT INTO credit_note_taxes (account_id, credit_note_id, invoice_id, tax_category, tax_rate, taxable_amount, tax_amount)
                     VALUES ('{account}', 1, 1, 'Z', 0, 1, 0);
                 INSERT INTO invoice_items (account_id, invoice_id, position, description, quantity, unit_price) VALUES ('{account}', 1, 1, 'x', 1, 10);
                 INSERT INTO payments (account_id, invoice_id, amount) VALUES ('{account}', 1, 5);
                 INSERT INTO idempotency_keys (account_id, key, request_hash, response_status, response_body) VALUES ('{account}', 'k', sha256('x'), 201, '');
                 INSERT INTO events (account_id, type, data) VALUES ('{account}', 'customer.created', '{{}}');
                 INSERT INTO webhook_endpoints (account_id, url, event_types, enabled, secret)
                     VALUES ('{account}', 'https://example.com/', '{{*}}', true, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
                 INSERT INTO webhook_deliveries (account_id, endpoint_id, event_id, status, attempts, next_attempt_at)
                     VALUES ('{account}', 1, 1, 'pending', 1, now());
                 INSERT INTO webhook_attempts (account_id, delivery_id, endpoint_id, event_id, attempt, attempted_at, latency_ms, error)
                     VALUES ('{account}', 1, 1, 1, 1, now(), 3, 'refused');
                 INSERT INTO documents (account_id, invoice_id, format, language, content, sha256)
                     VALUES ('{account}', 1, 'cii', '', 'x', sha256('x'));"
            ),
        );
    }
    db
}

/// The account ids `sql` returns, run as the app in a transaction for `account` (or none).
fn visible(db: &TestDatabase, account: Option<&str>, table: &str) -> Vec<String> {
    let column = if table == "accounts" {
        "id"
    } else {
        "account_id"
    };
    let mut app = db.app_conn();
    let setting = account.map_or_else(String::new, |a| {
        format!("SELECT set_config('app.account_id', '{a}', true);")
    });
    app.batch_execute(&format!("BEGIN; {setting}")).unwrap();
    let rows = json_rows(
        &mut app,
        &format!("SELECT DISTINCT {column} AS account FROM {table}"),
    );
    app.batch_execute("COMMIT").unwrap();
    rows.iter()
        .map(|r| r["account"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_tenant_table_has_row_level_security_with_a_plain_equality_policy() {
    let db = TestDatabase::new();
    let rows = json_rows(
        &mut db.owner_conn(),
        "SELECT c.relname AS table_name, c.relrowsecurity AS enabled,
                p.polcmd AS command, pg_get_expr(p.polqual, p.polrelid) AS using_expr,
                pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
         LEFT JOIN pg_policy p ON p.polrelid = c.oid
         WHERE c.relkind = 'r' AND c.relname <> '__diesel_schema_migrations'",
    );
    assert_eq!(
        rows.len(),
        TENANT_TABLES.len() + 1,
        "one policy per table: {rows:?}"
    );
    for row in &rows {
        let table = row["table_name"].as_str().unwrap();
        assert_eq!(row["enabled"], true, "{table}");
        assert_eq!(row["command"], "*", "{table}: one policy for every command");
        let column = if table == "accounts" {
            "id"
        } else {
            "account_id"
        };
        let expected =
            format!("({column} = NULLIF(current_setting('app.account_id'::text, true), ''::text))");
        assert_eq!(row["using_expr"], expected.as_str(), "{table}");
        assert_eq!(row["check_expr"], expected.as_str(), "{table}");
    }
}

#[test]
fn without_the_setting_the_app_sees_no_row_at_all() {
    let db = two_accounts();
    for table in app_readable() {
        assert!(
            visible(&db, None, table).is_empty(),
            "{table} without a setting"
        );
        assert!(
            visible(&db, Some(""), table).is_empty(),
            "{table} with an empty setting"
        );
    }
}

#[test]
fn with_one_accounts_setting_only_its_rows_are_visible() {
    let db = two_accounts();
    for table in app_readable() {
        assert_eq!(visible(&db, Some("acme"), table), vec!["acme"], "{table}");
        assert_eq!(
            visible(&db, Some("Acme"), table),
            vec!["Acme"],
            "{table}: case matters"
        );
        assert!(visible(&db, Some("nobody"), table).is_empty(), "{table}");
    }
    // The owner, which migrates and imports, sees both.
    let all = scalar(&mut db.owner_conn(), "SELECT count(*) AS n FROM customers");
    assert_eq!(all, 2);
}

#[test]
fn another_accounts_rows_cannot_be_written() {
    let db = two_accounts();
    let mut app = db.app_conn();
    for insert in [
        "INSERT INTO customers (account_id, name) VALUES ('Acme', 'planted')",
        "INSERT INTO invoices (account_id, customer_id, currency) VALUES ('Acme', 1, 'EUR')",
        "INSERT INTO payments (account_id, invoice_id, amount) VALUES ('Acme', 1, 1)",
        "INSERT INTO api_keys (account_id, name, prefix, key_hash) VALUES ('Acme', 'planted', 'inv_planted0', sha256('p'))",
        "INSERT INTO accounts (id, name) VALUES ('newco', 'planted')",
    ] {
        // Where the role may insert at all, row-level security refuses the
        // other account; api_keys and accounts it may not insert into.
        let error = try_as_tenant(&mut app, "acme", insert).unwrap_err();
        assert!(
            error.contains("row-level security") || error.contains("permission denied"),
            "{insert}: {error}"
        );
    }
    // Updates and deletes of the other account's rows find nothing to touch.
    as_tenant(
        &mut app,
        "acme",
        "UPDATE customers SET name = 'hijacked' WHERE account_id = 'Acme';
         DELETE FROM invoice_items;
         UPDATE api_keys SET last_used_at = now()",
    );
    // Moving an own row into the other account is refused (the column is
    // not the app's to update at all).
    let error =
        try_as_tenant(&mut app, "acme", "UPDATE customers SET account_id = 'Acme'").unwrap_err();
    assert!(error.contains("permission denied"), "{error}");
    let mut owner = db.owner_conn();
    let acme_rows = json_rows(
        &mut owner,
        "SELECT (SELECT name FROM customers WHERE account_id = 'Acme') AS name,
                (SELECT count(*) FROM payments WHERE account_id = 'Acme') AS payments,
                (SELECT count(*) FROM invoice_items WHERE account_id = 'Acme') AS items,
                (SELECT count(*) FROM api_keys WHERE account_id = 'Acme' AND revoked_at IS NULL) AS live_keys",
    );
    assert_eq!(
        acme_rows[0],
        serde_json::json!({"name": "Acme customer", "payments": 1, "items": 1, "live_keys": 1})
    );
    assert_eq!(
        scalar(
            &mut owner,
            "SELECT count(*) AS n FROM invoice_items WHERE account_id = 'acme'"
        ),
        0,
        "its own rows were deletable"
    );
}

#[test]
fn a_setting_never_survives_into_the_next_transaction_on_a_pooled_connection() {
    let db = two_accounts();
    let config = invoiced::config::PoolConfig {
        max_size: 1,
        min_idle: 1,
        timeout: Duration::from_secs(5),
        max_lifetime: Duration::from_secs(3600),
        idle_timeout: Duration::from_secs(600),
        test_on_checkout: false,
        statement_timeout: Duration::from_secs(10),
        prepared_statements: true,
    };
    let database = invoiced::db::Database::new(&db.app_url(), &config);
    actix_web::rt::System::new().block_on(async move {
        let account = invoiced::domain::AccountId::parse("acme").unwrap();
        let seen: i64 = database
            .run(move |conn, _| {
                invoiced::db::in_tenant_transaction(conn, &account, |conn| {
                    use diesel::prelude::*;
                    invoiced::schema::customers::table
                        .count()
                        .get_result(conn.pg())
                        .map_err(invoiced::http::ApiError::from)
                })
            })
            .await
            .unwrap();
        assert_eq!(seen, 1);
        // The same (only) connection, next use, no tenant transaction:
        let (setting, visible): (Option<String>, i64) = database
            .run(|conn, _| {
                let setting = crate::harness::scalar(
                    conn,
                    "SELECT current_setting('app.account_id', true) AS s",
                );
                let visible = crate::harness::scalar(conn, "SELECT count(*) AS n FROM customers");
                Ok::<_, invoiced::http::ApiError>((
                    setting.as_str().map(str::to_owned),
                    visible.as_i64().unwrap(),
                ))
            })
            .await
            .unwrap();
        assert!(
            setting.as_deref().unwrap_or_default().is_empty(),
            "left behind: {setting:?}"
        );
        assert_eq!(visible, 0);
        assert_eq!(
            database.state().connections,
            1,
            "it was the same connection"
        );
    });
}

#[test]
fn outside_a_tenant_transaction_a_query_without_a_filter_sees_and_writes_nothing() {
    // Defense in depth for the defense in depth: a forgotten filter in a
    // transaction that forgot set_config sees nothing.
    let db = two_accounts();
    let mut app = db.app_conn();
    assert_eq!(scalar(&mut app, "SELECT count(*) AS n FROM invoices"), 0);
    assert!(
        try_execute(
            &mut app,
            "INSERT INTO customers (account_id, name) VALUES ('acme', 'no setting')"
        )
        .is_err()
    );
}
