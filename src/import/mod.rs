//! `invoiced import-sqlite`: moves a legacy SQLite database into the
//! composite-key schema.
//!
//! One pass over the legacy file (read-only, one snapshot) inside one
//! PostgreSQL transaction, as the owner role:
//!
//! 1. accounts: created from the file's distinct account ids; one that
//!    already holds data is refused, or with --replace emptied first;
//! 2. three threads, joined by bounded channels so that memory stays a few
//!    batches whatever the file size: the reader streams customers, then
//!    invoices with their items and payments (three index-ordered scans
//!    merged in invoice order); the decider decides every row and writes the
//!    accepted ones as binary COPY data; the loader COPYs each batch into
//!    its tables meanwhile. A duplicate invoice number stays with the
//!    first invoice in legacy id order that is otherwise importable:
//!    SQLite names the few invoices that share a normalised number up
//!    front, and the decider, which sees invoices in id order and decides
//!    each whole, gives the number to the first of them it accepts;
//! 3. in bulk mode (the owner may set session_replication_role), per-row
//!    triggers are off during the load: the decider claims the invoices'
//!    numbers (the number trigger's work) in the same COPY stream, and
//!    every foreign key is checked set-based before commit; into an empty
//!    target, keys and indexes are built after the load, and the load
//!    inserts in batches (`defer_indexes_and_triggers`).
//!    In every mode the id counters move past the file's highest ids
//!    (rejected rows included);
//! 4. the verification table: rows read, written and rejected, and money in
//!    the source (every row), in the rejected rows and in the database, per
//!    account and table.
//!
//! Then COMMIT and `ANALYZE` (the planner learns the loaded tables' real
//! size), unless rows were rejected without --skip-invalid, the
//! verification found a mismatch, or it is a dry run: then ROLLBACK. Killed
//! at any point, the transaction dies with the connection and the target is
//! unchanged. Legacy ids become the per-account ids, and each account's id
//! counters move past them.

mod copy_binary;
mod legacy;
mod normalize;
mod report;
mod rows;
mod sqlite;

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use bigdecimal::BigDecimal;
use chrono::Utc;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Numeric, Text};

use crate::db::migrations;
use crate::domain::{NumberFormat, NumberReset};
use crate::schema::{customers, document_numbers, invoice_items, invoices, payments};
use copy_binary::Row;
pub use legacy::LegacyError;
use legacy::{KNOWN_TABLES, LegacyCustomer, LegacyDb, LegacyRow, RowBatch};
use report::{Progress, Rejects, Verification};
use rows::{AcceptedInvoice, Context, InvoiceGroup, NumberKey, Reject};

#[derive(Debug, Clone)]
pub struct Options {
    pub file: PathBuf,
    /// The owner role's connection.
    pub database_url: String,
    /// Import the valid rows and write the rejected ones to `rejects`.
    pub skip_invalid: bool,
    pub rejects: PathBuf,
    /// Check everything, write nothing.
    pub dry_run: bool,
    /// Replace the data of accounts that already hold some.
    pub replace: bool,
    /// The currency of invoices that have none.
    pub default_currency: Option<String>,
    /// Keep per-row triggers on even when bulk loading is allowed.
    pub row_triggers: bool,
    /// The imported accounts' invoice number format; each account's
    /// series continues after its highest legacy number of this format.
    pub invoice_number_format: Option<NumberFormat>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Legacy(#[from] LegacyError),
    #[error("could not connect to PostgreSQL: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error(transparent)]
    Migration(#[from] migrations::MigrationError),
    #[error("PostgreSQL refused the import: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error(
        "account(s) {} already hold data; nothing was imported. Pass --replace to replace their data.",
        .0.join(", ")
    )]
    AccountsHaveData(Vec<String>),
    #[error(
        "{rows} row(s) cannot be imported (listed above); nothing was imported. Fix them, or pass \
         --skip-invalid to import the rest and write the rejected rows to a CSV file."
    )]
    InvalidRows { rows: u64 },
    #[error("the verification found mismatches (marked MISMATCH above); nothing was imported")]
    Mismatch,
    #[error(
        "--invoice-number-format {format} has no year, and account(s) {} restart their numbers \
         yearly; nothing was imported",
        .accounts.join(", ")
    )]
    FormatWithoutYear {
        format: String,
        accounts: Vec<String>,
    },
    #[error("{rows} imported row(s) break foreign key {constraint}; nothing was imported")]
    Integrity { constraint: String, rows: i64 },
    /// A later stage of the import stopped (its error is the one
    /// reported), so an earlier one stops too.
    #[error("the import stopped")]
    Stopped,
}

/// How an import ended.
#[derive(Debug, Clone)]
pub struct Summary {
    pub committed: bool,
    pub rows_read: u64,
    pub rows_rejected: u64,
    pub accounts: usize,
    pub seconds: f64,
}

/// The tables a batch holds lines for, in the order they are copied (which
/// is the order their foreign keys need when triggers are on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Customers,
    Invoices,
    /// In bulk mode: the imported invoice numbers, claimed as the invoices'
    /// number trigger would claim them.
    DocumentNumbers,
    Items,
    Payments,
}

impl Table {
    /// How many columns its COPY gives (see `copy_rows`).
    fn columns(self) -> i16 {
        match self {
            Table::Customers => 9,
            Table::Invoices => 11,
            Table::DocumentNumbers => 4,
            Table::Items => 10,
            Table::Payments => 8,
        }
    }
}

const LOAD_ORDER: [Table; 5] = [
    Table::Customers,
    Table::Invoices,
    Table::DocumentNumbers,
    Table::Items,
    Table::Payments,
];

/// The tables an import writes: the four it imports, and the numbers its
/// invoices claim. Into an empty target they load without their keys,
/// indexes and triggers (built back after the load); in bulk mode their
/// foreign keys are checked set-based.
const LOADED_TABLES: [&str; 5] = [
    "customers",
    "invoices",
    "document_numbers",
    "invoice_items",
    "payments",
];

/// How many rows a batch holds before it goes on: from the reading thread
/// to the deciding one, and from there (as COPY data, with per-row triggers
/// on) to the loader.
const BATCH_ROWS: usize = 10_000;
/// How many batches may wait at each of those two hand-overs: what bounds
/// the importer's memory whatever the file size.
const BATCHES_IN_FLIGHT: usize = 3;
/// In bulk mode, how much of one table's COPY data goes to the loader at
/// once (see `Decider::written`).
const CHUNK_BYTES: usize = 1 << 20;

