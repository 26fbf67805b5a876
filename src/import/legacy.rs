//! Reading the legacy SQLite file: read-only, in one read transaction (one
//! consistent snapshot, even while the old application writes), streamed
//! row by row.
//!
//! Every value is read as its storage class and its text (`typeof(x)`,
//! `CAST(x AS TEXT)`), never through Diesel's SQLite numeric types, which go
//! through f64.

use std::collections::HashSet;
use std::path::Path;

use diesel::connection::{DefaultLoadingMode, SimpleConnection};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::sqlite::{Sqlite, SqliteConnection, SqliteType, SqliteValue};

use super::normalize::{Kind, LegacyValue};

/// The tables the importer reads; others are ignored (and named).
pub const KNOWN_TABLES: [&str; 4] = ["customers", "invoices", "invoice_items", "payments"];

pub struct LegacyDb {
    conn: SqliteConnection,
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

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct AccountRow {
    #[diesel(sql_type = Text)]
    account_type: String,
    #[diesel(sql_type = Nullable<Text>)]
    account: Option<String>,
}

/// A customer row as stored.
#[derive(Debug, Clone)]
pub struct LegacyCustomer {
    pub id: i64,
    pub account_id: LegacyValue,
    pub name: LegacyValue,
    pub email: LegacyValue,
    pub phone: LegacyValue,
    pub address: LegacyValue,
    pub tax_id: LegacyValue,
    pub created_at: LegacyValue,
    pub updated_at: LegacyValue,
}

/// One value as stored, read in one go: its storage class
/// (`sqlite3_value_type`) and its text (`sqlite3_value_text`; a REAL
/// renders with 15 significant digits, which drops binary noise such as
/// 19.990000000000002). Never through Diesel's numeric types, which go
/// through f64.
#[derive(Debug, FromSqlRow)]
struct Stored(LegacyValue);

impl FromSql<Text, Sqlite> for Stored {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let kind = match value.value_type() {
            Some(SqliteType::Long | SqliteType::Integer | SqliteType::SmallInt) => Kind::Integer,
            Some(SqliteType::Double | SqliteType::Float) => Kind::Real,
            Some(SqliteType::Text) => Kind::Text,
            Some(SqliteType::Binary) => Kind::Blob,
            None => Kind::Null,
        };
        // Diesel reads invalid UTF-8 lossily; tell it apart first, from
        // the bytes as stored (a TEXT value's blob form is its bytes).
        let kind = if kind == Kind::Text && std::str::from_utf8(value.read_blob()).is_err() {
            Kind::InvalidText
        } else {
            kind
        };
        Ok(Self(LegacyValue {
            kind,
            text: Some(value.read_text().to_owned()),
        }))
    }
}

fn value(stored: Option<Stored>) -> LegacyValue {
    stored.map_or_else(
        || LegacyValue {
            kind: Kind::Null,
            text: None,
        },
        |stored| stored.0,
    )
}

type V = Option<Stored>;
type S = Nullable<Text>;

/// Row types of the two streams, read by position (by-name lookups cost a
/// string comparison per column and row).
type CustomerTuple = (i64, V, V, V, V, V, V, V, V);
type CustomerSql = (BigInt, S, S, S, S, S, S, S, S);
type StreamTuple = (
    i32,
    Option<i64>,
    i64,
    Option<String>,
    V,
    V,
    V,
    V,
    V,
    V,
    V,
    V,
    V,
    V,
);
type StreamSql = (
    Integer,
    Nullable<BigInt>,
    BigInt,
    Nullable<Text>,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
);

/// One row of the invoice stream: an invoice, or an item or payment of the
/// invoice before it (or of a missing one).
#[derive(Debug, Clone)]
pub enum InvoiceStreamRow {
    Invoice(LegacyInvoice),
    Item(LegacyItem),
    Payment(LegacyPayment),
}

