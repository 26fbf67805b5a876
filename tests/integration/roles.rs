//! The roles of setup_postgres.sql: the owner migrates, the app only reads
//! and writes rows.

use crate::harness::{TestDatabase, as_tenant, scalar, try_execute};

#[test]
fn the_app_role_cannot_change_the_schema() {
    let db = TestDatabase::new();
    let mut app = db.app_conn();
    for (sql, expected) in [
        (
            "CREATE TABLE intruder (id int)",
            "permission denied for schema public",
        ),
        (
            "CREATE INDEX intruder ON customers (name)",
            "must be owner of table customers",
        ),
        (
            "ALTER TABLE customers ADD COLUMN intruder int",
            "must be owner of table customers",
        ),
        (
            "ALTER TABLE customers DISABLE ROW LEVEL SECURITY",
            "must be owner of table customers",
        ),
        ("DROP TABLE payments", "must be owner of table payments"),
        (
            "TRUNCATE invoices CASCADE",
            "permission denied for table invoices",
        ),
        (
            "TRUNCATE accounts CASCADE",
            "permission denied for table accounts",
        ),
        (
            "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "permission denied for schema public",
        ),
        (
            "DROP FUNCTION allocate_account_scoped_id() CASCADE",
            "must be owner of function",
        ),
        (
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('99999999999999')",
            "permission denied",
        ),
        (
            "DELETE FROM __diesel_schema_migrations",
            "permission denied",
        ),
    ] {
        match try_execute(&mut app, sql) {
            Ok(()) => panic!("invoiced_app was allowed: {sql}"),
            Err(error) => assert!(
                error.contains(expected),
                "{sql}: expected {expected:?}, got {error}"
            ),
        }
    }
}

#[test]
fn an_injection_through_the_app_role_cannot_mint_keys_or_rewrite_history() {
    let db = TestDatabase::new();
    let mut owner = db.owner_conn();
    crate::harness::execute(
        &mut owner,
        "INSERT INTO accounts (id, name) VALUES ('acme', 'Acme');
         INSERT INTO api_keys (account_id, name, prefix, key_hash, revoked_at)
             VALUES ('acme', 'old', 'inv_00000000', sha256('old'), now());
         INSERT INTO customers (account_id, name) VALUES ('acme', 'Ann');
         INSERT INTO invoices (account_id, customer_id, currency, status) VALUES ('acme', 1, 'EUR', 'issued');
         INSERT INTO invoice_items (account_id, invoice_id, position, description, quantity, unit_price)
             VALUES ('acme', 1, 1, 'x', 1, 10);
         INSERT INTO payments (account_id, invoice_id, amount) VALUES ('acme', 1, 4);",
    );
    let mut app = db.app_conn();
    for forbidden in [
        // A working key for the account, or a new account.
        "INSERT INTO api_keys (account_id, name, prefix, key_hash) VALUES ('acme', 'evil', 'inv_11111111', sha256('evil'))",
        "INSERT INTO accounts (id, name) VALUES ('evil', 'Evil')",
        "UPDATE accounts SET id = 'evil'",
        // Un-revoking a key, or changing what it is.
        "UPDATE api_keys SET revoked_at = NULL",
        "UPDATE api_keys SET key_hash = sha256('evil')",
        // Payments are immutable.
        "UPDATE payments SET amount = 1000",
        "DELETE FROM payments",
        // The counters: forcing an id to be reused.
        "UPDATE id_counters SET last_id = 0",
        "DELETE FROM id_counters",
        "INSERT INTO id_counters (account_id, table_name, last_id) VALUES ('acme', 'customers', 0)",
        "SELECT * FROM id_counters",
        // Rows with ids of one's choosing, or moved to another account.
        "INSERT INTO customers (account_id, id, name) VALUES ('acme', 1000000, 'x')",
        "UPDATE customers SET id = 99",
        "UPDATE invoices SET account_id = 'other'",
        // Temporary tables (a place to stage an attack, or to shadow ours).
        "CREATE TEMPORARY TABLE staging (x int)",
    ] {
        match crate::harness::try_as_tenant(&mut app, "acme", forbidden) {
            Ok(()) => panic!("invoiced_app was allowed: {forbidden}"),
            Err(error) => assert!(
                error.contains("permission denied"),
                "{forbidden}: expected a permission error, got {error}"
            ),
        }
    }
    // What the service does still works: ids come from the counters.
    as_tenant(
        &mut app,
        "acme",
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'Bob');
         UPDATE customers SET email = 'bob@example.com' WHERE id = 2;
         INSERT INTO invoices (account_id, customer_id, currency) VALUES ('acme', 2, 'EUR');
         INSERT INTO invoice_items (account_id, invoice_id, position, description, quantity, unit_price)
             VALUES ('acme', 2, 1, 'y', 1, 1);
         UPDATE invoice_items SET quantity = 2 WHERE invoice_id = 2;
         INSERT INTO payments (account_id, invoice_id, amount) VALUES ('acme', 1, 1);
         UPDATE api_keys SET last_used_at = now();
         DELETE FROM invoice_items WHERE invoice_id = 2; DELETE FROM invoices WHERE id = 2;",
    );
    let ids = crate::harness::json_rows(
        &mut owner,
        "SELECT (SELECT max(id) FROM customers) AS customer, (SELECT max(id) FROM payments) AS payment,
                (SELECT sum(amount) FROM payments) AS paid,
                (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL) AS live_keys",
    );
    assert_eq!(
        ids[0],
        serde_json::json!({"customer": 2, "payment": 2, "paid": 5.00, "live_keys": 0})
    );
    // It may read the migration ledger (to report pending migrations).
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .count();
    let applied = scalar(
        &mut app,
        "SELECT count(*) AS n FROM __diesel_schema_migrations",
    );
    assert_eq!(applied, migrations);
}