/// Rows of each table, in COPY's binary format.
#[derive(Default)]
struct Batch {
    lines: [Vec<u8>; 5],
    rows: usize,
}

/// What the reader learned, for the verification and the summary.
struct Reading {
    rejects: Rejects,
    verification: Verification,
    rows_read: u64,
    series: Option<SeriesContinuation>,
}

/// `--invoice-number-format`: the highest sequence value among each
/// account's imported numbers of that format, per numbering period (the
/// year, for an account that restarts yearly), where its series goes on.
struct SeriesContinuation {
    format: NumberFormat,
    resets: HashMap<String, NumberReset>,
    highest: HashMap<(String, i32), i64>,
}

impl SeriesContinuation {
    fn note(&mut self, invoice: &crate::models::invoice::Invoice) {
        let Some(sequence) = invoice
            .number
            .as_deref()
            .and_then(|number| self.format.sequence_of(number))
        else {
            return;
        };
        let reset = self
            .resets
            .get(&invoice.account_id)
            .copied()
            .unwrap_or(NumberReset::Never);
        // The date the service would number it by: its issue date.
        let date = invoice
            .issue_date
            .unwrap_or_else(|| invoice.created_at.date_naive());
        let period = crate::numbering::period(reset, date);
        let highest = self
            .highest
            .entry((invoice.account_id.clone(), period))
            .or_default();
        *highest = (*highest).max(sequence);
    }
}

/// The deciding thread's state: it decides every row the reading thread
/// read and batches the accepted ones, as COPY data, for the loader.
struct Decider<'o> {
    default_currency: Option<&'o str>,
    /// Bulk mode: per-row triggers are off, so the invoices' numbers are
    /// claimed here (not by the number trigger), and tables load in chunks
    /// of their own.
    bulk: bool,
    now: chrono::DateTime<Utc>,
    rejects: Rejects,
    verification: Verification,
    rejected_customers: HashSet<i64>,
    /// Invoices that share their number with another (see
    /// `LegacyDb::invoices_sharing_a_number`), and which of them holds
    /// each such number: the first otherwise importable one in legacy id
    /// order, which is the stream's order.
    sharing_a_number: HashSet<i64>,
    number_holders: HashMap<NumberKey, i64>,
    series: Option<SeriesContinuation>,
    batch: Batch,
    loader: SyncSender<Batch>,
    rows_read: u64,
}

