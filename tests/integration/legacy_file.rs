//! A deterministic generator of legacy SQLite files (the schema of
//! src/import/legacy_schema.sql), for the importer's tests and benchmark.
//!
//! It writes every mess the legacy schema describes (dates and timestamps
//! in every shape, REAL money with binary noise, INTEGER and TEXT amounts,
//! statuses in any case and under legacy names, empty strings for NULL,
//! payment methods in any spelling, unknown tables) and, on request, every
//! error class the importer must refuse. It decides each value in its
//! normalised form first and only then writes it in a random legacy shape,
//! so what it expects (counts, max ids, money totals in cents, statuses,
//! instants, rejected rows) is computed independently of the importer.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

pub const LEGACY_SCHEMA: &str = include_str!("../../src/import/legacy_schema.sql");

/// splitmix64: small, fast, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    pub accounts: Vec<String>,
    pub customers_per_account: usize,
    pub invoices_per_account: usize,
    /// Each invoice gets 2..=this many items (fewer for some statuses).
    pub max_items_per_invoice: usize,
    /// Write values in every legacy shape (else plain REAL money, ISO text).
    pub messy: bool,
    /// Add one row of every error class.
    pub errors: bool,
}

impl Plan {
    /// A small file with every mess: three accounts, two of them differing
    /// only in letter case.
    pub fn small(errors: bool) -> Self {
        Self {
            seed: 7,
            accounts: vec!["acme".into(), "Acme".into(), "globex-2".into()],
            customers_per_account: 4,
            invoices_per_account: 12,
            max_items_per_invoice: 4,
            messy: true,
            errors,
        }
    }
}

/// Per account, what a correct import holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountTotals {
    pub customers: i64,
    pub invoices: i64,
    pub items: i64,
    pub payments: i64,
    pub max_customer: i64,
    pub max_invoice: i64,
    pub max_item: i64,
    pub max_payment: i64,
    /// Σ line totals (subtotal + tax), in cents.
    pub items_cents: i64,
    /// Σ payments, in cents.
    pub payments_cents: i64,
}

/// One value to check after an import: `column` of row `id` of `table`,
/// as PostgreSQL renders it as text (timestamps in UTC with milliseconds),
/// or NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub table: &'static str,
    pub account: String,
    pub id: i64,
    pub column: &'static str,
    pub expected: Option<String>,
}

/// What an import of the generated file must produce.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub accounts: BTreeMap<String, AccountTotals>,
    /// Every row that must be rejected: (table, legacy id).
    pub rejected: BTreeSet<(String, i64)>,
    /// The rows whose own values are wrong: (table, legacy id, column).
    pub errors: BTreeSet<(String, i64, String)>,
    /// Accepted invoices' statuses after normalisation, by legacy id.
    pub statuses: BTreeMap<i64, String>,
    pub fields: Vec<Field>,
    pub ignored_tables: Vec<String>,
    pub rows: usize,
}

