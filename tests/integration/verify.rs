//! `invoiced verify` on a live database.

use std::time::Duration;

use crate::harness::{TestDatabase, execute, invoiced, output_within};
use crate::legacy_file::{Plan, generate};

fn verify(url: &str) -> (Option<i32>, String) {
    let output = output_within(
        invoiced().args(["verify", "--database-url", url]),
        Duration::from_secs(60),
    );
    (
        output.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn a_sound_database_passes_every_check() {
    let db = TestDatabase::new();
    let file = crate::harness::server::server().run_dir().join("verify.db");
    generate(&file, &Plan::small(false));
    let import = output_within(
        invoiced()
            .arg("import-sqlite")
            .arg(&file)
            .env("DATABASE_URL", db.owner_url()),
        Duration::from_secs(120),
    );
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let (code, output) = verify(&db.owner_url());
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(
        output.lines().filter(|l| l.starts_with("ok    ")).count(),
        12,
        "{output}"
    );
    assert!(output.contains("all 12 checks passed"), "{output}");
}

#[test]
fn every_broken_invariant_is_named_with_examples() {
    let db = TestDatabase::new();
    let mut owner = db.owner_conn();
    execute(
        &mut owner,
        "INSERT INTO accounts (id, name) VALUES ('acme', 'Acme');
         INSERT INTO customers (account_id, name) VALUES ('acme', 'Ann');
         INSERT INTO invoices (account_id, customer_id, currency, status) VALUES
             ('acme', 1, 'EUR', 'issued'), ('acme', 1, 'EUR', 'draft'), ('acme', 1, 'EUR', 'paid');
         INSERT INTO invoice_items (account_id, invoice_id, position, description, quantity, unit_price)
             VALUES ('acme', 1, 1, 'x', 1, 10), ('acme', 2, 1, 'x', 1, 10), ('acme', 3, 1, 'x', 1, 10);
         -- Overpaid, a draft with a payment, and paid with money due.
         INSERT INTO payments (account_id, invoice_id, amount) VALUES ('acme', 1, 15), ('acme', 2, 1), ('acme', 3, 4);
         -- A counter behind its ids.
         UPDATE id_counters SET last_id = 1 WHERE account_id = 'acme' AND table_name = 'invoices';
         -- A draft's stored document, whose bytes are not what its hash says.
         INSERT INTO documents (account_id, invoice_id, format, language, content, sha256)
             VALUES ('acme', 2, 'pdf', 'en', 'tampered', sha256('issued'));",
    );
    let (code, output) = verify(&db.owner_url());
    assert_eq!(code, Some(1), "{output}");
    for expected in [
        "FAIL  every account's id counters are ahead of its ids: 1 violation(s)",
        "acme invoices: highest id 3, counter 1",
        "FAIL  no invoice's payments or credit notes exceed its total: 1 violation(s)",
        "acme invoice 1: paid 15.00, credited 0 of 10.00",
        "FAIL  every status agrees with the payments and credit notes",
        "acme invoice 2 is draft with 1.00 paid and 0 credited of 10.00",
        "acme invoice 3 is paid with 4.00 paid and 0 credited of 10.00",
        "FAIL  every stored document is what its SHA-256 (its ETag) says: 1 violation(s)",
        "acme document 1 (pdf en): content does not match its sha256",
        "FAIL  documents are stored only for issued invoices: 1 violation(s)",
        "acme invoice 2 is a draft with a stored pdf",
        "ok    every tenant table is keyed (account_id, id)",
        "check(s) failed",
    ] {
        assert!(output.contains(expected), "{expected:?} not in:\n{output}");
    }
}

#[test]
fn verify_refuses_a_role_that_row_level_security_blinds() {
    let db = TestDatabase::new();
    let (code, output) = verify(&db.app_url());
    assert_eq!(
        code,
        Some(2),
        "a usage error: the wrong role for the command"
    );
    assert!(output.contains("owner role"), "{output}");
}

#[test]
fn a_privilege_the_service_role_must_not_have_or_lacks_is_named() {
    let db = TestDatabase::new();
    execute(
        &mut db.owner_conn(),
        "GRANT DELETE ON payments TO invoiced_app;
         GRANT UPDATE (revoked_at) ON api_keys TO invoiced_app;
         REVOKE SELECT ON customers FROM invoiced_app",
    );
    execute(
        &mut db.superuser_conn(),
        &format!("GRANT TEMPORARY ON DATABASE {} TO invoiced_app", db.name()),
    );
    let (code, output) = verify(&db.owner_url());
    assert_eq!(code, Some(1), "{output}");
    for expected in [
        "FAIL  the service's role has exactly the privileges it needs: 4 violation(s)",
        "invoiced_app may payments: DELETE, which it must not",
        "invoiced_app may api_keys: UPDATE (revoked_at), which it must not",
        "invoiced_app may database: TEMPORARY, which it must not",
        "invoiced_app lacks customers: SELECT",
    ] {
        assert!(output.contains(expected), "{expected:?} not in:\n{output}");
    }
}