impl Decider<'_> {
    /// Starts a row of `table` in the batch (its fields follow).
    fn row(&mut self, table: Table) -> Row<'_> {
        self.batch.rows += 1;
        Row::new(&mut self.batch.lines[table as usize], table.columns())
    }

    /// Hands COPY data to the loader once there is enough. In bulk mode a
    /// table's data goes on its own when it reaches `CHUNK_BYTES`: with the
    /// triggers off, the tables may load in any order, and every COPY
    /// statement costs the server a fixed setup. (A COPY per table every
    /// 10,000 rows made 325 statements for bench/import's file; 1 MiB
    /// chunks make about 90, and the import 0.1–0.2 s faster, at 46 MB.)
    /// With triggers on, a batch carries every table, loaded in
    /// `LOAD_ORDER`, so that each row finds the rows it references.
    fn written(&mut self, table: Table) -> Result<(), ImportError> {
        if self.bulk {
            if self.batch.lines[table as usize].len() >= CHUNK_BYTES {
                // Room for a chunk and its last row, without doubling.
                let next = Vec::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 8);
                let full = std::mem::replace(&mut self.batch.lines[table as usize], next);
                let mut chunk = Batch::default();
                chunk.lines[table as usize] = full;
                self.loader.send(chunk).map_err(|_| ImportError::Stopped)?;
            }
        } else if self.batch.rows >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ImportError> {
        if self.batch.lines.iter().any(|lines| !lines.is_empty()) {
            // The next batch needs about as much: no growing by copies.
            let next = Batch {
                lines: self
                    .batch
                    .lines
                    .each_ref()
                    .map(|lines| Vec::with_capacity(lines.capacity())),
                rows: 0,
            };
            let batch = std::mem::replace(&mut self.batch, next);
            self.loader.send(batch).map_err(|_| ImportError::Stopped)?;
        }
        Ok(())
    }

    fn read_row(&mut self) {
        self.rows_read += 1;
        self.rejects.progress().advance(1);
    }

    fn reject_all(&mut self, rejects: &[Reject]) -> io::Result<()> {
        for reject in rejects {
            self.rejects.record(reject)?;
        }
        Ok(())
    }

    fn customer(&mut self, customer: LegacyCustomer<'_>) -> Result<(), ImportError> {
        match rows::customer(&customer, self.now) {
            Ok(row) => {
                let count = self.verification.entry(Some(&row.account_id), "customers");
                count.read += 1;
                count.written += 1;
                self.row(Table::Customers)
                    .text(&row.account_id)
                    .int8(row.id)
                    .text(&row.name)
                    .optional_text(row.email.as_deref())
                    .optional_text(row.phone.as_deref())
                    .optional_text(row.address.as_deref())
                    .optional_text(row.tax_id.as_deref())
                    .timestamptz(&row.created_at)
                    .timestamptz(&row.updated_at);
                self.written(Table::Customers)
            }
            Err(found) => {
                let account = rows::account_label(&customer.account_id);
                let count = self.verification.entry(account.as_deref(), "customers");
                count.read += 1;
                count.rejected += 1;
                self.rejected_customers.insert(customer.id);
                Ok(self.reject_all(&found)?)
            }
        }
    }

    fn accept(&mut self, accepted: AcceptedInvoice) -> Result<(), ImportError> {
        let invoice = &accepted.invoice;
        if let Some(series) = &mut self.series {
            series.note(invoice);
        }
        let account = invoice.account_id.as_str();
        let count = self.verification.entry(Some(account), "invoices");
        count.read += 1;
        count.written += 1;
        self.row(Table::Invoices)
            .text(account)
            .int8(invoice.id)
            .int8(invoice.customer_id)
            .optional_text(invoice.number.as_deref())
            .text(invoice.status.as_str())
            .text(&invoice.currency)
            .optional_date(invoice.issue_date)
            .optional_date(invoice.due_date)
            .optional_text(invoice.notes.as_deref())
            .timestamptz(&invoice.created_at)
            .timestamptz(&invoice.updated_at);
        self.written(Table::Invoices)?;
        if self.bulk
            && let Some(number) = invoice.number.as_deref()
        {
            self.row(Table::DocumentNumbers)
                .text(account)
                .text(number)
                .text("invoice")
                .int8(invoice.id);
            self.written(Table::DocumentNumbers)?;
        }
        for item in &accepted.items {
            self.row(Table::Items)
                .text(account)
                .int8(item.id)
                .int8(invoice.id)
                .int4(item.position)
                .text(&item.description)
                .decimal(item.quantity.value())
                .decimal(item.unit_price.value())
                .decimal(item.tax_rate.value())
                .timestamptz(&item.created_at)
                // Legacy lines know no category: standard rated when taxed.
                .text(crate::invoicing::default_category(&item.tax_rate).as_str());
            self.written(Table::Items)?;
            let count = self.verification.entry(Some(account), "invoice_items");
            count.read += 1;
            count.written += 1;
            count.source_total += &item.total;
        }
        for payment in &accepted.payments {
            self.row(Table::Payments)
                .text(account)
                .int8(payment.id)
                .int8(invoice.id)
                .decimal(payment.amount.value())
                .timestamptz(&payment.paid_at)
                .optional_text(payment.method.map(|m| m.as_str()))
                .optional_text(payment.reference.as_deref())
                .timestamptz(&payment.created_at);
            self.written(Table::Payments)?;
            let count = self.verification.entry(Some(account), "payments");
            count.read += 1;
            count.written += 1;
            count.source_total += payment.amount.value();
        }
        Ok(())
    }

    fn finish_group(&mut self, group: InvoiceGroup<'_>) -> Result<(), ImportError> {
        let context = Context {
            default_currency: self.default_currency,
            rejected_customers: &self.rejected_customers,
            now: self.now,
        };
        let accepted = match rows::invoice_group(&group, &context) {
            Ok(accepted) => accepted,
            Err(found) => return self.reject_group(&group, &found),
        };
        if self.sharing_a_number.contains(&group.invoice.id)
            && let Some(key) = rows::number_key(&accepted)
        {
            if let Some(&keeper) = self.number_holders.get(&key) {
                return self.reject_group(&group, &rows::duplicate_number(&group, &key.1, keeper));
            }
            self.number_holders.insert(key, group.invoice.id);
        }
        self.accept(accepted)
    }

    /// Counts a rejected invoice with its items and payments (their money
    /// as the source holds it) and records why.
    fn reject_group(
        &mut self,
        group: &InvoiceGroup<'_>,
        found: &[Reject],
    ) -> Result<(), ImportError> {
        let account = found.first().and_then(|r| r.account.clone());
        let count = self.verification.entry(account.as_deref(), "invoices");
        count.read += 1;
        count.rejected += 1;
        let items = self.verification.entry(account.as_deref(), "invoice_items");
        for item in &group.items {
            items.reject(rows::item_money(item));
        }
        let payments = self.verification.entry(account.as_deref(), "payments");
        for payment in &group.payments {
            payments.reject(rows::payment_money(payment));
        }
        Ok(self.reject_all(found)?)
    }

    fn orphan(
        &mut self,
        table: &'static str,
        id: i64,
        invoice_id: &normalize::LegacyValue<'_>,
        money: Option<BigDecimal>,
    ) -> io::Result<()> {
        self.verification.entry(None, table).reject(money);
        self.rejects.record(&rows::orphan(table, id, invoice_id))
    }

    /// Decides every row of every batch, in the order they were read:
    /// customers first (invoices need to know which were rejected), then
    /// the invoice stream. A batch ends where an invoice starts, so each
    /// invoice is decided with all of its rows.
    fn decide(mut self, batches: Receiver<RowBatch>) -> Result<Reading, ImportError> {
        self.rejects.progress().stage("customers");
        let mut in_invoices = false;
        for batch in batches {
            let mut current: Option<InvoiceGroup<'_>> = None;
            for row in batch.rows() {
                self.read_row();
                if !in_invoices && !matches!(row, LegacyRow::Customer(_)) {
                    in_invoices = true;
                    self.rejects.progress().stage("invoices");
                }
                match row {
                    LegacyRow::Customer(customer) => self.customer(customer)?,
                    LegacyRow::Invoice(invoice) => {
                        if let Some(group) = current.take() {
                            self.finish_group(group)?;
                        }
                        current = Some(InvoiceGroup {
                            invoice,
                            items: Vec::new(),
                            payments: Vec::new(),
                        });
                    }
                    LegacyRow::Item(item) => match &mut current {
                        Some(group) if group.owns(&item.invoice_id) => group.items.push(item),
                        _ => self.orphan(
                            "invoice_items",
                            item.id,
                            &item.invoice_id,
                            rows::item_money(&item),
                        )?,
                    },
                    LegacyRow::Payment(payment) => match &mut current {
                        Some(group) if group.owns(&payment.invoice_id) => {
                            group.payments.push(payment)
                        }
                        _ => self.orphan(
                            "payments",
                            payment.id,
                            &payment.invoice_id,
                            rows::payment_money(&payment),
                        )?,
                    },
                }
            }
            if let Some(group) = current.take() {
                self.finish_group(group)?;
            }
        }
        self.flush()?;
        Ok(Reading {
            rejects: self.rejects,
            verification: self.verification,
            rows_read: self.rows_read,
            series: self.series,
        })
    }
}

/// COPYs one table's rows of a batch, in the binary format; `freeze` when
/// the table was truncated in this transaction (see
/// `defer_indexes_and_triggers`).
fn copy_rows(
    conn: &mut PgConnection,
    table: Table,
    rows: &[u8],
    freeze: bool,
) -> Result<(), ImportError> {
    let write = |out: &mut dyn Write| -> Result<(), ImportError> {
        out.write_all(copy_binary::HEADER)?;
        out.write_all(rows)?;
        Ok(out.write_all(copy_binary::TRAILER)?)
    };
    // One COPY statement per table, its columns in the order `Decider`
    // writes them.
    macro_rules! copy_into {
        ($table:ident: $($column:ident),+) => {
            diesel::copy_from($table::table)
                .from_raw_data(($($table::$column,)+), write)
                .with_format(diesel::pg::CopyFormat::Binary)
                .with_freeze(freeze)
                .execute(conn)?
        };
    }
    match table {
        Table::Customers => copy_into!(customers: account_id, id, name, email, phone, address,
            tax_id, created_at, updated_at),
        Table::Invoices => copy_into!(invoices: account_id, id, customer_id, number, status,
            currency, issue_date, due_date, notes, created_at, updated_at),
        Table::DocumentNumbers => {
            copy_into!(document_numbers: account_id, number, kind, document_id)
        }
        Table::Items => copy_into!(invoice_items: account_id, id, invoice_id, position,
            description, quantity, unit_price, tax_rate, created_at, tax_category),
        Table::Payments => copy_into!(payments: account_id, id, invoice_id, amount, paid_at,
            method, reference, created_at),
    };
    Ok(())
}

