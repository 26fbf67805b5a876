//! Rules the database enforces by itself, whoever writes.

use crate::harness::{TestDatabase, execute, try_execute};

fn seeded() -> (TestDatabase, diesel::PgConnection) {
    let db = TestDatabase::new();
    let mut conn = db.owner_conn();
    execute(
        &mut conn,
        "INSERT INTO accounts (id, name) VALUES ('acme', 'Acme'), ('globex', 'Globex');
         INSERT INTO customers (account_id, name) VALUES ('acme', 'Ann'), ('globex', 'Gus');
         INSERT INTO invoices (account_id, customer_id, currency) VALUES ('acme', 1, 'EUR');",
    );
    (db, conn)
}

fn assert_refused(conn: &mut diesel::PgConnection, sql: &str, constraint: &str) {
    match try_execute(conn, sql) {
        Ok(_) => panic!("the database accepted: {sql}"),
        Err(error) => assert!(
            error.contains(constraint),
            "{sql}: expected {constraint}, got {error}"
        ),
    }
}

#[test]
fn a_cross_account_reference_is_refused() {
    let (_db, mut conn) = seeded();
    // globex has a customer 1, but an acme invoice can only name acme's.
    execute(&mut conn, "DELETE FROM invoices");
    execute(&mut conn, "DELETE FROM customers WHERE account_id = 'acme'");
    assert_refused(
        &mut conn,
        "INSERT INTO invoices (account_id, customer_id, currency) VALUES ('acme', 1, 'EUR')",
        "invoices_customer_fkey",
    );
}

#[test]
fn an_item_or_payment_cannot_point_at_another_accounts_invoice() {
    let (_db, mut conn) = seeded();
    assert_refused(
        &mut conn,
        "INSERT INTO invoice_items (account_id, invoice_id, position, description, quantity, unit_price)
         VALUES ('globex', 1, 1, 'x', 1, 1)",
        "invoice_items_invoice_fkey",
    );
    assert_refused(
        &mut conn,
        "INSERT INTO payments (account_id, invoice_id, amount) VALUES ('globex', 1, 1)",
        "payments_invoice_fkey",
    );
}

#[test]
fn malformed_account_ids_are_refused() {
    let (_db, mut conn) = seeded();
    let too_long = "a".repeat(101);
    for bad in [
        "",
        "-leading-dash",
        ".dot",
        "has space",
        "semi;colon",
        "ünicode",
        too_long.as_str(),
    ] {
        assert_refused(
            &mut conn,
            &format!("INSERT INTO accounts (id, name) VALUES ('{bad}', 'x')"),
            "accounts_id_format",
        );
    }
    let longest = "a".repeat(100);
    for good in ["a", "0", "Acme", "acme.co_uk-2", longest.as_str()] {
        execute(
            &mut conn,
            &format!("INSERT INTO accounts (id, name) VALUES ('{good}', 'x')"),
        );
    }
}

#[test]
fn amounts_outside_their_ranges_are_refused() {
    let (_db, mut conn) = seeded();
    let item = |quantity: &str, price: &str, rate: &str| {
        format!(
            "INSERT INTO invoice_items (account_id, invoice_id, position, description, quantity, unit_price, tax_rate)
             VALUES ('acme', 1, 1, 'x', {quantity}, {price}, {rate})"
        )
    };
    assert_refused(
        &mut conn,
        &item("-1", "1", "0"),
        "invoice_items_quantity_positive",
    );
    assert_refused(
        &mut conn,
        &item("0", "1", "0"),
        "invoice_items_quantity_positive",
    );
    assert_refused(
        &mut conn,
        &item("1", "-0.01", "0"),
        "invoice_items_unit_price_not_negative",
    );
    assert_refused(
        &mut conn,
        &item("1", "1", "100.01"),
        "invoice_items_tax_rate_percent",
    );
    assert_refused(
        &mut conn,
        &item("1", "1", "-1"),
        "invoice_items_tax_rate_percent",
    );
    assert_refused(
        &mut conn,
        &item("1", "1000000000000", "0"),
        "numeric field overflow",
    );
    assert_refused(
        &mut conn,
        &item("1000000000", "1", "0"),
        "numeric field overflow",
    );
    assert_refused(
        &mut conn,
        "INSERT INTO payments (account_id, invoice_id, amount) VALUES ('acme', 1, 0)",
        "payments_amount_positive",
    );
    execute(&mut conn, &item("0.001", "0", "100"));
}

#[test]
fn a_lower_case_or_malformed_currency_is_refused() {
    let (_db, mut conn) = seeded();
    for bad in ["eur", "EU", "EURO", "E1R"] {
        assert_refused(
            &mut conn,
            &format!(
                "INSERT INTO invoices (account_id, customer_id, currency) VALUES ('acme', 1, '{bad}')"
            ),
            "invoices_currency_format",
        );
    }
}

#[test]
fn a_due_date_before_the_issue_date_is_refused() {
    let (_db, mut conn) = seeded();
    assert_refused(
        &mut conn,
        "INSERT INTO invoices (account_id, customer_id, currency, issue_date, due_date)
         VALUES ('acme', 1, 'EUR', '2026-03-02', '2026-03-01')",
        "invoices_due_on_or_after_issue",
    );
    execute(
        &mut conn,
        "INSERT INTO invoices (account_id, customer_id, currency, issue_date, due_date)
         VALUES ('acme', 1, 'EUR', '2026-03-02', '2026-03-02')",
    );
}

#[test]
fn unknown_statuses_and_duplicate_numbers_are_refused() {
    let (_db, mut conn) = seeded();
    assert_refused(
        &mut conn,
        "UPDATE invoices SET status = 'sent'",
        "invoices_status_valid",
    );
    execute(&mut conn, "UPDATE invoices SET number = 'INV-1'");
    assert_refused(
        &mut conn,
        "INSERT INTO invoices (account_id, customer_id, currency, number) VALUES ('acme', 1, 'EUR', 'INV-1')",
        "invoices_number_unique",
    );
    // Numbers are unique per account, not globally.
    execute(
        &mut conn,
        "INSERT INTO invoices (account_id, customer_id, currency, number) VALUES ('globex', 1, 'EUR', 'INV-1')",
    );
}

#[test]
fn line_amounts_are_derived_by_the_database_rounding_half_away_from_zero() {
    let (_db, mut conn) = seeded();
    execute(
        &mut conn,
        "INSERT INTO invoice_items (account_id, invoice_id, position, description, quantity, unit_price, tax_rate)
         VALUES ('acme', 1, 1, 'half cent', 1.5, 0.05, 19)",
    );
    let row = &crate::harness::json_rows(
        &mut conn,
        "SELECT subtotal::text, tax::text FROM invoice_items",
    )[0];
    // 1.5 × 0.05 = 0.075 → 0.08; 0.08 × 19 % = 0.0152 → 0.02
    assert_eq!(row["subtotal"], "0.08");
    assert_eq!(row["tax"], "0.02");
}
