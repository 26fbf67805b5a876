//! Reading the legacy SQLite file: read-only, in one read transaction (one
//! consistent snapshot, even while the old application writes), streamed
//! in batches of rows.
//!
//! Every value is read as its storage class and its text (what
//! `CAST(x AS TEXT)` gives), never through a numeric type, which would go
//! through f64. A batch holds its values' text in one buffer, and the rows
//! the deciding thread sees borrow from it: reading allocates nothing per
//! value.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::ffi::c_int;
use std::path::Path;

use super::normalize::{Kind, LegacyValue};
use super::sqlite::{Connection, SqliteError, Statement, StorageClass};

/// The tables the importer reads; others are ignored (and named).
pub const KNOWN_TABLES: [&str; 4] = ["customers", "invoices", "invoice_items", "payments"];

pub struct LegacyDb {
    conn: Connection,
    /// Every table of the file, as read when it was opened.
    tables: Vec<String>,
}

/// Puts SQLite in multi-thread mode, without its memory statistics, before
/// it is first used: a connection is then used by one thread at a time
/// (the importer's reader has its own), and SQLite skips the mutex it
/// otherwise takes on every call (every column of every row) and the one
/// around its allocator. Together about a tenth of the reading time.
/// SQLite takes configuration only before it initialises; later (another
/// import in the same process) the calls are refused and change nothing.
fn sqlite_without_global_locks() {
    static CONFIGURED: std::sync::Once = std::sync::Once::new();
    CONFIGURED.call_once(|| {
        // SAFETY: sqlite3_config is safe to call before sqlite3_initialize
        // (it answers SQLITE_MISUSE after it, changing nothing), with the
        // argument list each option documents.
        unsafe {
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MULTITHREAD);
            libsqlite3_sys::sqlite3_config(
                libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS,
                0 as std::ffi::c_int,
            );
        }
    });
}

/// A `file:` URI for SQLite, percent-encoding what URIs reserve.
fn uri_for(path: &Path) -> String {
    let mut uri = String::from("file:");
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                uri.push(*byte as char)
            }
            other => uri.push_str(&format!("%{other:02X}")),
        }
    }
    uri.push_str("?mode=ro");
    uri
}

/// A customer row as stored.
#[derive(Debug, Clone, Copy)]
pub struct LegacyCustomer<'a> {
    pub id: i64,
    pub account_id: LegacyValue<'a>,
    pub name: LegacyValue<'a>,
    pub email: LegacyValue<'a>,
    pub phone: LegacyValue<'a>,
    pub address: LegacyValue<'a>,
    pub tax_id: LegacyValue<'a>,
    pub created_at: LegacyValue<'a>,
    pub updated_at: LegacyValue<'a>,
}

#[derive(Debug, Clone, Copy)]
pub struct LegacyInvoice<'a> {
    pub id: i64,
    pub account_id: LegacyValue<'a>,
    pub customer_id: LegacyValue<'a>,
    pub number: LegacyValue<'a>,
    pub status: LegacyValue<'a>,
    pub currency: LegacyValue<'a>,
    pub issue_date: LegacyValue<'a>,
    pub due_date: LegacyValue<'a>,
    pub notes: LegacyValue<'a>,
    pub created_at: LegacyValue<'a>,
    pub updated_at: LegacyValue<'a>,
    /// The customer's account, when the customer exists.
    pub customer_account: Option<&'a str>,
}

#[derive(Debug, Clone, Copy)]
pub struct LegacyItem<'a> {
    pub id: i64,
    pub invoice_id: LegacyValue<'a>,
    pub description: LegacyValue<'a>,
    pub quantity: LegacyValue<'a>,
    pub unit_price: LegacyValue<'a>,
    pub tax_rate: LegacyValue<'a>,
    pub created_at: LegacyValue<'a>,
}

#[derive(Debug, Clone, Copy)]
pub struct LegacyPayment<'a> {
    pub id: i64,
    pub invoice_id: LegacyValue<'a>,
    pub amount: LegacyValue<'a>,
    pub paid_at: LegacyValue<'a>,
    pub method: LegacyValue<'a>,
    pub reference: LegacyValue<'a>,
    pub created_at: LegacyValue<'a>,
}