/// Turns per-row triggers off for this transaction (foreign key checks and
/// the id-counter triggers: done set-based after the load instead), when
/// the role may; returns whether it could.
fn enter_bulk_mode(conn: &mut PgConnection) -> QueryResult<bool> {
    conn.batch_execute("SAVEPOINT bulk_mode")?;
    match conn.batch_execute("SET LOCAL session_replication_role = replica") {
        Ok(()) => {
            conn.batch_execute("RELEASE SAVEPOINT bulk_mode")?;
            Ok(true)
        }
        Err(_) => {
            conn.batch_execute("ROLLBACK TO SAVEPOINT bulk_mode; RELEASE SAVEPOINT bulk_mode")?;
            Ok(false)
        }
    }
}

/// Moves every imported account's id counters past the highest legacy id
/// of each table, imported or rejected: legacy ids were unique across the
/// whole file, and the rejects CSV names them, so none may be handed to a
/// new row, in this account or another (the statement triggers have
/// already done as much for the rows they saw, when they were on).
fn advance_id_counters(
    conn: &mut PgConnection,
    accounts: &[String],
    legacy_max_ids: &[i64; 4],
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO id_counters AS counter (account_id, table_name, last_id)
         SELECT account_id, max.table_name, max.last_id
         FROM unnest($1::text[]) AS account_id,
              unnest($2::text[], $3::bigint[]) AS max (table_name, last_id)
         WHERE max.last_id > 0
         ON CONFLICT (account_id, table_name)
             DO UPDATE SET last_id = greatest(counter.last_id, excluded.last_id)",
    )
    .bind::<Array<Text>, _>(accounts)
    .bind::<Array<Text>, _>(KNOWN_TABLES.to_vec())
    .bind::<Array<BigInt>, _>(legacy_max_ids.to_vec())
    .execute(conn)?;
    Ok(())
}

/// `--invoice-number-format`: sets it on the imported accounts and moves
/// each series past its highest imported number of that format (raised,
/// never lowered, as `set_next_document_sequence` would).
fn continue_number_series(
    conn: &mut PgConnection,
    accounts: &[String],
    series: &SeriesContinuation,
) -> QueryResult<()> {
    diesel::sql_query("UPDATE accounts SET invoice_number_format = $2 WHERE id = ANY($1)")
        .bind::<Array<Text>, _>(accounts)
        .bind::<Text, _>(series.format.as_str())
        .execute(conn)?;
    let (mut owners, mut periods, mut highest) = (Vec::new(), Vec::new(), Vec::new());
    for ((account, period), sequence) in &series.highest {
        owners.push(account.clone());
        periods.push(*period);
        highest.push(*sequence);
    }
    diesel::sql_query(
        "INSERT INTO number_sequences AS s (account_id, series, period, next_value, last_used)
         SELECT account_id, 'invoice', period, last_used + 1, last_used
         FROM unnest($1::text[], $2::integer[], $3::bigint[]) AS t (account_id, period, last_used)
         ON CONFLICT (account_id, series, period) DO UPDATE
             SET next_value = greatest(s.next_value, excluded.next_value),
                 last_used = greatest(s.last_used, excluded.last_used)",
    )
    .bind::<Array<Text>, _>(owners)
    .bind::<Array<diesel::sql_types::Integer>, _>(periods)
    .bind::<Array<BigInt>, _>(highest)
    .execute(conn)?;
    Ok(())
}

#[derive(QueryableByName)]
struct AccountReset {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    number_reset: NumberReset,
}

/// How each of the accounts restarts its numbers.
fn number_resets(
    conn: &mut PgConnection,
    accounts: &[String],
) -> QueryResult<HashMap<String, NumberReset>> {
    let rows: Vec<AccountReset> =
        diesel::sql_query("SELECT id, number_reset FROM accounts WHERE id = ANY($1)")
            .bind::<Array<Text>, _>(accounts)
            .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| (row.id, row.number_reset))
        .collect())
}

/// The tables analysed each on a connection of its own after the commit;
/// the main connection takes the small ones meanwhile.
const ANALYZED_APART: [&str; 4] = ["invoice_items", "invoices", "payments", "customers"];

/// The connections `analyze_loaded` uses, opened while the import runs:
/// each costs a backend start and a password exchange, which would
/// otherwise come after the commit. Dropping it (an import that does not
/// commit) waits for them and closes them, so none outlives `run`.
struct AnalyzeConnections(Vec<std::thread::JoinHandle<ConnectionResult<PgConnection>>>);

impl AnalyzeConnections {
    fn open(database_url: &str) -> Self {
        Self(
            ANALYZED_APART
                .iter()
                .map(|_| {
                    let url = database_url.to_owned();
                    std::thread::spawn(move || PgConnection::establish(&url))
                })
                .collect(),
        )
    }

    /// One per table of `ANALYZED_APART`: `None` where it did not open.
    fn take(mut self) -> Vec<Option<PgConnection>> {
        std::mem::take(&mut self.0)
            .into_iter()
            .map(|opening| opening.join().ok().and_then(Result::ok))
            .collect()
    }
}

impl Drop for AnalyzeConnections {
    fn drop(&mut self) {
        for opening in self.0.drain(..) {
            let _ = opening.join();
        }
    }
}

