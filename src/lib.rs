//! invoiced: a multi-tenant invoicing backend on PostgreSQL.
//!
//! Where things live:
//! - [`schema`]: the Diesel schema, as `diesel print-schema` prints it.
//! - [`db`]: connections, the pool and the embedded migrations.
//! - [`local_postgres`]: a private PostgreSQL started from the installed
//!   server binaries, for `invoiced dev` and the test harness.
//! - [`cli`]: the `invoiced` command line.

pub mod cli;
pub mod config;
pub mod db;
pub mod http;
pub mod local_postgres;
pub mod schema;
