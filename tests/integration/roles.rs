//! The roles of setup_postgres.sql: the owner migrates, the app only reads
//! and writes rows.

use crate::harness::{TestDatabase, as_tenant, scalar, try_execute};

const APP_TABLES: [&str; 8] = [
    "accounts",
    "api_keys",
    "customers",
    "id_counters",
    "idempotency_keys",
    "invoices",
    "invoice_items",
    "payments",
];

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
fn the_app_role_can_read_and_write_every_table_created_by_migrations() {
    let db = TestDatabase::new();
    let mut app = db.app_conn();
    for table in APP_TABLES {
        for privilege in ["SELECT", "INSERT", "UPDATE", "DELETE"] {
            let granted = scalar(
                &mut app,
                &format!("SELECT has_table_privilege('{table}', '{privilege}') AS granted"),
            );
            assert_eq!(granted, true, "{privilege} on {table}");
        }
        for privilege in ["TRUNCATE", "REFERENCES", "TRIGGER"] {
            let granted = scalar(
                &mut app,
                &format!("SELECT has_table_privilege('{table}', '{privilege}') AS granted"),
            );
            assert_eq!(granted, false, "{privilege} on {table}");
        }
    }
    as_tenant(
        &mut app,
        "acme",
        "INSERT INTO accounts (id, name) VALUES ('acme', 'Acme');
         INSERT INTO customers (account_id, name) VALUES ('acme', 'Ann');
         UPDATE customers SET email = 'ann@example.com';
         INSERT INTO invoices (account_id, customer_id, currency) VALUES ('acme', 1, 'EUR');
         INSERT INTO invoice_items (account_id, invoice_id, position, description, quantity, unit_price)
             VALUES ('acme', 1, 1, 'x', 1, 1);
         DELETE FROM invoice_items; DELETE FROM invoices; DELETE FROM customers;",
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