/// Fresh statistics for what was loaded: without them the planner guesses
/// from empty tables, and `verify`'s joins over a freshly imported
/// database ran for minutes instead of seconds. After the commit, so the
/// tables are analysed side by side. The side connections only save time:
/// a table whose connection did not open (a server or database at its
/// connection limit, say) is analysed on `conn`, so that an import that
/// has committed does not then fail for want of one.
fn analyze_loaded(
    conn: &mut PgConnection,
    connections: AnalyzeConnections,
) -> Result<(), ImportError> {
    std::thread::scope(|scope| {
        let mut on_conn = vec!["id_counters", "document_numbers", "number_sequences"];
        let mut apart = Vec::new();
        for (table, opened) in ANALYZED_APART.into_iter().zip(connections.take()) {
            match opened {
                Some(mut own) => {
                    apart.push(scope.spawn(move || own.batch_execute(&format!("ANALYZE {table}"))))
                }
                None => on_conn.push(table),
            }
        }
        conn.batch_execute(&format!("ANALYZE {}", on_conn.join(", ")))?;
        for analyzed in apart {
            analyzed.join().map_err(|_| ImportError::Stopped)??;
        }
        Ok(())
    })
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
    #[diesel(sql_type = Array<Text>)]
    child_columns: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    parent_columns: Vec<String>,
}

/// What the foreign keys' triggers check row by row, for every row of the
/// imported accounts at once: each key, as the catalog defines it (so a key
/// added later is checked too), by one anti-join.
fn check_foreign_keys(conn: &mut PgConnection, accounts: &[String]) -> Result<(), ImportError> {
    // Whole-table checks of rows with no statistics yet: hashing beats a
    // probe per row, which is what the planner would otherwise pick.
    conn.batch_execute("SET LOCAL enable_nestloop = off; SET LOCAL work_mem = '64MB'")?;
    let keys: Vec<ForeignKey> = diesel::sql_query(
        "SELECT con.conname::text AS name, c.relname::text AS child, p.relname::text AS parent,
                array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i) AS child_columns,
                array(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) AS parent_columns
         FROM pg_constraint con
         JOIN pg_class c ON c.oid = con.conrelid
         JOIN pg_class p ON p.oid = con.confrelid
         WHERE con.contype = 'f' AND c.relname = ANY($1)",
    )
    .bind::<Array<Text>, _>(LOADED_TABLES.to_vec())
    .load(conn)?;
    for key in keys {
        let matches: Vec<String> = key
            .child_columns
            .iter()
            .zip(&key.parent_columns)
            .map(|(child, parent)| format!("y.\"{parent}\" = x.\"{child}\""))
            .collect();
        let present: Vec<String> = key
            .child_columns
            .iter()
            .map(|c| format!("x.\"{c}\" IS NOT NULL"))
            .collect();
        let dangling: Count = diesel::sql_query(format!(
            "SELECT count(*) AS count FROM \"{child}\" x
             WHERE x.account_id = ANY($1) AND {present}
               AND NOT EXISTS (SELECT 1 FROM \"{parent}\" y WHERE {matches})",
            child = key.child,
            parent = key.parent,
            present = present.join(" AND "),
            matches = matches.join(" AND "),
        ))
        .bind::<Array<Text>, _>(accounts)
        .get_result(conn)?;
        if dangling.count > 0 {
            return Err(ImportError::Integrity {
                constraint: key.name,
                rows: dangling.count,
            });
        }
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct AccountName {
    #[diesel(sql_type = Text)]
    account_id: String,
}

#[derive(QueryableByName)]
struct Loaded {
    #[diesel(sql_type = Text)]
    account_id: String,
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = Numeric)]
    total: BigDecimal,
}

#[derive(QueryableByName)]
struct Definition {
    #[diesel(sql_type = Text)]
    drop: String,
    #[diesel(sql_type = Text)]
    create: String,
}

/// Constraints of the types `$2` on the tables `$1`, and the foreign keys
/// of other tables that point into them: how to drop each and add it back.
const CONSTRAINT_DEFINITIONS: &str = "
    SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', con.conrelid::regclass, con.conname) AS drop,
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', con.conrelid::regclass, con.conname,
                  pg_get_constraintdef(con.oid)) AS create
    FROM pg_constraint con
    WHERE con.contype::text = ANY($2)
      AND (con.conrelid::regclass::text = ANY($1)
           OR (con.contype = 'f' AND con.confrelid::regclass::text = ANY($1)))
    ORDER BY con.conrelid::regclass::text, con.conname";

/// The indexes of the tables `$1` that back no constraint.
const INDEX_DEFINITIONS: &str = "
    SELECT format('DROP INDEX %s', i.indexrelid::regclass) AS drop,
           pg_get_indexdef(i.indexrelid) AS create
    FROM pg_index i
    WHERE i.indrelid::regclass::text = ANY($1)
      AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
    ORDER BY i.indexrelid::regclass::text";

/// The BEFORE ROW INSERT triggers of the tables `$1` (tgtype bits: row 1,
/// before 2, insert 4) that do not fire in bulk mode: enabled for the
/// origin only (`O`, the default) or disabled (`D`). One enabled ALWAYS or
/// REPLICA fires even under `session_replication_role = replica`, so it
/// stays, and its table loads row by row as before. How to drop each and
/// create it back as it was, with its state and comment, which
/// `pg_get_triggerdef` leaves out. Triggers of a kind fire in name order,
/// so creating them back in any order keeps theirs.
const TRIGGER_DEFINITIONS: &str = "
    SELECT format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass) AS drop,
           pg_get_triggerdef(t.oid)
           || CASE WHEN t.tgenabled = 'D'
                   THEN format('; ALTER TABLE %s DISABLE TRIGGER %I', t.tgrelid::regclass, t.tgname)
                   ELSE '' END
           || CASE WHEN obj_description(t.oid, 'pg_trigger') IS NULL THEN ''
                   ELSE format('; COMMENT ON TRIGGER %I ON %s IS %L', t.tgname, t.tgrelid::regclass,
                               obj_description(t.oid, 'pg_trigger')) END AS create
    FROM pg_trigger t
    WHERE t.tgrelid::regclass::text = ANY($1) AND NOT t.tgisinternal AND t.tgtype & 7 = 7
      AND t.tgenabled IN ('O', 'D')
    ORDER BY t.tgrelid::regclass::text, t.tgname";

