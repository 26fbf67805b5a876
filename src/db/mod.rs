//! The database: connections, the pool, the tenant transaction and the
//! embedded migrations.

pub mod citus;
pub mod migrations;
mod pool;
pub mod tenant;

use std::time::Duration;

pub use pool::{Database, DbError, Deadline, PgPool, disable_statement_cache};
pub use tenant::{Actor, TenantConn, Timeouts, in_tenant_transaction};

use diesel::result::Error as DieselError;
use diesel::{Connection, ConnectionError, PgConnection};

/// How long a TCP connection may go without an answer to keepalive probes:
/// idle 30 s, then 3 probes 10 s apart.
const KEEPALIVES: [(&str, &str); 4] = [
    ("keepalives", "1"),
    ("keepalives_idle", "30"),
    ("keepalives_interval", "10"),
    ("keepalives_count", "3"),
];

/// `url` with the client-side limits every connection should have, unless
/// the URL sets them itself: TCP keepalives (a dead peer is noticed),
/// `connect_timeout` (libpq counts whole seconds, at least 2) and
/// `tcp_user_timeout` (data sent but never acknowledged). Works for both
/// libpq forms: `postgresql://…?k=v` URIs and `k=v k=v` strings.
pub fn connection_url(url: &str, connect: Duration, statement: Duration) -> String {
    let connect_s = connect.as_secs_f64().ceil().max(2.0) as u64;
    let user_timeout_ms = (statement + connect).as_millis().max(10_000);
    let mut wanted: Vec<(&str, String)> = KEEPALIVES
        .iter()
        .map(|(key, value)| (*key, (*value).to_owned()))
        .collect();
    wanted.push(("connect_timeout", connect_s.to_string()));
    wanted.push(("tcp_user_timeout", user_timeout_ms.to_string()));
    let is_uri = url.starts_with("postgresql://") || url.starts_with("postgres://");
    let mut out = url.to_owned();
    for (key, value) in wanted {
        if is_uri {
            let query = url.split_once('?').map_or("", |(_, q)| q);
            if query
                .split('&')
                .any(|pair| pair.split('=').next() == Some(key))
            {
                continue;
            }
            out.push(if out.contains('?') { '&' } else { '?' });
            out.push_str(&format!("{key}={value}"));
        } else {
            let present = url
                .split_whitespace()
                .any(|pair| pair.split('=').next().map(str::trim) == Some(key));
            if !present {
                out.push_str(&format!(" {key}={value}"));
            }
        }
    }
    out
}

/// One connection, for the command line's one-off work (migrations, admin):
/// with keepalives and a connect timeout.
pub fn connect(url: &str) -> Result<PgConnection, ConnectionError> {
    PgConnection::establish(&connection_url(
        url,
        Duration::from_secs(10),
        Duration::ZERO,
    ))
}

/// The name of the constraint a database error names, as the schema spells
/// it. On Citus the error comes from a shard, whose constraints carry the
/// shard's id (`invoices_customer_fkey_102045`); no constraint of the schema
/// ends in `_<digits>`, so that suffix is the shard's and is dropped. Citus
/// passes a worker's error on without its constraint field, so the name is
/// then read from the message (`… violates foreign key constraint "…"`).
pub fn constraint_name(info: &dyn diesel::result::DatabaseErrorInformation) -> Option<&str> {
    let name = info.constraint_name().or_else(|| {
        let (_, quoted) = info.message().split_once(" constraint \"")?;
        quoted.split('"').next()
    })?;
    Some(match name.rsplit_once('_') {
        Some((base, shard)) if !shard.is_empty() && shard.bytes().all(|b| b.is_ascii_digit()) => {
            base
        }
        _ => name,
    })
}

/// Whether the server cancelled a statement because it ran or waited too
/// long (statement_timeout, lock_timeout, idle_in_transaction): the
/// database is slow or something holds a lock, so the answer is 503.
///
/// Diesel does not expose the SQLSTATE (57014, 55P03, 25P03), so this reads
/// the server's message, which is English unless `lc_messages` says
/// otherwise (only a superuser can change it).
pub fn is_timeout(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            message.starts_with("canceling statement due to statement timeout")
                || message.starts_with("canceling statement due to lock timeout")
                || message.contains("idle-in-transaction timeout")
                || message.starts_with("could not obtain lock")
        }
        _ => false,
    }
}

/// Whether the connection's role sees every account: a superuser, a role
/// with BYPASSRLS, or the tables' owner (the owner's tools need one; the
/// service's role is none of these). Also false before the schema exists,
/// when only a superuser can tell.
pub fn sees_every_account(conn: &mut PgConnection) -> diesel::QueryResult<bool> {
    #[derive(diesel::QueryableByName)]
    struct Bypass {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        bypasses: bool,
    }
    let role: Bypass = diesel::RunQueryDsl::get_result(
        diesel::sql_query(
            "SELECT r.rolsuper OR r.rolbypassrls
                    OR coalesce(to_regclass('public.accounts') IS NOT NULL
                        AND (SELECT relowner FROM pg_class WHERE oid = to_regclass('public.accounts')) = r.oid,
                       false)
                    OR (to_regclass('public.accounts') IS NULL
                        AND has_database_privilege(current_database(), 'CREATE')) AS bypasses
             FROM pg_roles r WHERE r.rolname = current_user",
        ),
        conn,
    )?;
    Ok(role.bypasses)
}
