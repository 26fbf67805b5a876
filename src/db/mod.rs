//! The database: connections, the pool and the embedded migrations.

pub mod migrations;
mod pool;

pub use pool::{Database, DbError, PgPool};

use diesel::{Connection, ConnectionError, PgConnection};

/// One connection, for the command line's one-off work (migrations, admin).
pub fn connect(url: &str) -> Result<PgConnection, ConnectionError> {
    PgConnection::establish(url)
}