/// Whether no tenant has any row in the loaded tables (anywhere: the
/// indexes set aside are the whole table's), checked under a SHARE lock so
/// that none can arrive before `defer_indexes_and_triggers` takes the
/// tables. When they hold rows, or someone is writing to them (NOWAIT: the
/// import never queues behind the service), the lock is given back at once
/// (its savepoint is rolled back) and the service keeps writing during the
/// import.
fn lock_empty_target(conn: &mut PgConnection) -> QueryResult<bool> {
    conn.batch_execute("SAVEPOINT empty_target")?;
    let locked = conn.batch_execute(&format!(
        "LOCK TABLE {} IN SHARE MODE NOWAIT",
        LOADED_TABLES.join(", ")
    ));
    let empty = match locked {
        Ok(()) => {
            let any_row = LOADED_TABLES.map(|table| format!("(SELECT 1 FROM {table} LIMIT 1)"));
            let found: Count = diesel::sql_query(format!(
                "SELECT count(*) AS count FROM ({}) AS any_row",
                any_row.join(" UNION ALL ")
            ))
            .get_result(conn)?;
            found.count == 0
        }
        Err(_) => false,
    };
    conn.batch_execute(if empty {
        "RELEASE SAVEPOINT empty_target"
    } else {
        "ROLLBACK TO SAVEPOINT empty_target; RELEASE SAVEPOINT empty_target"
    })?;
    Ok(empty)
}

/// The fast path into an empty target: drops the loaded tables' keys,
/// unique constraints, indexes and every foreign key on or into them, so
/// that COPY only appends; `restore_deferred` builds them back afterwards
/// in the same transaction, each in one sort instead of row by row, and
/// re-adding a foreign key checks every row against it. Taken from the
/// catalog (`pg_get_constraintdef`, `pg_get_indexdef`,
/// `pg_get_triggerdef`), so whatever a later migration adds comes back as
/// it was. The tables stay locked (ACCESS EXCLUSIVE) until commit; into an
/// empty target nothing waits on them.
///
/// Their BEFORE ROW INSERT triggers that bulk mode keeps from firing are
/// set aside too (the importer gives every id and default itself):
/// PostgreSQL's COPY inserts row by row into a table that has any such
/// trigger, even one that does not fire, and in batches into one that has
/// none. That is a tenth of the load, and batched inserts of frozen rows
/// also mark each page all-visible as they write it.
///
/// Then the (empty) tables are truncated: they get new files in this
/// transaction, which lets COPY FREEZE write every row already frozen, as
/// VACUUM FREEZE would leave it. Index builds and ANALYZE then skip
/// per-row visibility work, and nothing has to set hint bits or freeze the
/// rows later (autovacuum would otherwise rewrite every page of a large
/// import some time after it). Killed or rolled back, all of it is undone
/// with the rest.
///
/// Returns the statements that put them back, in order: keys and unique
/// constraints, the other indexes, the foreign keys (which need the keys),
/// then the triggers.
fn defer_indexes_and_triggers(conn: &mut PgConnection) -> QueryResult<Vec<String>> {
    let constraints = |conn: &mut PgConnection, types: &[&str]| {
        diesel::sql_query(CONSTRAINT_DEFINITIONS)
            .bind::<Array<Text>, _>(LOADED_TABLES.to_vec())
            .bind::<Array<Text>, _>(types.to_vec())
            .load::<Definition>(conn)
    };
    let foreign = constraints(conn, &["f"])?;
    let keys = constraints(conn, &["p", "u"])?;
    let indexes: Vec<Definition> = diesel::sql_query(INDEX_DEFINITIONS)
        .bind::<Array<Text>, _>(LOADED_TABLES.to_vec())
        .load(conn)?;
    let triggers: Vec<Definition> = diesel::sql_query(TRIGGER_DEFINITIONS)
        .bind::<Array<Text>, _>(LOADED_TABLES.to_vec())
        .load(conn)?;
    for definition in foreign.iter().chain(&keys).chain(&indexes).chain(&triggers) {
        conn.batch_execute(&definition.drop)?;
    }
    // No foreign key points into them any more, so they may be truncated.
    conn.batch_execute(&format!("TRUNCATE {}", LOADED_TABLES.join(", ")))?;
    Ok(keys
        .into_iter()
        .chain(indexes)
        .chain(foreign)
        .chain(triggers)
        .map(|definition| definition.create)
        .collect())
}