/// One row of a batch: customers come first, then the invoice stream, in
/// which an invoice is followed by its items and then its payments (and
/// items or payments of a missing invoice come where it would be).
#[derive(Debug, Clone, Copy)]
pub enum LegacyRow<'a> {
    Customer(LegacyCustomer<'a>),
    Invoice(LegacyInvoice<'a>),
    Item(LegacyItem<'a>),
    Payment(LegacyPayment<'a>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Customer,
    Invoice,
    Item,
    Payment,
}

impl Source {
    /// How many values a row holds (after its id).
    fn width(self) -> usize {
        match self {
            Source::Customer => 8,
            // Its ten columns and its customer's account.
            Source::Invoice => 11,
            Source::Item | Source::Payment => 6,
        }
    }
}

/// A value's place in a batch's text (u32: a batch is a few megabytes;
/// `offset` refuses one past 4 GiB rather than wrap).
#[derive(Debug, Clone, Copy)]
struct Stored {
    kind: Kind,
    start: u32,
    end: u32,
}

#[derive(Debug, Clone, Copy)]
struct StoredRow {
    source: Source,
    id: i64,
    first_value: u32,
}

/// Rows read from the legacy file, on their way from the reading thread to
/// the deciding one. The invoice stream is cut only before an invoice, so
/// an invoice and everything that belongs to it share a batch.
#[derive(Debug, Default)]
pub struct RowBatch {
    text: String,
    values: Vec<Stored>,
    rows: Vec<StoredRow>,
}

impl RowBatch {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The batch so far, leaving an empty one as large: the next batch
    /// needs about as much, and grows by no copies. Not after a batch that
    /// one outsized invoice made large (a batch ends only before an
    /// invoice): that memory goes with it.
    fn take(&mut self, rows_per_batch: usize) -> Self {
        let next = if self.rows.len() <= 2 * rows_per_batch {
            Self {
                text: String::with_capacity(self.text.capacity()),
                values: Vec::with_capacity(self.values.capacity()),
                rows: Vec::with_capacity(self.rows.capacity()),
            }
        } else {
            Self::default()
        };
        std::mem::replace(self, next)
    }

    /// Appends a row whose id is column `id_column` and whose values are
    /// the `source.width()` columns from `first_column` on.
    fn push(
        &mut self,
        statement: &mut Statement<'_>,
        source: Source,
        id_column: c_int,
        first_column: c_int,
    ) {
        self.rows.push(StoredRow {
            source,
            id: statement.int64(id_column),
            first_value: offset(self.values.len()),
        });
        for column in first_column..first_column + source.width() as c_int {
            self.push_value(statement, column);
        }
    }

    fn push_value(&mut self, statement: &mut Statement<'_>, column: c_int) {
        let kind = match statement.storage_class(column) {
            StorageClass::Null => {
                self.values.push(Stored {
                    kind: Kind::Null,
                    start: 0,
                    end: 0,
                });
                return;
            }
            StorageClass::Integer => Kind::Integer,
            StorageClass::Real => Kind::Real,
            StorageClass::Text => Kind::Text,
            StorageClass::Blob => Kind::Blob,
        };
        let start = offset(self.text.len());
        let bytes = statement.text_bytes(column);
        let kind = match std::str::from_utf8(bytes) {
            Ok(text) => {
                self.text.push_str(text);
                kind
            }
            // SQLite does not check TEXT; shown with replacement characters
            // and never imported as text.
            Err(_) => {
                self.text.push_str(&String::from_utf8_lossy(bytes));
                if kind == Kind::Text {
                    Kind::InvalidText
                } else {
                    kind
                }
            }
        };
        self.values.push(Stored {
            kind,
            start,
            end: offset(self.text.len()),
        });
    }

    fn value(&self, index: usize) -> LegacyValue<'_> {
        let stored = self.values[index];
        LegacyValue {
            kind: stored.kind,
            text: (stored.kind != Kind::Null)
                .then(|| &self.text[stored.start as usize..stored.end as usize]),
        }
    }

    /// The rows, in the order they were read.
    pub fn rows(&self) -> impl Iterator<Item = LegacyRow<'_>> {
        self.rows.iter().map(|row| {
            let at = row.first_value as usize;
            let v = |n: usize| self.value(at + n);
            let id = row.id;
            match row.source {
                Source::Customer => LegacyRow::Customer(LegacyCustomer {
                    id,
                    account_id: v(0),
                    name: v(1),
                    email: v(2),
                    phone: v(3),
                    address: v(4),
                    tax_id: v(5),
                    created_at: v(6),
                    updated_at: v(7),
                }),
                Source::Invoice => LegacyRow::Invoice(LegacyInvoice {
                    id,
                    account_id: v(0),
                    customer_id: v(1),
                    number: v(2),
                    status: v(3),
                    currency: v(4),
                    issue_date: v(5),
                    due_date: v(6),
                    notes: v(7),
                    created_at: v(8),
                    updated_at: v(9),
                    customer_account: v(10).text,
                }),
                Source::Item => LegacyRow::Item(LegacyItem {
                    id,
                    invoice_id: v(0),
                    description: v(1),
                    quantity: v(2),
                    unit_price: v(3),
                    tax_rate: v(4),
                    created_at: v(5),
                }),
                Source::Payment => LegacyRow::Payment(LegacyPayment {
                    id,
                    invoice_id: v(0),
                    amount: v(1),
                    paid_at: v(2),
                    method: v(3),
                    reference: v(4),
                    created_at: v(5),
                }),
            }
        })
    }
}

fn offset(at: usize) -> u32 {
    u32::try_from(at)
        .expect("a batch of legacy rows under 4 GiB (one invoice's rows are one batch)")
}

/// Errors of the legacy file itself, as opposed to its rows'.
#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    #[error("{0} does not exist")]
    Missing(String),
    #[error("cannot open {path} as an SQLite database: {source}")]
    Open { path: String, source: SqliteError },
    #[error("{path} is not a legacy invoicing database: it has no table {table}")]
    NotLegacy { path: String, table: &'static str },
    #[error("reading the legacy file failed: {0}")]
    Query(#[from] SqliteError),
}

impl LegacyDb {
    /// Opens the file read-only and starts the read transaction that every
    /// later read shares.
    pub fn open(path: &Path) -> Result<Self, LegacyError> {
        if !path.is_file() {
            return Err(LegacyError::Missing(path.display().to_string()));
        }
        sqlite_without_global_locks();
        let opened = Connection::open_read_only(&uri_for(path)).and_then(|mut conn| {
            conn.register_rust_trim()?;
            // A deferred transaction takes its snapshot at the first read,
            // which is the sqlite_master read right after.
            conn.execute("PRAGMA query_only = ON; BEGIN;")?;
            Ok(conn)
        });
        let conn = opened.map_err(|source| LegacyError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let mut db = Self {
            conn,
            tables: Vec::new(),
        };
        db.tables =
            db.texts("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
        for table in KNOWN_TABLES {
            if !db.tables.iter().any(|t| t == table) {
                return Err(LegacyError::NotLegacy {
                    path: path.display().to_string(),
                    table,
                });
            }
        }
        Ok(db)
    }

    /// The first column of every row of `sql`, as text (NULL skipped).
    fn texts(&mut self, sql: &str) -> Result<Vec<String>, LegacyError> {
        let mut statement = self.conn.prepare(sql)?;
        let mut texts = Vec::new();
        while statement.step()? {
            if statement.storage_class(0) != StorageClass::Null {
                texts.push(String::from_utf8_lossy(statement.text_bytes(0)).into_owned());
            }
        }
        Ok(texts)
    }

    /// The first column of every row of `sql`, as integers.
    fn integers(&mut self, sql: &str) -> Result<Vec<i64>, LegacyError> {
        let mut statement = self.conn.prepare(sql)?;
        let mut integers = Vec::new();
        while statement.step()? {
            integers.push(statement.int64(0));
        }
        Ok(integers)
    }

    /// The file's tables that the importer does not know.
    pub fn unknown_tables(&self) -> Vec<String> {
        self.tables
            .iter()
            .filter(|t| !KNOWN_TABLES.contains(&t.as_str()))
            .cloned()
            .collect()
    }

    /// Each known table's row count and highest id (0 when empty), in
    /// `KNOWN_TABLES` order: what the progress counts towards, and what the
    /// id counters must pass, rejected rows included.
    pub fn sizes(&mut self) -> Result<[(i64, i64); 4], LegacyError> {
        let mut sizes = [(0, 0); 4];
        for (size, table) in sizes.iter_mut().zip(KNOWN_TABLES) {
            let mut statement = self.conn.prepare(&format!(
                "SELECT count(*), coalesce(max(id), 0) FROM \"{table}\""
            ))?;
            statement.step()?;
            *size = (statement.int64(0), statement.int64(1));
        }
        Ok(sizes)
    }

    /// The distinct account ids of customers and invoices (items and
    /// payments have none: they take their invoice's), trimmed; blank and
    /// NULL ones left out.
    pub fn account_ids(&mut self) -> Result<Vec<String>, LegacyError> {
        let ids = self.texts(
            "SELECT DISTINCT CAST(account_id AS TEXT)
             FROM (SELECT account_id FROM customers UNION SELECT account_id FROM invoices)
             ORDER BY 1",
        )?;
        Ok(ids
            .iter()
            .map(|id| id.trim())
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// The invoices that share their number with another invoice of their
    /// account once both are normalised (trimmed as Rust trims, which
    /// SQLite's TRIM does not): usually none, so the importer needs to
    /// remember only these, and its memory stays bounded whatever the file
    /// size. Which of them keeps the number is decided while reading, among
    /// those that are otherwise importable.
    pub fn invoices_sharing_a_number(&mut self) -> Result<HashSet<i64>, LegacyError> {
        let ids = self.integers(
            "SELECT id FROM (
                 SELECT id, count(*) OVER (PARTITION BY account, number) AS sharing
                 FROM (SELECT id, rust_trim(CAST(account_id AS TEXT)) AS account,
                              rust_trim(CAST(number AS TEXT)) AS number
                       FROM invoices)
                 WHERE number <> '')
             WHERE sharing > 1",
        )?;
        Ok(ids.into_iter().collect())
    }

    /// Reads every customer in id order, then the invoice stream: each
    /// invoice followed by its items and then its payments, in invoice id
    /// order; items and payments of a missing invoice come where that
    /// invoice would be. Handed to `send` in batches of about
    /// `rows_per_batch` rows, cut only before an invoice.
    ///
    /// The stream is three index-ordered scans (invoices by id, items and
    /// payments by invoice_id and id) merged here as SQLite orders their
    /// keys: nothing is sorted or held in memory. (SQLite's own merge of a
    /// compound SELECT did the same at twice the cost.)
    pub fn read<E: From<LegacyError>>(
        &mut self,
        rows_per_batch: usize,
        mut send: impl FnMut(RowBatch) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut batch = RowBatch::default();
        let mut statement = self
            .conn
            .prepare(CUSTOMER_SCAN)
            .map_err(LegacyError::from)?;
        while statement.step().map_err(LegacyError::from)? {
            batch.push(&mut statement, Source::Customer, 0, 1);
            if batch.len() >= rows_per_batch {
                send(batch.take(rows_per_batch))?;
            }
        }
        drop(statement);
        let mut cursors = Vec::with_capacity(3);
        for (source, sql) in [
            (Source::Invoice, INVOICE_SCAN),
            (Source::Item, ITEM_SCAN),
            (Source::Payment, PAYMENT_SCAN),
        ] {
            let mut cursor = Cursor {
                source,
                statement: self.conn.prepare(sql).map_err(LegacyError::from)?,
                key: None,
            };
            cursor.advance().map_err(LegacyError::from)?;
            cursors.push(cursor);
        }
        while let Some(next) = cursors
            .iter_mut()
            .filter(|cursor| cursor.key.is_some())
            .min_by(|a, b| a.key.cmp(&b.key))
        {
            if next.source == Source::Invoice && batch.len() >= rows_per_batch {
                send(batch.take(rows_per_batch))?;
            }
            batch.push(&mut next.statement, next.source, 1, 2);
            next.advance().map_err(LegacyError::from)?;
        }
        if batch.len() > 0 {
            send(batch)?;
        }
        Ok(())
    }
}

/// Customers: the id, then its values (`Source::width`).
const CUSTOMER_SCAN: &str = "SELECT id, account_id, name, email, phone, address, tax_id,
        created_at, updated_at
    FROM customers ORDER BY id";

/// The invoice stream's scans. Columns: the invoice the row belongs to,
/// its id, then its values (`Source::width`; an invoice's customer's
/// account last).
const INVOICE_SCAN: &str = "SELECT i.id, i.id, i.account_id, i.customer_id, i.number, i.status,
        i.currency, i.issue_date, i.due_date, i.notes, i.created_at, i.updated_at,
        CAST(c.account_id AS TEXT)
    FROM invoices i LEFT JOIN customers c ON c.id = i.customer_id
    ORDER BY i.id";
const ITEM_SCAN: &str = "SELECT invoice_id, id, invoice_id, description, quantity, unit_price,
        tax_rate, created_at
    FROM invoice_items ORDER BY invoice_id, id";
const PAYMENT_SCAN: &str = "SELECT invoice_id, id, invoice_id, amount, paid_at, method,
        reference, created_at
    FROM payments ORDER BY invoice_id, id";

/// One scan of the invoice stream and the key of its current row.
struct Cursor<'c> {
    source: Source,
    statement: Statement<'c>,
    /// `None` once the scan is done.
    key: Option<StreamKey>,
}

impl Cursor<'_> {
    fn advance(&mut self) -> Result<(), SqliteError> {
        self.key = if self.statement.step()? {
            Some(StreamKey {
                invoice: SqliteOrder::read(&mut self.statement, 0),
                source: self.source,
                id: self.statement.int64(1),
            })
        } else {
            None
        };
        Ok(())
    }
}

/// Where a row goes in the stream: by its invoice, then the invoice before
/// its items before its payments, then by id.
#[derive(Debug, PartialEq)]
struct StreamKey {
    invoice: SqliteOrder,
    source: Source,
    id: i64,
}

impl Eq for StreamKey {}

impl PartialOrd for StreamKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for StreamKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.invoice
            .cmp(&other.invoice)
            .then((self.source as u8).cmp(&(other.source as u8)))
            .then(self.id.cmp(&other.id))
    }
}

/// A value ordered as SQLite's ORDER BY orders it (BINARY collation):
/// NULL, then numbers (INTEGER and REAL by value), then TEXT, then BLOB,
/// byte by byte. A legacy invoice_id may be any of them.
#[derive(Debug, PartialEq)]
enum SqliteOrder {
    Null,
    Integer(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl SqliteOrder {
    fn read(statement: &mut Statement<'_>, column: c_int) -> Self {
        match statement.storage_class(column) {
            StorageClass::Null => Self::Null,
            StorageClass::Integer => Self::Integer(statement.int64(column)),
            StorageClass::Real => Self::Real(statement.double(column)),
            StorageClass::Text => Self::Text(statement.text_bytes(column).to_vec()),
            StorageClass::Blob => Self::Blob(statement.text_bytes(column).to_vec()),
        }
    }

    fn class(&self) -> u8 {
        match self {
            Self::Null => 0,
            Self::Integer(_) | Self::Real(_) => 1,
            Self::Text(_) => 2,
            Self::Blob(_) => 3,
        }
    }

    fn cmp(&self, other: &Self) -> Ordering {
        use SqliteOrder::*;
        match (self, other) {
            (Integer(a), Integer(b)) => a.cmp(b),
            // SQLite stores no NaN (it becomes NULL).
            (Real(a), Real(b)) => a.total_cmp(b),
            (Integer(a), Real(b)) => integer_against_real(*a, *b),
            (Real(a), Integer(b)) => integer_against_real(*b, *a).reverse(),
            (Text(a), Text(b)) | (Blob(a), Blob(b)) => a.cmp(b),
            _ => self.class().cmp(&other.class()),
        }
    }
}

/// An INTEGER against a REAL by value, exactly (as SQLite compares them):
/// the whole parts as integers, then the REAL's fraction.
fn integer_against_real(integer: i64, real: f64) -> Ordering {
    // 2^63: beyond it (either way) a REAL is beyond every i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if real >= LIMIT {
        return Ordering::Less;
    }
    if real < -LIMIT {
        return Ordering::Greater;
    }
    let whole = real.trunc();
    integer
        .cmp(&(whole as i64))
        .then_with(|| 0.0f64.total_cmp(&(real - whole)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection;

    /// The merge orders keys as SQLite's own ORDER BY does, across storage
    /// classes (a legacy invoice_id may be NULL, INTEGER, REAL, TEXT or a
    /// BLOB): checked against SQLite sorting the same values.
    #[test]
    fn keys_merge_in_sqlites_order() {
        let file = std::env::temp_dir().join(format!("order-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let mut writer =
            diesel::SqliteConnection::establish(file.to_str().unwrap()).expect("a scratch file");
        writer
            .batch_execute(
                "CREATE TABLE k (v);
                 INSERT INTO k VALUES (NULL), (3), (3.0), (3.5), (-2), (-2.5), (2.9999999),
                     (9223372036854775807), (9.3e18), (-9.3e18), (-9223372036854775808),
                     ('3'), (' 3'), ('a'), (''), (x'00'), (x'41'), (0), (-0.0), (1e-300);",
            )
            .unwrap();
        drop(writer);
        let conn = Connection::open_read_only(&uri_for(&file)).unwrap();
        let mut statement = conn
            .prepare("SELECT v, rowid FROM k ORDER BY v, rowid")
            .unwrap();
        let mut sqlite_order = Vec::new();
        while statement.step().unwrap() {
            sqlite_order.push((SqliteOrder::read(&mut statement, 0), statement.int64(1)));
        }
        let mut ours: Vec<&(SqliteOrder, i64)> = sqlite_order.iter().collect();
        ours.reverse();
        ours.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let ours: Vec<i64> = ours.iter().map(|(_, rowid)| *rowid).collect();
        let theirs: Vec<i64> = sqlite_order.iter().map(|(_, rowid)| *rowid).collect();
        assert_eq!(ours, theirs);
        drop(statement);
        drop(conn);
        let _ = std::fs::remove_file(&file);
    }

    /// A batch ends only before an invoice, so an invoice with more rows
    /// than a batch holds still arrives whole, followed by its items and
    /// payments in order; an item of a missing invoice comes where that
    /// invoice would be.
    #[test]
    fn batches_end_only_before_an_invoice() {
        let file = std::env::temp_dir().join(format!("batches-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let mut writer =
            diesel::SqliteConnection::establish(file.to_str().unwrap()).expect("a scratch file");
        let mut sql = String::from(include_str!("legacy_schema.sql"));
        sql.push_str("INSERT INTO customers (id, account_id, name) VALUES (1, 'acme', 'A'), (2, 'acme', 'B');");
        sql.push_str("INSERT INTO invoices (id, account_id, customer_id) VALUES (1, 'acme', 1), (3, 'acme', 2);");
        for item in 1..=25 {
            sql.push_str(&format!(
                "INSERT INTO invoice_items (id, invoice_id) VALUES ({item}, 1);"
            ));
        }
        sql.push_str(
            "INSERT INTO invoice_items (id, invoice_id) VALUES (26, 2), (27, 3), (28, 3);",
        );
        sql.push_str("INSERT INTO payments (id, invoice_id) VALUES (1, 3), (2, 1);");
        writer.batch_execute(&sql).unwrap();
        drop(writer);

        let mut legacy = LegacyDb::open(&file).unwrap();
        let mut batches: Vec<Vec<String>> = Vec::new();
        legacy
            .read(4, |batch| -> Result<(), LegacyError> {
                batches.push(
                    batch
                        .rows()
                        .map(|row| match row {
                            LegacyRow::Customer(c) => format!("c{}", c.id),
                            LegacyRow::Invoice(i) => format!("i{}", i.id),
                            LegacyRow::Item(i) => format!("t{}", i.id),
                            LegacyRow::Payment(p) => format!("p{}", p.id),
                        })
                        .collect(),
                );
                Ok(())
            })
            .unwrap();
        let items_of_1: Vec<String> = (1..=25).map(|n| format!("t{n}")).collect();
        let mut first = vec!["c1".to_owned(), "c2".to_owned(), "i1".to_owned()];
        first.extend(items_of_1);
        first.extend(["p2".to_owned(), "t26".to_owned()]);
        assert_eq!(
            batches,
            vec![
                first,
                vec!["i3".into(), "t27".into(), "t28".into(), "p1".into()]
            ]
        );
        let _ = std::fs::remove_file(&file);
    }

    #[test]
    fn paths_become_read_only_file_uris() {
        assert_eq!(
            uri_for("/tmp/legacy.db".as_ref()),
            "file:/tmp/legacy.db?mode=ro"
        );
        assert_eq!(
            uri_for("/tmp/a b?#%.db".as_ref()),
            "file:/tmp/a%20b%3F%23%25.db?mode=ro"
        );
    }
}