/// A value as SQLite will store it.
#[derive(Debug, Clone)]
enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Cell {
    fn text(value: impl Into<String>) -> Self {
        Self::Text(value.into())
    }

    fn sql(&self) -> String {
        match self {
            Self::Null => "NULL".into(),
            Self::Int(n) => n.to_string(),
            Self::Real(x) => {
                let text = format!("{x:?}");
                if text.contains(['.', 'e', 'E']) {
                    text
                } else {
                    format!("{text}.0")
                }
            }
            Self::Text(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }
}

/// Half away from zero, for non-negative integers.
fn round_div(numerator: i64, denominator: i64) -> i64 {
    (numerator + denominator / 2) / denominator
}

/// A line's total in cents: quantity in thousandths, price in cents, tax
/// rate in hundredths of a percent; rounded per step as the contract says.
pub fn line_total_cents(quantity_milli: i64, price_cents: i64, rate_hundredths: i64) -> i64 {
    let subtotal = round_div(quantity_milli * price_cents, 1000);
    let tax = round_div(subtotal * rate_hundredths, 10_000);
    subtotal + tax
}

fn cents_text(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn utc_millis(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Collects rows and writes them in batches of multi-row INSERTs.
struct Writer {
    conn: SqliteConnection,
    pending: BTreeMap<&'static str, (String, Vec<String>)>,
}

impl Writer {
    fn row(&mut self, table: &'static str, columns: &str, cells: &[Cell]) {
        let values = format!(
            "({})",
            cells.iter().map(Cell::sql).collect::<Vec<_>>().join(", ")
        );
        let entry = self
            .pending
            .entry(table)
            .or_insert_with(|| (columns.to_owned(), Vec::new()));
        entry.1.push(values);
        if entry.1.len() >= 500 {
            self.flush(table);
        }
    }

    fn flush(&mut self, table: &'static str) {
        if let Some((columns, rows)) = self.pending.get_mut(table)
            && !rows.is_empty()
        {
            let sql = format!("INSERT INTO {table} ({columns}) VALUES {}", rows.join(", "));
            self.conn
                .batch_execute(&sql)
                .unwrap_or_else(|e| panic!("{e}: {}", &sql[..sql.len().min(300)]));
            rows.clear();
        }
    }

    fn flush_all(&mut self) {
        let tables: Vec<&'static str> = self.pending.keys().copied().collect();
        for table in tables {
            self.flush(table);
        }
    }
}

/// What the generator remembers of an invoice until the end.
struct InvoiceRecord {
    account: String,
    id: i64,
    customer: i64,
    items: Vec<(i64, i64)>,
    payments: Vec<(i64, i64)>,
    status: &'static str,
    /// The row and column of its own error, if it has one (an item's or
    /// payment's error belongs to its invoice's group).
    error: Option<(&'static str, i64, &'static str)>,
    missing_currency: bool,
}

struct Generator {
    rng: Rng,
    writer: Writer,
    messy: bool,
    next: [i64; 4],
    /// Customer id → (account, valid).
    customers: BTreeMap<i64, (String, bool)>,
    customer_errors: Vec<(i64, &'static str)>,
    invoices: Vec<InvoiceRecord>,
    orphans: Vec<(&'static str, i64)>,
    fields: Vec<Field>,
    rows: usize,
    base: DateTime<Utc>,
}

const CUSTOMER: usize = 0;
const INVOICE: usize = 1;
const ITEM: usize = 2;
const PAYMENT: usize = 3;

impl Generator {
    fn id(&mut self, table: usize) -> i64 {
        self.next[table] += 1;
        self.next[table]
    }

    /// An instant, and a legacy shape of it.
    fn timestamp(&mut self) -> (DateTime<Utc>, Cell) {
        let seconds = self.rng.below(3 * 365 * 86_400) as i64;
        let at = self.base + Duration::seconds(seconds);
        if !self.messy {
            return (at, Cell::text(at.format("%Y-%m-%d %H:%M:%S").to_string()));
        }
        match self.rng.below(6) {
            0 => (at, Cell::text(at.format("%Y-%m-%d %H:%M:%S").to_string())),
            1 => (at, Cell::text(at.format("%Y-%m-%dT%H:%M:%SZ").to_string())),
            2 => {
                let local = at + Duration::hours(2);
                (
                    at,
                    Cell::text(local.format("%Y-%m-%dT%H:%M:%S+02:00").to_string()),
                )
            }
            3 => {
                let millis = self.rng.below(1000) as i64;
                let at = at + Duration::milliseconds(millis);
                (
                    at,
                    Cell::text(at.format("%Y-%m-%d %H:%M:%S%.3f").to_string()),
                )
            }
            4 => (at, Cell::Int(at.timestamp())),
            _ => {
                let midnight = at.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
                (
                    midnight,
                    Cell::text(midnight.format("%Y-%m-%d").to_string()),
                )
            }
        }
    }

    /// A business date, and a legacy shape of it.
    fn date(&mut self) -> (NaiveDate, Cell) {
        let day = (self.base + Duration::days(self.rng.below(3 * 365) as i64)).date_naive();
        if !self.messy {
            return (day, Cell::text(day.format("%Y-%m-%d").to_string()));
        }
        let cell = match self.rng.below(4) {
            0 => Cell::text(day.format("%Y-%m-%d").to_string()),
            1 => Cell::text(format!("{} 00:00:00", day.format("%Y-%m-%d"))),
            // Late in the evening west of UTC: the date as written counts.
            2 => Cell::text(format!("{}T23:30:00-05:00", day.format("%Y-%m-%d"))),
            _ => Cell::Int(day.and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp()),
        };
        (day, cell)
    }

    /// An amount in `scale` decimals, in a legacy shape.
    fn amount(&mut self, units: i64, scale: u32) -> Cell {
        let divisor = 10i64.pow(scale);
        let real = units as f64 / divisor as f64;
        if !self.messy {
            return Cell::Real(real);
        }
        match self.rng.below(5) {
            0 => Cell::Real(real),
            // The next double up: 19.99 becomes 19.990000000000002.
            1 => Cell::Real(f64::from_bits(real.to_bits() + 1)),
            2 if units % divisor == 0 => Cell::Int(units / divisor),
            3 if units % divisor == 0 => Cell::text(format!(" {} ", units / divisor)),
            _ => Cell::text(format!(
                "{}.{:0width$}",
                units / divisor,
                units % divisor,
                width = scale as usize
            )),
        }
    }

    /// Text that may be written as '' where NULL was meant.
    fn optional(&mut self, value: String) -> (Option<String>, Cell) {
        if self.messy && self.rng.chance(25) {
            (None, Cell::text(""))
        } else if self.rng.chance(10) {
            (None, Cell::Null)
        } else {
            (Some(value.clone()), Cell::Text(value))
        }
    }

    fn field(
        &mut self,
        table: &'static str,
        account: &str,
        id: i64,
        column: &'static str,
        expected: Option<String>,
    ) {
        // Keep a sample, not every value of a large file.
        if self.fields.len() < 2000 {
            self.fields.push(Field {
                table,
                account: account.to_owned(),
                id,
                column,
                expected,
            });
        }
    }

    fn customer_row(&mut self, account: &str, name: Cell) -> i64 {
        let id = self.id(CUSTOMER);
        let (email, email_cell) = self.optional(format!("billing{id}@example.com"));
        let (phone, phone_cell) = self.optional(format!("+49 30 {id:07}"));
        let (created, created_cell) = self.timestamp();
        let updated_cell = if self.rng.chance(30) {
            Cell::Null
        } else {
            created_cell.clone()
        };
        self.writer.row(
            "customers",
            "id, account_id, name, email, phone, address, tax_id, created_at, updated_at",
            &[
                Cell::Int(id),
                Cell::text(account),
                name,
                email_cell,
                phone_cell,
                Cell::text(format!("{id} Main Street")),
                Cell::Null,
                created_cell,
                updated_cell,
            ],
        );
        self.rows += 1;
        self.field("customers", account, id, "email", email);
        self.field("customers", account, id, "phone", phone);
        self.field(
            "customers",
            account,
            id,
            "created_at",
            Some(utc_millis(created)),
        );
        self.field(
            "customers",
            account,
            id,
            "updated_at",
            Some(utc_millis(created)),
        );
        id
    }

    fn customer(&mut self, account: &str) -> i64 {
        let name = format!("Customer {} of {account}", self.next[CUSTOMER] + 1);
        let id = self.customer_row(account, Cell::text(name));
        self.customers.insert(id, (account.to_owned(), true));
        id
    }

    fn status_text(&mut self, status: &str) -> String {
        let spellings: &[&str] = match status {
            "draft" => &["draft", "DRAFT", "Draft"],
            "issued" => &["issued", "Issued", "SENT", "sent", "overdue", "Overdue"],
            "paid" => &["paid", "PAID", "Paid"],
            _ => &["void", "cancelled", "canceled", "CANCELLED"],
        };
        if self.messy {
            (*self.rng.pick(spellings)).to_owned()
        } else {
            status.to_owned()
        }
    }

    fn method(&mut self) -> (Option<&'static str>, Cell) {
        let choices: &[(Option<&'static str>, &str)] = &[
            (Some("card"), "card"),
            (Some("card"), "Credit Card"),
            (Some("bank_transfer"), "bank_transfer"),
            (Some("bank_transfer"), "Bank Transfer"),
            (Some("bank_transfer"), "wire"),
            (Some("cash"), "CASH"),
            (Some("check"), "cheque"),
            (Some("other"), "Other"),
            (None, ""),
        ];
        let (expected, text) = if self.messy {
            *self.rng.pick(choices)
        } else {
            choices[0]
        };
        (
            expected,
            if text.is_empty() {
                Cell::Null
            } else {
                Cell::text(text)
            },
        )
    }

    /// Writes an invoice with its lines and payments; returns its record.
    #[allow(clippy::too_many_arguments)]
    fn invoice(
        &mut self,
        account: &str,
        customer: i64,
        status: &'static str,
        number: Option<String>,
        currency: Cell,
        issue: Option<Cell>,
        lines: usize,
    ) -> InvoiceRecord {
        let id = self.id(INVOICE);
        let (issue_day, issue_cell) = self.date();
        let issue_cell = issue.unwrap_or(issue_cell);
        let due = issue_day + Duration::days(30);
        let (created, created_cell) = self.timestamp();
        let stored_status = self.status_text(status);
        let number_cell = match &number {
            Some(number) => Cell::text(number.clone()),
            None if self.messy && self.rng.chance(50) => Cell::text(""),
            None => Cell::Null,
        };
        let (notes, notes_cell) = self.optional(format!("Thank you, {account}"));
        self.writer.row(
            "invoices",
            "id, account_id, customer_id, number, status, currency, issue_date, due_date, notes, created_at, updated_at",
            &[
                Cell::Int(id),
                Cell::text(account),
                Cell::Int(customer),
                number_cell,
                Cell::text(stored_status),
                currency,
                issue_cell,
                Cell::text(due.format("%Y-%m-%d").to_string()),
                notes_cell,
                created_cell.clone(),
                created_cell,
            ],
        );
        self.rows += 1;
        self.field("invoices", account, id, "number", number);
        self.field("invoices", account, id, "notes", notes);
        self.field(
            "invoices",
            account,
            id,
            "due_date",
            Some(due.format("%Y-%m-%d").to_string()),
        );
        self.field(
            "invoices",
            account,
            id,
            "created_at",
            Some(utc_millis(created)),
        );

        let mut items = Vec::new();
        for _ in 0..lines {
            let item = self.id(ITEM);
            let quantity = if self.rng.chance(50) {
                1000 * (1 + self.rng.below(5) as i64)
            } else {
                1 + self.rng.below(5000) as i64
            };
            let price = self.rng.below(50_000) as i64;
            let rate = *self.rng.pick(&[0, 700, 1250, 1900, 2000]);
            let quantity_cell = self.amount(quantity, 3);
            let price_cell = self.amount(price, 2);
            let rate_cell = if rate == 0 && self.messy && self.rng.chance(50) {
                Cell::Null
            } else {
                self.amount(rate, 2)
            };
            let (_, created_cell) = self.timestamp();
            self.writer.row(
                "invoice_items",
                "id, invoice_id, description, quantity, unit_price, tax_rate, created_at",
                &[
                    Cell::Int(item),
                    Cell::Int(id),
                    Cell::text(format!("Line {item}")),
                    quantity_cell,
                    price_cell,
                    rate_cell,
                    created_cell,
                ],
            );
            self.rows += 1;
            items.push((item, line_total_cents(quantity, price, rate)));
        }
        let total: i64 = items.iter().map(|(_, cents)| cents).sum();
        // What the payments add up to: everything (paid, and issued-but-
        // settled, which becomes paid), part of it, or nothing.
        let paid = match status {
            "paid" => total,
            "issued" if total > 0 && self.rng.chance(50) => self.rng.below(total as u64) as i64,
            _ => 0,
        };
        let mut payments = Vec::new();
        let mut left = paid;
        while left > 0 {
            let amount = if left > 100 && self.rng.chance(40) {
                left / 2
            } else {
                left
            };
            left -= amount;
            let payment = self.id(PAYMENT);
            let (paid_at, paid_cell) = self.timestamp();
            let (method, method_cell) = self.method();
            let amount_cell = self.amount(amount, 2);
            let reference = self.rng.chance(50).then(|| format!("REF-{payment}"));
            self.writer.row(
                "payments",
                "id, invoice_id, amount, paid_at, method, reference, created_at",
                &[
                    Cell::Int(payment),
                    Cell::Int(id),
                    amount_cell,
                    paid_cell.clone(),
                    method_cell,
                    reference.clone().map_or(Cell::Null, Cell::Text),
                    paid_cell,
                ],
            );
            self.rows += 1;
            self.field(
                "payments",
                account,
                payment,
                "paid_at",
                Some(utc_millis(paid_at)),
            );
            self.field(
                "payments",
                account,
                payment,
                "method",
                method.map(str::to_owned),
            );
            payments.push((payment, amount));
        }
        let expected_status = if status == "issued" && total > 0 && paid == total {
            "paid"
        } else {
            status
        };
        InvoiceRecord {
            account: account.to_owned(),
            id,
            customer,
            items,
            payments,
            status: expected_status,
            error: None,
            missing_currency: false,
        }
    }

    fn regular_invoice(&mut self, account: &str, customer: i64, max_items: usize) {
        let status = *self
            .rng
            .pick(&["draft", "issued", "issued", "paid", "paid", "void"]);
        let lines = 2 + self.rng.below(max_items.saturating_sub(1) as u64) as usize;
        let lines = if status == "paid" || status == "issued" {
            lines
        } else {
            lines.min(3)
        };
        let number = self
            .rng
            .chance(70)
            .then(|| format!("{account}-{}", self.next[INVOICE] + 1));
        let currency = if self.messy && self.rng.chance(20) {
            Cell::text("eur")
        } else {
            Cell::text("EUR")
        };
        let record = self.invoice(account, customer, status, number, currency, None, lines);
        self.invoices.push(record);
    }

    /// One row of every error class (and the rows that go with them).
    fn errors(&mut self, accounts: &[String]) {
        let (a, b) = (accounts[0].clone(), accounts[1].clone());
        let customer_of_a = *self
            .customers
            .iter()
            .find(|(_, (acct, _))| *acct == a)
            .unwrap()
            .0;
        let customer_of_b = *self
            .customers
            .iter()
            .find(|(_, (acct, _))| *acct == b)
            .unwrap()
            .0;

        // An invoice whose account differs from its customer's.
        let mut record = self.invoice(
            &a,
            customer_of_b,
            "issued",
            None,
            Cell::text("EUR"),
            None,
            2,
        );
        record.error = Some(("invoices", record.id, "account_id"));
        self.invoices.push(record);
        // A reference to a missing customer.
        let mut record = self.invoice(&a, 999_999, "draft", None, Cell::text("EUR"), None, 1);
        record.error = Some(("invoices", record.id, "customer_id"));
        self.invoices.push(record);
        // An unparseable date.
        let mut record = self.invoice(
            &a,
            customer_of_a,
            "draft",
            None,
            Cell::text("EUR"),
            Some(Cell::text("31/12/2024")),
            1,
        );
        record.error = Some(("invoices", record.id, "issue_date"));
        self.invoices.push(record);
        // A duplicate number: the lowest id keeps it.
        let number = format!("DUP-{a}");
        let first = self.invoice(
            &a,
            customer_of_a,
            "draft",
            Some(number.clone()),
            Cell::text("EUR"),
            None,
            1,
        );
        self.invoices.push(first);
        let mut second = self.invoice(
            &a,
            customer_of_a,
            "draft",
            Some(number),
            Cell::text("EUR"),
            None,
            2,
        );
        second.error = Some(("invoices", second.id, "number"));
        self.invoices.push(second);
        // A missing currency (importable with --default-currency).
        let mut record = self.invoice(&b, customer_of_b, "issued", None, Cell::Null, None, 2);
        record.missing_currency = true;
        self.invoices.push(record);
        // Marked paid, but not paid in full.
        let mut record = self.invoice(
            &b,
            customer_of_b,
            "issued",
            None,
            Cell::text("EUR"),
            None,
            3,
        );
        self.writer.flush_all();
        self.writer
            .conn
            .batch_execute(&format!(
                "UPDATE invoices SET status = 'PAID' WHERE id = {}",
                record.id
            ))
            .unwrap();
        if record.payments.iter().map(|p| p.1).sum::<i64>()
            < record.items.iter().map(|i| i.1).sum::<i64>()
        {
            record.error = Some(("invoices", record.id, "status"));
        } else {
            record.status = "paid";
        }
        self.invoices.push(record);
        // A negative quantity: its invoice goes with it.
        let mut record = self.invoice(&b, customer_of_b, "draft", None, Cell::text("EUR"), None, 2);
        let bad_item = record.items[0].0;
        self.writer.flush_all();
        self.writer
            .conn
            .batch_execute(&format!(
                "UPDATE invoice_items SET quantity = -2 WHERE id = {bad_item}"
            ))
            .unwrap();
        record.error = Some(("invoice_items", bad_item, "quantity"));
        self.invoices.push(record);
        // An item and a payment of an invoice that does not exist.
        let item = self.id(ITEM);
        self.writer.row(
            "invoice_items",
            "id, invoice_id, description, quantity, unit_price, tax_rate, created_at",
            &[
                Cell::Int(item),
                Cell::Int(888_888),
                Cell::text("orphan"),
                Cell::Int(1),
                Cell::Int(5),
                Cell::Null,
                Cell::Null,
            ],
        );
        self.orphans.push(("invoice_items", item));
        let payment = self.id(PAYMENT);
        self.writer.row(
            "payments",
            "id, invoice_id, amount, paid_at, method, reference, created_at",
            &[
                Cell::Int(payment),
                Cell::Int(888_888),
                Cell::Int(5),
                Cell::text("2024-03-01"),
                Cell::Null,
                Cell::Null,
                Cell::Null,
            ],
        );
        self.orphans.push(("payments", payment));
        self.rows += 2;
        // A customer with an invalid account id, and one without a name, each
        // with an invoice that goes with it.
        let bad_account = "not an account!".to_owned();
        let id = self.customer_row(&bad_account, Cell::text("Nobody"));
        self.customers.insert(id, (bad_account.clone(), false));
        self.customer_errors.push((id, "account_id"));
        let mut record = self.invoice(&bad_account, id, "draft", None, Cell::text("EUR"), None, 1);
        record.error = Some(("invoices", record.id, "account_id"));
        self.invoices.push(record);
        let id = self.customer_row(&a, Cell::text("  "));
        self.customers.insert(id, (a.clone(), false));
        self.customer_errors.push((id, "name"));
        let record = self.invoice(&a, id, "draft", None, Cell::text("EUR"), None, 1);
        self.invoices.push(record);
    }
}

/// Writes a legacy file at `path` following `plan`; returns what importing
/// it must produce (with `default_currency` given or not).
pub fn generate(path: &Path, plan: &Plan) -> Generated {
    let _ = std::fs::remove_file(path);
    let mut conn =
        SqliteConnection::establish(&path.display().to_string()).expect("create the legacy file");
    conn.batch_execute(LEGACY_SCHEMA)
        .expect("create the legacy schema");
    conn.batch_execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT);
         INSERT INTO users (email) VALUES ('admin@legacy.example');
         PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN;",
    )
    .unwrap();
    let mut generator = Generator {
        rng: Rng(plan.seed),
        writer: Writer {
            conn,
            pending: BTreeMap::new(),
        },
        messy: plan.messy,
        next: [0; 4],
        customers: BTreeMap::new(),
        customer_errors: Vec::new(),
        invoices: Vec::new(),
        orphans: Vec::new(),
        fields: Vec::new(),
        rows: 0,
        base: Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap(),
    };
    for account in &plan.accounts {
        let customers: Vec<i64> = (0..plan.customers_per_account)
            .map(|_| generator.customer(account))
            .collect();
        for n in 0..plan.invoices_per_account {
            let customer = customers[n % customers.len()];
            generator.regular_invoice(account, customer, plan.max_items_per_invoice);
        }
    }
    if plan.errors {
        generator.errors(&plan.accounts);
    }
    generator.writer.flush_all();
    generator.writer.conn.batch_execute("COMMIT").unwrap();
    Generated { generator }
}

/// A generated file's facts, from which expectations are derived.
pub struct Generated {
    generator: Generator,
}

impl Generated {
    pub fn rows(&self) -> usize {
        self.generator.rows
    }

    /// What importing the file must produce; `default_currency` as passed
    /// to the importer.
    pub fn expected(&self, default_currency: bool) -> Expected {
        let g = &self.generator;
        let mut expected = Expected {
            rows: g.rows,
            ignored_tables: vec!["sqlite_sequence".into(), "users".into()],
            ..Expected::default()
        };
        let reject = |expected: &mut Expected, table: &str, id: i64| {
            expected.rejected.insert((table.to_owned(), id));
        };
        for (id, column) in &g.customer_errors {
            reject(&mut expected, "customers", *id);
            expected
                .errors
                .insert(("customers".into(), *id, (*column).into()));
        }
        for (id, (account, valid)) in &g.customers {
            if *valid {
                let totals = expected.accounts.entry(account.clone()).or_default();
                totals.customers += 1;
                totals.max_customer = totals.max_customer.max(*id);
            }
        }
        let rejected_customers: BTreeSet<i64> =
            g.customer_errors.iter().map(|(id, _)| *id).collect();
        for invoice in &g.invoices {
            let currency_error = invoice.missing_currency && !default_currency;
            let dependent = rejected_customers.contains(&invoice.customer);
            if invoice.error.is_some() || currency_error || dependent {
                if let Some((table, id, column)) = invoice.error {
                    expected.errors.insert((table.into(), id, column.into()));
                }
                if currency_error {
                    expected
                        .errors
                        .insert(("invoices".into(), invoice.id, "currency".into()));
                }
                reject(&mut expected, "invoices", invoice.id);
                for (id, _) in &invoice.items {
                    reject(&mut expected, "invoice_items", *id);
                }
                for (id, _) in &invoice.payments {
                    reject(&mut expected, "payments", *id);
                }
                continue;
            }
            expected
                .statuses
                .insert(invoice.id, invoice.status.to_owned());
            let totals = expected
                .accounts
                .entry(invoice.account.clone())
                .or_default();
            totals.invoices += 1;
            totals.max_invoice = totals.max_invoice.max(invoice.id);
            for (id, cents) in &invoice.items {
                totals.items += 1;
                totals.max_item = totals.max_item.max(*id);
                totals.items_cents += cents;
            }
            for (id, cents) in &invoice.payments {
                totals.payments += 1;
                totals.max_payment = totals.max_payment.max(*id);
                totals.payments_cents += cents;
            }
        }
        for (table, id) in &g.orphans {
            reject(&mut expected, table, *id);
            expected
                .errors
                .insert(((*table).into(), *id, "invoice_id".into()));
        }
        expected.fields = g
            .fields
            .iter()
            .filter(|field| {
                !expected
                    .rejected
                    .contains(&(field.table.to_owned(), field.id))
            })
            .cloned()
            .collect();
        expected
    }
}

#[test]
fn line_totals_round_each_step_half_away_from_zero() {
    // 1.5 × 0.05 = 0.075 → 0.08; 0.08 × 19 % = 0.0152 → 0.02
    assert_eq!(line_total_cents(1500, 5, 1900), 10);
    // 0.333 × 10.00 = 3.33; × 50 % = 1.665 → 1.67
    assert_eq!(line_total_cents(333, 1000, 5000), 500);
    assert_eq!(cents_text(1205), "12.05");
}