#[derive(Debug, Clone)]
pub struct LegacyInvoice {
    pub id: i64,
    pub account_id: LegacyValue,
    pub customer_id: LegacyValue,
    pub number: LegacyValue,
    pub status: LegacyValue,
    pub currency: LegacyValue,
    pub issue_date: LegacyValue,
    pub due_date: LegacyValue,
    pub notes: LegacyValue,
    pub created_at: LegacyValue,
    pub updated_at: LegacyValue,
    /// The customer's account, when the customer exists.
    pub customer_account: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LegacyItem {
    pub id: i64,
    pub invoice_id: LegacyValue,
    pub description: LegacyValue,
    pub quantity: LegacyValue,
    pub unit_price: LegacyValue,
    pub tax_rate: LegacyValue,
    pub created_at: LegacyValue,
}

#[derive(Debug, Clone)]
pub struct LegacyPayment {
    pub id: i64,
    pub invoice_id: LegacyValue,
    pub amount: LegacyValue,
    pub paid_at: LegacyValue,
    pub method: LegacyValue,
    pub reference: LegacyValue,
    pub created_at: LegacyValue,
}

#[diesel::declare_sql_function]
extern "SQL" {
    /// Rust's `str::trim` (every Unicode white space, where SQLite's TRIM
    /// knows only spaces): how the importer normalises text.
    fn rust_trim(text: Nullable<Text>) -> Nullable<Text>;
}

fn column(expression: &str, n: usize) -> String {
    format!("{expression} AS v{n}")
}

fn absent(n: usize) -> String {
    format!("NULL AS v{n}")
}

fn columns(expressions: &[&str], width: usize) -> String {
    (1..=width)
        .map(|n| match expressions.get(n - 1) {
            Some(expression) => column(expression, n),
            None => absent(n),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Errors of the legacy file itself, as opposed to its rows'.
#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    #[error("{0} does not exist")]
    Missing(String),
    #[error("cannot open {path} as an SQLite database: {source}")]
    Open {
        path: String,
        source: diesel::ConnectionError,
    },
    #[error("{path} is not a legacy invoicing database: it has no table {table}")]
    NotLegacy { path: String, table: &'static str },
    #[error("reading the legacy file failed: {0}")]
    Query(#[from] diesel::result::Error),
}

impl LegacyDb {
    /// Opens the file read-only and starts the read transaction that every
    /// later read shares.
    pub fn open(path: &Path) -> Result<Self, LegacyError> {
        if !path.is_file() {
            return Err(LegacyError::Missing(path.display().to_string()));
        }
        sqlite_without_global_locks();
        let mut conn =
            SqliteConnection::establish(&uri_for(path)).map_err(|source| LegacyError::Open {
                path: path.display().to_string(),
                source,
            })?;
        // A deferred transaction takes its snapshot at the first read, which
        // is the sqlite_master read right after.
        rust_trim_utils::register_impl(&mut conn, |text: Option<String>| {
            text.map(|text| text.trim().to_owned())
        })?;
        conn.batch_execute("PRAGMA query_only = ON; BEGIN;")?;
        let mut db = Self { conn };
        let tables = db.tables()?;
        for table in KNOWN_TABLES {
            if !tables.iter().any(|t| t == table) {
                return Err(LegacyError::NotLegacy {
                    path: path.display().to_string(),
                    table,
                });
            }
        }
        Ok(db)
    }

    /// Every table of the file.
    pub fn tables(&mut self) -> Result<Vec<String>, LegacyError> {
        let rows: Vec<Name> =
            diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .load(&mut self.conn)?;
        Ok(rows.into_iter().map(|row| row.name).collect())
    }

    pub fn count(&mut self, table: &str) -> Result<i64, LegacyError> {
        let row: Count = diesel::sql_query(format!("SELECT count(*) AS count FROM \"{table}\""))
            .get_result(&mut self.conn)?;
        Ok(row.count)
    }

    /// The distinct account ids of customers and invoices (items and
    /// payments have none: they take their invoice's).
    pub fn account_ids(&mut self) -> Result<Vec<LegacyValue>, LegacyError> {
        let rows: Vec<AccountRow> = diesel::sql_query(
            "SELECT DISTINCT typeof(account_id) AS account_type, CAST(account_id AS TEXT) AS account
             FROM (SELECT account_id FROM customers UNION SELECT account_id FROM invoices)
             ORDER BY 2",
        )
        .load(&mut self.conn)?;
        Ok(rows
            .into_iter()
            .map(|row| LegacyValue::new(&row.account_type, row.account))
            .collect())
    }

    /// Every customer, in id order.
    pub fn for_each_customer<E: From<LegacyError>>(
        &mut self,
        mut each: impl FnMut(LegacyCustomer) -> Result<(), E>,
    ) -> Result<(), E> {
        let select = format!(
            "id, {} FROM customers ORDER BY id",
            columns(
                &[
                    "account_id",
                    "name",
                    "email",
                    "phone",
                    "address",
                    "tax_id",
                    "created_at",
                    "updated_at"
                ],
                8
            )
        );
        let rows = diesel::select(diesel::dsl::sql::<CustomerSql>(&select))
            .load_iter::<CustomerTuple, DefaultLoadingMode>(&mut self.conn)
            .map_err(LegacyError::from)?;
        for row in rows {
            let (id, v1, v2, v3, v4, v5, v6, v7, v8) = row.map_err(LegacyError::from)?;
            each(LegacyCustomer {
                id,
                account_id: value(v1),
                name: value(v2),
                email: value(v3),
                phone: value(v4),
                address: value(v5),
                tax_id: value(v6),
                created_at: value(v7),
                updated_at: value(v8),
            })?;
        }
        Ok(())
    }

    /// The invoices that share their number with another invoice of their
    /// account once both are normalised (trimmed as Rust trims, which
    /// SQLite's TRIM does not): usually none, so the importer needs to
    /// remember only these, and its memory stays bounded whatever the file
    /// size. Which of them keeps the number is decided while reading, among
    /// those that are otherwise importable.
    pub fn invoices_sharing_a_number(&mut self) -> Result<HashSet<i64>, LegacyError> {
        let rows: Vec<i64> = diesel::select(diesel::dsl::sql::<BigInt>(
            "id FROM (
                 SELECT id, count(*) OVER (PARTITION BY account, number) AS sharing
                 FROM (SELECT id, rust_trim(CAST(account_id AS TEXT)) AS account,
                              rust_trim(CAST(number AS TEXT)) AS number
                       FROM invoices)
                 WHERE number <> '')
             WHERE sharing > 1",
        ))
        .load(&mut self.conn)?;
        Ok(rows.into_iter().collect())
    }

    /// The highest id of each known table, whatever its rows hold (what
    /// the id counters must pass, rejected rows included).
    pub fn max_ids(&mut self) -> Result<[i64; 4], LegacyError> {
        let mut maxima = [0; 4];
        for (max, table) in maxima.iter_mut().zip(KNOWN_TABLES) {
            let row: Count = diesel::sql_query(format!(
                "SELECT coalesce(max(id), 0) AS count FROM \"{table}\""
            ))
            .get_result(&mut self.conn)?;
            *max = row.count;
        }
        Ok(maxima)
    }

    /// Invoices, each followed by its items and then its payments, in
    /// invoice id order; items and payments of a missing invoice come where
    /// that invoice would be. One statement: SQLite merges the three
    /// index-ordered scans, so nothing is sorted or held in memory.
    pub fn for_each_invoice_row<E: From<LegacyError>>(
        &mut self,
        mut each: impl FnMut(InvoiceStreamRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let width = 10;
        // A compound SELECT ordered by its arms' index order: SQLite merges
        // the three scans as it goes (EXPLAIN QUERY PLAN: MERGE (UNION ALL)),
        // so rows stream from the first one on.
        let select = format!(
            "0 AS kind, i.id AS invoice_key, i.id AS id, CAST(c.account_id AS TEXT) AS customer_account,
                    {invoice_columns}
             FROM invoices i LEFT JOIN customers c ON c.id = i.customer_id
             UNION ALL
             SELECT 1, invoice_id, id, NULL, {item_columns} FROM invoice_items
             UNION ALL
             SELECT 2, invoice_id, id, NULL, {payment_columns} FROM payments
             ORDER BY 2, 1, 3",
            invoice_columns = columns(
                &[
                    "i.account_id",
                    "i.customer_id",
                    "i.number",
                    "i.status",
                    "i.currency",
                    "i.issue_date",
                    "i.due_date",
                    "i.notes",
                    "i.created_at",
                    "i.updated_at",
                ],
                width
            ),
            item_columns = columns(&["invoice_id", "description", "quantity", "unit_price", "tax_rate", "created_at"], width),
            payment_columns = columns(&["invoice_id", "amount", "paid_at", "method", "reference", "created_at"], width),
        );
        let rows = diesel::select(diesel::dsl::sql::<StreamSql>(&select))
            .load_iter::<StreamTuple, DefaultLoadingMode>(&mut self.conn)
            .map_err(LegacyError::from)?;
        for row in rows {
            let (kind, _invoice_key, id, customer_account, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10) =
                row.map_err(LegacyError::from)?;
            let parsed = match kind {
                0 => InvoiceStreamRow::Invoice(LegacyInvoice {
                    id,
                    account_id: value(v1),
                    customer_id: value(v2),
                    number: value(v3),
                    status: value(v4),
                    currency: value(v5),
                    issue_date: value(v6),
                    due_date: value(v7),
                    notes: value(v8),
                    created_at: value(v9),
                    updated_at: value(v10),
                    customer_account,
                }),
                1 => InvoiceStreamRow::Item(LegacyItem {
                    id,
                    invoice_id: value(v1),
                    description: value(v2),
                    quantity: value(v3),
                    unit_price: value(v4),
                    tax_rate: value(v5),
                    created_at: value(v6),
                }),
                _ => InvoiceStreamRow::Payment(LegacyPayment {
                    id,
                    invoice_id: value(v1),
                    amount: value(v2),
                    paid_at: value(v3),
                    method: value(v4),
                    reference: value(v5),
                    created_at: value(v6),
                }),
            };
            each(parsed)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::uri_for;

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
