//! The embedded migrations, applied under a PostgreSQL advisory lock.
//!
//! diesel_migrations applies each migration in its own transaction but does
//! not coordinate concurrent runners: two instances starting at once would
//! both see a migration pending and both try to apply it. Every operation
//! here therefore holds a session-level advisory lock first, and reads the
//! state again once it has it.

use std::collections::HashSet;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The advisory lock key: "invoiced" in ASCII, so it is recognisable in
/// pg_locks and unlikely to collide with another application's.
const MIGRATION_LOCK_KEY: i64 = 0x696e_766f_6963_6564;

type HarnessError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("could not take the migration lock: {0}")]
    Lock(#[source] diesel::result::Error),
    #[error("could not read the applied migrations: {0}")]
    ReadApplied(#[source] diesel::result::Error),
    #[error("{0}")]
    Harness(HarnessError),
    #[error("could not distribute the schema on Citus: {0}")]
    Distribute(#[source] diesel::result::Error),
    #[error("there is no applied migration to revert")]
    NothingToRevert,
}

/// One migration, by its directory name (e.g. `2026-11-21-100000_create_accounts`).
pub type MigrationName = String;

/// Which migrations are applied to a database and which are pending, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub applied: Vec<MigrationName>,
    pub pending: Vec<MigrationName>,
    /// Versions recorded in the database that this binary does not know: the
    /// database was migrated by a newer release.
    pub unknown: Vec<String>,
}

/// How many of the applied migrations `revert` and `redo` act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Last,
    All,
}

/// Every embedded migration as (version, name), oldest first.
fn embedded() -> Vec<(String, MigrationName)> {
    let migrations = diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .expect("embedded migrations are valid: they were checked at compile time");
    let mut named: Vec<(String, MigrationName)> = migrations
        .iter()
        .map(|m| (m.name().version().to_string(), m.name().to_string()))
        .collect();
    named.sort();
    named
}

#[derive(QueryableByName)]
struct AppliedVersion {
    #[diesel(sql_type = Text)]
    version: String,
}

/// Reads the applied versions without creating the ledger table, so that a
/// role without DDL rights (the service's) can ask too.
fn applied_versions(conn: &mut PgConnection) -> Result<HashSet<String>, MigrationError> {
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let ledger: Exists =
        diesel::sql_query("SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS exists")
            .get_result(conn)
            .map_err(MigrationError::ReadApplied)?;
    if !ledger.exists {
        return Ok(HashSet::new());
    }
    let rows: Vec<AppliedVersion> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load(conn)
            .map_err(MigrationError::ReadApplied)?;
    Ok(rows.into_iter().map(|row| row.version).collect())
}

/// The applied and pending migrations; needs only read access.
pub fn status(conn: &mut PgConnection) -> Result<MigrationStatus, MigrationError> {
    let mut applied_versions = applied_versions(conn)?;
    let mut status = MigrationStatus {
        applied: Vec::new(),
        pending: Vec::new(),
        unknown: Vec::new(),
    };
    for (version, name) in embedded() {
        if applied_versions.remove(&version) {
            status.applied.push(name);
        } else {
            status.pending.push(name);
        }
    }
    status.unknown = applied_versions.into_iter().collect();
    status.unknown.sort();
    Ok(status)
}

/// The pending migrations' names, oldest first.
pub fn pending(conn: &mut PgConnection) -> Result<Vec<MigrationName>, MigrationError> {
    Ok(status(conn)?.pending)
}

fn name_of(version: &str) -> MigrationName {
    embedded()
        .into_iter()
        .find(|(v, _)| v == version)
        .map_or_else(|| version.to_owned(), |(_, name)| name)
}

/// Runs `f` while holding the migration lock. The lock is a session lock: it
/// is released by the unlock below or, if the process dies, with the session.
fn with_migration_lock<T>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> Result<T, MigrationError>,
) -> Result<T, MigrationError> {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(conn)
        .map_err(MigrationError::Lock)?;
    let result = f(conn);
    let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(conn)
        .map_err(MigrationError::Lock);
    let value = result?;
    unlocked?;
    Ok(value)
}