/// The service's role writes its account's number counters itself (no
/// SECURITY DEFINER, for Citus), and a trigger lets it make only the two
/// changes issuing and raising make.
#[test]
fn an_injection_through_the_app_role_cannot_rewind_or_jump_a_number_series() {
    let db = TestDatabase::new();
    crate::harness::execute(
        &mut db.owner_conn(),
        "INSERT INTO accounts (id, name) VALUES ('acme', 'Acme')",
    );
    let mut app = db.app_conn();
    // Three values taken, the next raised to 10: what the service may do.
    as_tenant(
        &mut app,
        "acme",
        "SELECT take_document_sequence('invoice', 0); SELECT take_document_sequence('invoice', 0);
         SELECT take_document_sequence('invoice', 0);
         SELECT set_next_document_sequence('invoice', 0, 10)",
    );
    let state = "SELECT last_used, next_value FROM number_sequences WHERE account_id = 'acme'";
    let before = crate::harness::json_rows(&mut db.owner_conn(), state);
    assert_eq!(
        before,
        vec![serde_json::json!({"last_used": 3, "next_value": 10})]
    );
    for (forbidden, expected) in [
        // A used value handed out again.
        (
            "UPDATE number_sequences SET last_used = 0",
            "only taken one value at a time",
        ),
        (
            "UPDATE number_sequences SET next_value = 2, last_used = 1",
            "only taken one value at a time",
        ),
        // Values skipped without being raised through the function.
        (
            "UPDATE number_sequences SET last_used = 7",
            "only taken one value at a time",
        ),
        (
            "UPDATE number_sequences SET last_used = 12, next_value = 13",
            "only taken one value at a time",
        ),
        (
            "INSERT INTO number_sequences (account_id, series, period, next_value, last_used)
             VALUES ('acme', 'invoice', 2031, 50, 49)",
            "only taken one value at a time",
        ),
        // Moved to another series or period, or removed.
        (
            "UPDATE number_sequences SET period = 2030",
            "permission denied",
        ),
        ("DELETE FROM number_sequences", "permission denied"),
        // Lowered below what was used: the function's own refusal.
        (
            "SELECT set_next_document_sequence('invoice', 0, 2)",
            "used up to 3",
        ),
    ] {
        match crate::harness::try_as_tenant(&mut app, "acme", forbidden) {
            Ok(()) => panic!("invoiced_app was allowed: {forbidden}"),
            Err(error) => assert!(
                error.contains(expected),
                "{forbidden}: expected {expected:?}, got {error}"
            ),
        }
    }
    assert_eq!(
        crate::harness::json_rows(&mut db.owner_conn(), state),
        before
    );
    // And the next value taken is the raised one.
    as_tenant(
        &mut app,
        "acme",
        "SELECT take_document_sequence('invoice', 0)",
    );
    assert_eq!(
        crate::harness::json_rows(&mut db.owner_conn(), state),
        vec![serde_json::json!({"last_used": 10, "next_value": 11})]
    );
}

#[test]
fn the_roles_have_the_attributes_the_dba_expects() {
    let db = TestDatabase::new();
    let rows = crate::harness::json_rows(
        &mut db.superuser_conn(),
        "SELECT rolname, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolcanlogin
         FROM pg_roles WHERE rolname IN ('invoiced_owner', 'invoiced_app') ORDER BY rolname",
    );
    assert_eq!(rows.len(), 2);
    let (app, owner) = (&rows[0], &rows[1]);
    assert_eq!(app["rolbypassrls"], false);
    assert_eq!(owner["rolbypassrls"], true);
    for role in [app, owner] {
        assert_eq!(role["rolsuper"], false);
        assert_eq!(role["rolcreatedb"], false);
        assert_eq!(role["rolcreaterole"], false);
        assert_eq!(role["rolcanlogin"], true);
    }
    let mut owner_conn = db.owner_conn();
    assert_eq!(
        scalar(
            &mut owner_conn,
            "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tableowner <> 'invoiced_owner'"
        ),
        0
    );
    assert_eq!(
        scalar(
            &mut owner_conn,
            "SELECT has_schema_privilege('public', 'CREATE') AS owner_creates"
        ),
        true
    );
    let public_creates = scalar(
        &mut db.superuser_conn(),
        "SELECT has_schema_privilege('public', 'public', 'CREATE') AS public_creates",
    );
    assert_eq!(public_creates, false);
}

#[test]
fn the_setup_script_runs_twice_without_error_and_holds_no_password() {
    let db = TestDatabase::unmigrated();
    // unmigrated() ran it once; a DBA running it again must not fail.
    db.server().run_setup_script(db.name());
    let script =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/setup_postgres.sql"))
            .unwrap();
    assert!(!script.contains(crate::harness::server::APP_PASSWORD));
    assert!(
        !script.to_lowercase().contains("password '"),
        "a literal password in setup_postgres.sql"
    );
}