/// Builds back what `defer_indexes_and_triggers` set aside.
fn restore_deferred(conn: &mut PgConnection, statements: &[String]) -> QueryResult<()> {
    // Index builds sort in memory up to this, per index.
    conn.batch_execute("SET LOCAL maintenance_work_mem = '256MB'")?;
    for statement in statements {
        let started = Instant::now();
        conn.batch_execute(statement)?;
        log::debug!("{statement}: {:.3} s", started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// Accounts of the file that already hold data in the target.
fn accounts_with_data(conn: &mut PgConnection, accounts: &[String]) -> QueryResult<Vec<String>> {
    let rows: Vec<AccountName> = diesel::sql_query(
        "SELECT account_id FROM customers WHERE account_id = ANY($1)
         UNION SELECT account_id FROM invoices WHERE account_id = ANY($1)
         ORDER BY 1",
    )
    .bind::<Array<Text>, _>(accounts)
    .load(conn)?;
    Ok(rows.into_iter().map(|row| row.account_id).collect())
}

/// Deletes the accounts' data (`--replace`): what the import brings, and
/// what hangs on it (documents, credit notes, numbers). Their events, the
/// audit trail, stay, as do their webhook endpoints and API keys.
fn empty_accounts(conn: &mut PgConnection, accounts: &[String]) -> QueryResult<()> {
    for table in [
        "documents",
        "credit_note_taxes",
        "credit_note_lines",
        "credit_notes",
        "payments",
        "invoice_items",
        "invoices",
        "customers",
        "idempotency_keys",
        "document_numbers",
    ] {
        diesel::sql_query(format!("DELETE FROM {table} WHERE account_id = ANY($1)"))
            .bind::<Array<Text>, _>(accounts)
            .execute(conn)?;
    }
    Ok(())
}

/// What the database holds for the imported accounts, into the table.
/// (The lines' money is summed column by column: one numeric addition per
/// account rather than one per line; a group always has rows, so neither
/// sum is NULL.)
fn count_loaded(
    conn: &mut PgConnection,
    accounts: &[String],
    verification: &mut Verification,
) -> QueryResult<()> {
    let rows: Vec<Loaded> = diesel::sql_query(
        "SELECT account_id, 'customers' AS table_name, count(*) AS rows, 0::numeric AS total
           FROM customers WHERE account_id = ANY($1) GROUP BY account_id
         UNION ALL
         SELECT account_id, 'invoices', count(*), 0 FROM invoices WHERE account_id = ANY($1) GROUP BY account_id
         UNION ALL
         SELECT account_id, 'invoice_items', count(*), sum(subtotal) + sum(tax)
           FROM invoice_items WHERE account_id = ANY($1) GROUP BY account_id
         UNION ALL
         SELECT account_id, 'payments', count(*), coalesce(sum(amount), 0)
           FROM payments WHERE account_id = ANY($1) GROUP BY account_id",
    )
    .bind::<Array<Text>, _>(accounts)
    .load(conn)?;
    for row in rows {
        let table = report::TABLES
            .into_iter()
            .find(|t| *t == row.table_name)
            .expect("the query names only these tables");
        let count = verification.entry(Some(&row.account_id), table);
        count.target_rows = row.rows as u64;
        count.target_total = row.total;
    }
    Ok(())
}

/// How long each phase of an import took, logged at debug level
/// (`RUST_LOG=invoiced::import=debug`): where an import spends its time.
struct Phases {
    last: Instant,
}

impl Phases {
    fn new() -> Self {
        Self {
            last: Instant::now(),
        }
    }

    fn done(&mut self, phase: &str) {
        let now = Instant::now();
        log::debug!(
            "{phase}: {:.3} s",
            now.duration_since(self.last).as_secs_f64()
        );
        self.last = now;
    }
}

/// What the importer learns from the legacy file before reading its rows.
struct Survey {
    /// Tables the importer does not know.
    ignored: Vec<String>,
    total_rows: u64,
    /// The file's accounts, normalised (`acme` and `acme ` are one).
    accounts: Vec<String>,
    sharing_a_number: HashSet<i64>,
    legacy_max_ids: [i64; 4],
}

impl Survey {
    fn take(legacy: &mut LegacyDb) -> Result<Self, ImportError> {
        let sizes = legacy.sizes()?;
        let mut accounts: Vec<String> = legacy
            .account_ids()?
            .iter()
            .filter_map(|value| crate::domain::AccountId::parse(value).ok())
            .map(|id| id.as_str().to_owned())
            .collect();
        accounts.sort();
        accounts.dedup();
        Ok(Self {
            ignored: legacy.unknown_tables(),
            total_rows: sizes.iter().map(|(rows, _)| *rows as u64).sum(),
            accounts,
            sharing_a_number: legacy.invoices_sharing_a_number()?,
            legacy_max_ids: sizes.map(|(_, highest)| highest),
        })
    }
}

/// Runs the import; prints the ignored tables and the verification table to
/// `out`, rejected rows to stderr or the rejects file.
pub fn run(options: &Options, out: &mut dyn Write) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let mut phases = Phases::new();
    let now = Utc::now();
    let mut legacy = LegacyDb::open(&options.file)?;
    // The survey of the file and the migrations of the target, side by
    // side: neither needs the other.
    let (survey, connected) = std::thread::scope(|scope| {
        let survey = scope.spawn(|| Survey::take(&mut legacy));
        let connected = (|| -> Result<_, ImportError> {
            let mut conn = PgConnection::establish(&options.database_url)?;
            let applied = migrations::run_pending(&mut conn)?;
            Ok((conn, applied))
        })();
        (
            survey.join().unwrap_or(Err(ImportError::Stopped)),
            connected,
        )
    });
    let Survey {
        ignored,
        total_rows,
        accounts,
        sharing_a_number,
        legacy_max_ids,
    } = survey?;
    let (mut conn, applied) = connected?;
    if !ignored.is_empty() {
        writeln!(
            out,
            "ignored tables the importer does not know: {}",
            ignored.join(", ")
        )?;
    }
    for name in applied {
        writeln!(out, "applied migration {name}")?;
    }
    let rejects_csv =
        (options.skip_invalid && !options.dry_run).then_some(options.rejects.as_path());
    let rejects = Rejects::new(rejects_csv, Progress::new(total_rows))?;
    phases.done("surveying the legacy file, and connecting and migrating");

    let analyze_connections =
        (!options.dry_run).then(|| AnalyzeConnections::open(&options.database_url));
    conn.batch_execute("BEGIN")?;
    let loaded = (|| -> Result<(Reading, bool), ImportError> {
        let holding = accounts_with_data(&mut conn, &accounts)?;
        if !holding.is_empty() {
            if !options.replace {
                return Err(ImportError::AccountsHaveData(holding));
            }
            empty_accounts(&mut conn, &holding)?;
        }
        diesel::sql_query("INSERT INTO accounts (id, name) SELECT id, id FROM unnest($1::text[]) AS id ON CONFLICT DO NOTHING")
            .bind::<Array<Text>, _>(&accounts)
            .execute(&mut conn)?;
        // Every row the import references is new in this transaction (so no
        // one else can delete it) or one of these accounts: hold them.
        diesel::sql_query("SELECT 1 FROM accounts WHERE id = ANY($1) FOR KEY SHARE")
            .bind::<Array<Text>, _>(&accounts)
            .execute(&mut conn)?;
        let series = match &options.invoice_number_format {
            Some(format) => {
                let resets = number_resets(&mut conn, &accounts)?;
                let yearly: Vec<String> = resets
                    .iter()
                    .filter(|(_, reset)| format.check_reset(**reset).is_err())
                    .map(|(account, _)| account.clone())
                    .collect();
                if !yearly.is_empty() {
                    return Err(ImportError::FormatWithoutYear {
                        format: format.to_string(),
                        accounts: yearly,
                    });
                }
                Some(SeriesContinuation {
                    format: format.clone(),
                    resets,
                    highest: HashMap::new(),
                })
            }
            None => None,
        };
        let bulk = !options.row_triggers && enter_bulk_mode(&mut conn)?;
        let deferred = if bulk && lock_empty_target(&mut conn)? {
            writeln!(
                out,
                "the target is empty: rows are loaded frozen, keys and indexes built after the load"
            )?;
            Some(defer_indexes_and_triggers(&mut conn)?)
        } else {
            None
        };
        if bulk {
            writeln!(
                out,
                "loading in bulk: per-row triggers off, foreign keys checked set-based before commit"
            )?;
        } else if options.row_triggers {
            writeln!(out, "loading with per-row triggers (--row-triggers)")?;
        } else {
            writeln!(
                out,
                "loading with per-row triggers (slower; to load in bulk, grant SET ON PARAMETER \
                 session_replication_role to the owner: PostgreSQL 15+, see setup_postgres.sql)"
            )?;
        }
        phases.done("preparing the target");
        // Three stages, each on its own thread: reading SQLite, deciding
        // rows (and writing their COPY data), loading into PostgreSQL; the
        // bounded channels between them keep memory to a few batches.
        let (read_rows, rows_to_decide) = sync_channel::<RowBatch>(BATCHES_IN_FLIGHT);
        let (decided, batches) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let decider = Decider {
            default_currency: options.default_currency.as_deref(),
            bulk,
            now,
            rejects,
            verification: Verification::default(),
            rejected_customers: HashSet::new(),
            sharing_a_number,
            number_holders: HashMap::new(),
            series,
            batch: Batch::default(),
            loader: decided,
            rows_read: 0,
        };
        let (reading, deciding, loading) = std::thread::scope(|scope| {
            let reading = scope.spawn(move || {
                legacy.read(BATCH_ROWS, |batch| {
                    read_rows.send(batch).map_err(|_| ImportError::Stopped)
                })
            });
            let deciding = scope.spawn(move || decider.decide(rows_to_decide));
            let frozen = deferred.is_some();
            let loading = (|| -> Result<(), ImportError> {
                let mut copying = std::time::Duration::ZERO;
                for batch in &batches {
                    let started = Instant::now();
                    for table in LOAD_ORDER {
                        let lines = &batch.lines[table as usize];
                        if !lines.is_empty() {
                            copy_rows(&mut conn, table, lines, frozen)?;
                        }
                    }
                    copying += started.elapsed();
                }
                log::debug!("of which COPY: {:.3} s", copying.as_secs_f64());
                Ok(())
            })();
            // Dropping the receiver stops the stages before it.
            drop(batches);
            let deciding = deciding.join().unwrap_or(Err(ImportError::Stopped));
            let reading = reading.join().unwrap_or(Err(ImportError::Stopped));
            (reading, deciding, loading)
        });
        // A stage that failed stops the ones before it (which then answer
        // `Stopped`) and ends the input of the ones after it: the loader's
        // error explains the others, then the decider's (the reader only
        // stops for it), then the reader's (the decider saw its input end
        // early and must not be taken for complete).
        loading?;
        let mut reading = match (deciding, reading) {
            (Err(error), _) | (Ok(_), Err(error)) => return Err(error),
            (Ok(reading), Ok(())) => reading,
        };
        phases.done("reading and loading");
        match &deferred {
            // Adding the foreign keys back checked every row.
            Some(deferred) => restore_deferred(&mut conn, deferred)?,
            None if bulk => check_foreign_keys(&mut conn, &accounts)?,
            None => {}
        }
        phases.done("keys, indexes and foreign keys");
        advance_id_counters(&mut conn, &accounts, &legacy_max_ids)?;
        if let Some(series) = &reading.series {
            continue_number_series(&mut conn, &accounts, series)?;
        }
        count_loaded(&mut conn, &accounts, &mut reading.verification)?;
        phases.done("counters and the verification counts");
        Ok((reading, bulk))
    })();
    let (outcome, verification, rows_read, rejected) = match loaded {
        Ok((reading, _)) => {
            let mut progress = reading.rejects.finish()?;
            progress.finish();
            let rejected = reading
                .verification
                .counts()
                .map(|(_, _, c)| c.rejected)
                .sum::<u64>();
            let outcome = if !reading.verification.mismatches().is_empty() {
                Err(ImportError::Mismatch)
            } else if rejected > 0 && !options.skip_invalid {
                Err(ImportError::InvalidRows { rows: rejected })
            } else {
                Ok(progress.rows_per_second())
            };
            (
                outcome,
                Some(reading.verification),
                reading.rows_read,
                rejected,
            )
        }
        Err(error) => (Err(error), None, 0, 0),
    };
    let commit = outcome.is_ok() && !options.dry_run;
    // A failed COPY leaves the transaction aborted: ROLLBACK is all it takes.
    conn.batch_execute(if commit { "COMMIT" } else { "ROLLBACK" })?;
    phases.done("commit");
    if let Some(connections) = analyze_connections.filter(|_| commit) {
        // After the commit, not inside the transaction: statistics taken in
        // it would be counted against the rows it then commits
        // (n_mod_since_analyze), so autovacuum would analyze all again.
        analyze_loaded(&mut conn, connections)?;
        phases.done("analyze");
    }
    if let Some(verification) = &verification {
        writeln!(out, "\nverification:")?;
        verification.print(out, commit)?;
    }
    let rate = outcome?;

    let seconds = started.elapsed().as_secs_f64();
    if commit {
        writeln!(
            out,
            "\nimported {} of {rows_read} rows into {} account(s) in {seconds:.1} s ({rate:.0} rows/s)",
            rows_read - rejected,
            accounts.len()
        )?;
        if options.skip_invalid && rejected > 0 {
            writeln!(
                out,
                "{rejected} rejected row(s) are listed in {}",
                options.rejects.display()
            )?;
        }
        let keyless = accounts_without_keys(&mut conn, &accounts)?;
        if !keyless.is_empty() {
            writeln!(
                out,
                "\n{} account(s) have no API key yet, so no client can reach them: create one \
                 for each with\n  invoiced api-keys create --account ACCOUNT --name NAME\n\
                 (accounts created by the import are named by their id: rename one with \
                 PATCH /admin/accounts/ACCOUNT). Without a key: {}",
                keyless.len(),
                abbreviated(&keyless, 10)
            )?;
        }
    } else {
        writeln!(
            out,
            "\ndry run: everything was checked and nothing was written"
        )?;
    }
    Ok(Summary {
        committed: commit,
        rows_read,
        rows_rejected: rejected,
        accounts: accounts.len(),
        seconds,
    })
}

/// The accounts with no key that is not revoked.
fn accounts_without_keys(conn: &mut PgConnection, accounts: &[String]) -> QueryResult<Vec<String>> {
    let rows: Vec<AccountName> = diesel::sql_query(
        "SELECT imported AS account_id FROM unnest($1::text[]) AS imported
         WHERE NOT EXISTS (
             SELECT 1 FROM api_keys k WHERE k.account_id = imported AND k.revoked_at IS NULL)
         ORDER BY 1",
    )
    .bind::<Array<Text>, _>(accounts)
    .load(conn)?;
    Ok(rows.into_iter().map(|row| row.account_id).collect())
}

/// The first `n` names, and how many more there are.
fn abbreviated(names: &[String], n: usize) -> String {
    let shown = names[..names.len().min(n)].join(", ");
    match names.len().saturating_sub(n) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}
