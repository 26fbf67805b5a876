//! The migrations, compiled into the binary and applied under a
//! PostgreSQL advisory lock.
//!
//! diesel_migrations applies each migration in its own transaction but does
//! not coordinate concurrent runners: two instances starting at once would
//! both see a migration pending and both try to apply it. Every operation
//! here therefore holds a session-level advisory lock first, and reads the
//! state again once it has it.
//!
//! Each migration's SQL is sent one statement at a time (in its
//! transaction, as diesel does), not as one multi-statement query: on a
//! Citus coordinator, a DDL statement that Citus passes on to the workers
//! (on a distributed table, a function, a grant) is passed on as the query
//! string it arrived in, and a string of several statements is refused
//! there ("cannot insert multiple commands into a prepared statement").
//! `diesel migration run` sends the same files whole, which plain
//! PostgreSQL takes the same way.

use std::collections::HashSet;
use std::fmt;

use diesel::connection::BoxableConnection;
use diesel::migration::{
    Migration, MigrationMetadata, MigrationName as DieselName, MigrationSource, MigrationVersion,
};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_migrations::MigrationHarness;

/// Every migration under migrations/: (directory name, up.sql, down.sql),
/// oldest first (listed by build.rs).
const FILES: &[(&str, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The migrations, as diesel's harness takes them.
#[derive(Debug, Clone, Copy)]
pub struct SqlMigrations;

pub const MIGRATIONS: SqlMigrations = SqlMigrations;

struct SqlMigration {
    name: Named,
    up: &'static str,
    down: &'static str,
}

struct Named {
    name: &'static str,
    /// The directory name's date and time, digits only, as diesel keeps it.
    version: String,
}

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl DieselName for Named {
    fn version(&self) -> MigrationVersion<'_> {
        MigrationVersion::from(self.version.as_str())
    }
}

/// Every migration runs in its own transaction.
struct InTransaction;

impl MigrationMetadata for InTransaction {}

/// A statement of a migration that failed, and why.
#[derive(Debug)]
struct StatementFailed {
    migration: &'static str,
    statement: String,
    error: diesel::result::Error,
}

impl fmt::Display for StatementFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first_line = self.statement.lines().next().unwrap_or_default();
        write!(
            f,
            "migration {} failed at `{first_line}`: {}",
            self.migration, self.error
        )
    }
}

impl std::error::Error for StatementFailed {}

impl SqlMigration {
    fn execute(
        &self,
        conn: &mut dyn BoxableConnection<Pg>,
        sql: &str,
    ) -> diesel::migration::Result<()> {
        for statement in statements(sql) {
            conn.batch_execute(statement)
                .map_err(|error| StatementFailed {
                    migration: self.name.name,
                    statement: statement.to_owned(),
                    error,
                })?;
        }
        Ok(())
    }
}

impl Migration<Pg> for SqlMigration {
    fn run(&self, conn: &mut dyn BoxableConnection<Pg>) -> diesel::migration::Result<()> {
        self.execute(conn, self.up)
    }

    fn revert(&self, conn: &mut dyn BoxableConnection<Pg>) -> diesel::migration::Result<()> {
        self.execute(conn, self.down)
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        &InTransaction
    }

    fn name(&self) -> &dyn DieselName {
        &self.name
    }
}

impl MigrationSource<Pg> for SqlMigrations {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<Pg>>>> {
        Ok(FILES
            .iter()
            .map(|(name, up, down)| {
                let stamp = name.split('_').next().unwrap_or_default();
                Box::new(SqlMigration {
                    name: Named {
                        name,
                        version: stamp.chars().filter(char::is_ascii_digit).collect(),
                    },
                    up,
                    down,
                }) as Box<dyn Migration<Pg>>
            })
            .collect())
    }
}

/// The statements of an SQL script, each without its terminating `;`:
/// split at semicolons outside quotes ('…', E'…' with backslash escapes,
/// "…"), dollar quotes ($$…$$, $tag$…$tag$) and comments. A piece that is
/// only whitespace or comments is no statement.
fn statements(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut statements = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut has_code = false;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < bytes.len() {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'\'' => {
                let escapes = i > 0
                    && matches!(bytes[i - 1], b'E' | b'e')
                    && (i < 2 || !(bytes[i - 2].is_ascii_alphanumeric() || bytes[i - 2] == b'_'));
                i += 1;
                while i < bytes.len() {
                    if escapes && bytes[i] == b'\\' {
                        i += 2;
                    } else if bytes[i] == b'\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            i += 2;
                        } else {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                has_code = true;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += 1;
                }
                has_code = true;
            }
            b'$' => {
                // A dollar quote opens with $tag$ (tag: letters, digits, _,
                // not starting with a digit); $1 is a parameter.
                let tag_end = sql[i + 1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map(|n| i + 1 + n);
                match tag_end {
                    Some(end)
                        if bytes[end] == b'$'
                            && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) =>
                    {
                        let tag = &sql[i..=end];
                        let body = end + 1;
                        i = sql[body..]
                            .find(tag)
                            .map_or(bytes.len(), |n| body + n + tag.len() - 1);
                    }
                    _ => {}
                }
                has_code = true;
            }
            b';' => {
                if has_code {
                    statements.push(sql[start..i].trim());
                }
                start = i + 1;
                has_code = false;
            }
            c if !c.is_ascii_whitespace() => has_code = true,
            _ => {}
        }
        i += 1;
    }
    if has_code {
        statements.push(sql[start..].trim());
    }
    statements
}

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
    let migrations = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .expect("the migrations compiled in are listed without fail");
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
            MigrationSource::<Pg>::migrations(&MIGRATIONS).map_err(MigrationError::Harness)?;
        migrations.retain(|m| reverted.contains(&m.name().to_string()));
        migrations.sort_by_key(|m| m.name().version().to_string());
        for migration in &migrations {
            conn.run_migration(migration.as_ref())
                .map_err(MigrationError::Harness)?;
        }
        Ok(reverted)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_split_at_semicolons_outside_quotes_and_comments() {
        let script = "CREATE TABLE t (a text DEFAULT 'x;y', \"b;c\" int); -- a comment; still one
            /* block; comment /* nested; */ */
            CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $$
            BEGIN RETURN 'a;b'; END $$;
            DO $body$ BEGIN PERFORM 1; END $body$;
            SELECT E'it\\'s; here', $1;
            ;
            -- trailing comment";
        let got = statements(script);
        assert_eq!(got.len(), 4, "{got:#?}");
        assert!(got[0].starts_with("CREATE TABLE t") && got[0].ends_with("int)"));
        assert!(got[1].contains("RETURN 'a;b'; END $$"));
        assert!(
            got[1].contains("/* block; comment /* nested; */ */")
                && got[2].starts_with("DO $body$")
        );
        assert!(got[3].contains("$1"));
    }

    #[test]
    fn every_migration_is_listed_in_order_with_its_version() {
        let migrations = MigrationSource::<Pg>::migrations(&MIGRATIONS).unwrap();
        assert_eq!(migrations.len(), FILES.len());
        assert_eq!(migrations[0].name().version().to_string(), "20261121100000");
        let names: Vec<String> = migrations.iter().map(|m| m.name().to_string()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }
}
