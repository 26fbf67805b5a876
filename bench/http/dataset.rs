//! The benchmark's data: 100 accounts, each with customers and a few
//! invoices, and one large account whose invoices (5 items each, most of
//! them issued, some paid) grow from 2,000 to 200,000.

use diesel::{Connection, PgConnection};
use invoiced::admin;
use invoiced::domain::{AccountId, Name};

pub const ACCOUNTS: usize = 100;
pub const LARGE_ACCOUNT: &str = "bench-000";
pub const LARGE_ACCOUNT_CUSTOMERS: i64 = 2_000;
pub const CUSTOMERS_PER_ACCOUNT: i64 = 200;
const INVOICES_PER_SMALL_ACCOUNT: i64 = 50;

/// An account and the API key the benchmark uses for it.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub account: String,
    pub key: String,
}

impl Tenant {
    /// The key's stored prefix, which the key check looks it up by.
    pub fn key_prefix(&self) -> &str {
        &self.key[..12]
    }
}

/// Creates the accounts and their keys the way an operator would (the
/// admin code the CLI and /admin use), as the owner.
pub fn create_accounts(owner_url: &str) -> Vec<Tenant> {
    let mut conn = PgConnection::establish(owner_url).expect("connect as the owner");
    (0..ACCOUNTS)
        .map(|n| {
            let account = format!("bench-{n:03}");
            let id = AccountId::parse(&account).unwrap();
            let name = Name::parse(&format!("Benchmark account {n}")).unwrap();
            let (_, key) = admin::create_account(&mut conn, &id, &name)
                .expect("create the account")
                .expect("a new account");
            Tenant {
                account,
                key: key.secret,
            }
        })
        .collect()
}

/// Customers for every account, and a few invoices for each small one.
/// Explicit ids (the allocation trigger then only advances the counters,
/// once per statement).
pub fn base_sql() -> String {
    format!(
        "
INSERT INTO customers (account_id, id, name, email, phone)
SELECT a.id, c, 'Customer ' || c, 'customer' || c || '@' || a.id || '.example', '+49 30 ' || (1000000 + c)
FROM accounts a
CROSS JOIN LATERAL generate_series(1, CASE WHEN a.id = '{LARGE_ACCOUNT}'
                                           THEN {LARGE_ACCOUNT_CUSTOMERS} ELSE {CUSTOMERS_PER_ACCOUNT} END) c;

INSERT INTO invoices (account_id, id, customer_id, number, status, currency, issue_date, due_date)
SELECT a.id, i, 1 + i % {CUSTOMERS_PER_ACCOUNT}, 'INV-' || i, 'issued', 'EUR',
       date '2025-01-01' + i, date '2025-01-31' + i
FROM accounts a, generate_series(1, {INVOICES_PER_SMALL_ACCOUNT}) i
WHERE a.id <> '{LARGE_ACCOUNT}';

INSERT INTO invoice_items (account_id, id, invoice_id, position, description, quantity, unit_price, tax_rate)
SELECT a.id, (i - 1) * 3 + p, i, p, 'Service ' || p, p, 100 + i, 19
FROM accounts a, generate_series(1, {INVOICES_PER_SMALL_ACCOUNT}) i, generate_series(1, 3) p
WHERE a.id <> '{LARGE_ACCOUNT}';
"
    )
}

/// The large account's invoices `from..=to`: 5 items each; one in ten a
/// draft, one in ten paid in full, the rest issued (a third of them paid
/// in part), so payments can go to most of them.
pub fn large_account_sql(from: i64, to: i64) -> String {
    format!(
        "
INSERT INTO invoices (account_id, id, customer_id, number, status, currency, issue_date, due_date, notes)
SELECT '{LARGE_ACCOUNT}', i, 1 + (i * 7919) % {LARGE_ACCOUNT_CUSTOMERS}, 'INV-' || lpad(i::text, 7, '0'),
       CASE i % 10 WHEN 0 THEN 'draft' WHEN 1 THEN 'paid' ELSE 'issued' END, 'EUR',
       CASE WHEN i % 10 <> 0 THEN date '2024-01-01' + i % 700 END,
       CASE WHEN i % 10 <> 0 THEN date '2024-01-31' + i % 700 END,
       CASE WHEN i % 4 = 0 THEN 'Thank you for your business.' END
FROM generate_series({from}, {to}) i;

INSERT INTO invoice_items (account_id, id, invoice_id, position, description, quantity, unit_price, tax_rate)
SELECT '{LARGE_ACCOUNT}', (i - 1) * 5 + p, i, p, 'Consulting, phase ' || p,
       1 + (i + p) % 5 + ((i * p) % 4) * 0.25, (100 + (i * 37 + p * 101) % 99900) / 100.0,
       CASE WHEN p = 5 THEN 7 ELSE 19 END
FROM generate_series({from}, {to}) i, generate_series(1, 5) p;

INSERT INTO payments (account_id, invoice_id, amount, method, reference)
SELECT account_id, invoice_id, sum(subtotal + tax), 'bank_transfer', 'SEPA ' || invoice_id
FROM invoice_items
WHERE account_id = '{LARGE_ACCOUNT}' AND invoice_id BETWEEN {from} AND {to} AND invoice_id % 10 = 1
GROUP BY account_id, invoice_id;

INSERT INTO payments (account_id, invoice_id, amount, method)
SELECT '{LARGE_ACCOUNT}', i, 10.00, 'card'
FROM generate_series({from}, {to}) i
WHERE i % 10 >= 2 AND i % 3 = 0;

VACUUM ANALYZE;
"
    )
}
