//! The database: connections and the embedded migrations.

pub mod migrations;

use diesel::{Connection, ConnectionError, PgConnection};

/// One connection, for the command line's one-off work (migrations, admin).
pub fn connect(url: &str) -> Result<PgConnection, ConnectionError> {
    PgConnection::establish(url)
}