/// Applies every pending migration; returns the names applied (none when
/// another process got there first). On a Citus coordinator it then
/// distributes what they created (see `db::citus`).
pub fn run_pending(conn: &mut PgConnection) -> Result<Vec<MigrationName>, MigrationError> {
    with_migration_lock(conn, |conn| {
        let on_citus = allow_triggers_on_citus(conn)?;
        let applied: Vec<MigrationName> = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(MigrationError::Harness)?
            .iter()
            .map(|v| name_of(&v.to_string()))
            .collect();
        if on_citus {
            distribute_locked(conn)?;
        }
        Ok(applied)
    })
}

/// Distributes the schema on a Citus coordinator (`invoiced distribute`):
/// what is not distributed yet, under the migration lock, so that no
/// migration runs meanwhile.
pub fn distribute(conn: &mut PgConnection) -> Result<super::citus::Distribution, MigrationError> {
    with_migration_lock(conn, distribute_locked)
}

/// On Citus, a migration that creates a trigger on a distributed table
/// needs `citus.enable_unsafe_triggers` (ours touch only co-located rows of
/// the same account, which is what makes them safe there). Session
/// settings of the migration connection, which is the owner's own.
/// Returns whether the database is on Citus.
fn allow_triggers_on_citus(conn: &mut PgConnection) -> Result<bool, MigrationError> {
    use diesel::connection::SimpleConnection;
    let on_citus = super::citus::is_citus(conn).map_err(MigrationError::Distribute)?;
    if on_citus {
        // Sequential: a migration mixes DDL on distributed tables with
        // function definitions, which Citus refuses after a parallel
        // command in the same transaction.
        conn.batch_execute(
            "SET citus.enable_unsafe_triggers = on;
             SET citus.multi_shard_modify_mode = 'sequential'",
        )
        .map_err(MigrationError::Distribute)?;
    }
    Ok(on_citus)
}

fn distribute_locked(
    conn: &mut PgConnection,
) -> Result<super::citus::Distribution, MigrationError> {
    let done = super::citus::distribute(conn).map_err(MigrationError::Distribute)?;
    for table in &done.reference {
        log::info!("citus: {table} is a reference table");
    }
    for table in &done.distributed {
        log::info!("citus: {table} is distributed by account_id");
    }
    Ok(done)
}

/// Reverts the last applied migration, or all of them; returns the names
/// reverted, newest first.
pub fn revert(conn: &mut PgConnection, scope: Scope) -> Result<Vec<MigrationName>, MigrationError> {
    with_migration_lock(conn, |conn| revert_locked(conn, scope))
}

fn revert_locked(
    conn: &mut PgConnection,
    scope: Scope,
) -> Result<Vec<MigrationName>, MigrationError> {
    if applied_versions(conn)?.is_empty() {
        return Err(MigrationError::NothingToRevert);
    }
    allow_triggers_on_citus(conn)?;
    let reverted = match scope {
        Scope::Last => vec![
            conn.revert_last_migration(MIGRATIONS)
                .map_err(MigrationError::Harness)?,
        ],
        Scope::All => conn
            .revert_all_migrations(MIGRATIONS)
            .map_err(MigrationError::Harness)?,
    };
    Ok(reverted.iter().map(|v| name_of(&v.to_string())).collect())
}

/// Reverts and re-applies the last migration, or all of them (what
/// `diesel migration redo [--all]` does); returns the names redone.
pub fn redo(conn: &mut PgConnection, scope: Scope) -> Result<Vec<MigrationName>, MigrationError> {
    with_migration_lock(conn, |conn| {
        let mut reverted = revert_locked(conn, scope)?;
        reverted.reverse();
        // Re-apply exactly what was reverted, not other pending migrations.
        let mut migrations =
            diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
                .map_err(MigrationError::Harness)?;
        migrations.retain(|m| reverted.contains(&m.name().to_string()));
        migrations.sort_by_key(|m| m.name().version().to_string());
        for migration in &migrations {
            conn.run_migration(migration.as_ref())
                .map_err(MigrationError::Harness)?;
        }
        Ok(reverted)
    })
}
