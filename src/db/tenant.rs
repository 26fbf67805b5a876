//! The tenant transaction: the one way to a connection that can see tenant
//! rows.
//!
//! A tenant transaction begins by setting `app.account_id`, which the
//! row-level security policies compare every row's `account_id` with, and
//! the request's timeouts; all of them with `SET LOCAL`, so they end with
//! the transaction and a pooled connection
//! never carries them to its next user (nor, through PgBouncer in
//! transaction mode, to another client's server connection). `BEGIN` and
//! the settings travel in one simple-query message: one round trip.
//!
//! Model functions receive a [`TenantConn`], which carries the account every
//! model query filters on (the first wall; row-level security is the
//! second) and who is acting (for the audit trail).

use diesel::connection::SimpleConnection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;

use crate::domain::AccountId;

/// Who is acting in a tenant transaction, for the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The API key that authenticated the request; `None` for the owner's
    /// tools (admin, import, the command line).
    pub api_key_id: Option<i64>,
    /// The request's X-Request-Id, when there is a request.
    pub request_id: Option<String>,
}

/// Server-side limits of a tenant transaction, in milliseconds (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    /// `statement_timeout`: no statement runs longer.
    pub statement_ms: u64,
    /// `lock_timeout`: no statement waits longer for a lock.
    pub lock_ms: u64,
    /// `idle_in_transaction_session_timeout`: the server ends a session
    /// whose transaction sits idle this long (a client that hung mid-way).
    pub idle_in_transaction_ms: u64,
}

impl Timeouts {
    /// The limits a request runs under when statements may take `statement_ms`.
    pub fn for_requests(statement_ms: u64) -> Self {
        Self {
            statement_ms,
            lock_ms: statement_ms,
            idle_in_transaction_ms: statement_ms.saturating_mul(2),
        }
    }
}

/// A connection inside a tenant transaction.
pub struct TenantConn<'a> {
    conn: &'a mut PgConnection,
    account: &'a AccountId,
    actor: &'a Actor,
    /// Events written through this connection (for /metrics, once committed).
    events_written: u32,
}

impl<'a> TenantConn<'a> {
    /// For a transaction that is already scoped to `account` (its
    /// `app.account_id` set): the caller vouches for that.
    pub fn new(conn: &'a mut PgConnection, account: &'a AccountId, actor: &'a Actor) -> Self {
        Self {
            conn,
            account,
            actor,
            events_written: 0,
        }
    }

    /// Counts one event written in this transaction.
    pub fn count_event(&mut self) {
        self.events_written += 1;
    }

    pub fn events_written(&self) -> u32 {
        self.events_written
    }

    /// The account every query through this connection must filter on.
    pub fn account(&self) -> &AccountId {
        self.account
    }

    /// The account id as a string, for Diesel filters.
    pub fn account_id(&self) -> &str {
        self.account.as_str()
    }

    pub fn actor(&self) -> &Actor {
        self.actor
    }

    pub fn pg(&mut self) -> &mut PgConnection {
        self.conn
    }
}

/// A literal for a simple-query message. The account id's format admits no
/// quote; doubling them anyway keeps this one literal whatever it becomes.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Begins a tenant transaction (see the module's comment).
///
/// `SET LOCAL` rather than `set_config(…, true)`: the two are the same on
/// PostgreSQL, but on Citus only `SET LOCAL` reaches the workers, and only
/// with `citus.propagate_set_commands = 'local'` (a placeholder setting,
/// harmless where Citus is not installed), so that row-level security on
/// the shards sees the account too.
pub fn begin(conn: &mut PgConnection, account: &AccountId, timeouts: Timeouts) -> QueryResult<()> {
    let mut sql = format!(
        "BEGIN; SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL app.account_id = {}",
        literal(account.as_str())
    );
    for (setting, ms) in [
        ("statement_timeout", timeouts.statement_ms),
        ("lock_timeout", timeouts.lock_ms),
        (
            "idle_in_transaction_session_timeout",
            timeouts.idle_in_transaction_ms,
        ),
    ] {
        if ms > 0 {
            sql.push_str(&format!("; SET LOCAL {setting} = {ms}"));
        }
    }
    AnsiTransactionManager::begin_transaction_sql(conn, &sql).inspect_err(|_| {
        // The server may have begun the transaction before the error: such
        // a connection must not go back to the pool.
        AnsiTransactionManager::transaction_manager_status_mut(conn).set_in_error();
    })
}

/// Ends the transaction [`begin`] started: commits `outcome`'s success,
/// rolls back its failure (as Diesel's own `transaction` does).
pub fn finish<T, E>(conn: &mut PgConnection, outcome: Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match outcome {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => rollback(conn, error),
    }
}

/// Rolls back the transaction [`begin`] started and answers `error`.
pub fn rollback<T, E>(conn: &mut PgConnection, error: E) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match AnsiTransactionManager::rollback_transaction(conn) {
        Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
        Err(rollback) => Err(rollback.into()),
    }
}

fn in_transaction(conn: &mut PgConnection) -> bool {
    matches!(
        AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(Some(_))
    )
}

/// Runs `work` in a transaction scoped to `account` for the owner's tools
/// (a savepoint when the connection is already in a transaction).
pub fn in_tenant_transaction<T, E>(
    conn: &mut PgConnection,
    account: &AccountId,
    work: impl FnOnce(&mut TenantConn<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let actor = Actor::default();
    if in_transaction(conn) {
        return conn.transaction(|conn| {
            conn.batch_execute(&format!(
                "SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL app.account_id = {}",
                literal(account.as_str())
            ))?;
            work(&mut TenantConn::new(conn, account, &actor))
        });
    }
    begin(conn, account, Timeouts::default())?;
    let outcome = work(&mut TenantConn::new(&mut *conn, account, &actor));
    finish(conn, outcome)
}
