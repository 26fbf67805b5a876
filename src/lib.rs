//! invoiced: a multi-tenant invoicing backend on PostgreSQL.
//!
//! Where things live:
//! - [`schema`]: the Diesel schema, as `diesel print-schema` prints it.
//! - [`db`]: connections, the pool, the tenant transaction (the scope every
//!   tenant query runs in) and the embedded migrations.
//! - [`domain`]: validated request values (parse, don't validate).
//! - [`models`]: one module per table, with its named queries.
//! - [`http`]: the actix-web application: routes, the tenant extractor and
//!   key check, the error policy, the server.
//! - [`views`]: the resources as the API (and every event) shows them.
//! - [`accounts`]: an account's own profile, the seller on its invoices.
//! - [`numbering`]: legal document numbers, from each account's series.
//! - [`invoicing`]: the invoice lifecycle, items, payments, credit notes.
//! - [`documents`]: what an invoice says, and what an e-invoice needs.
//! - [`admin`]: accounts and API keys, for `/admin` and the CLI.
//! - [`import`]: `invoiced import-sqlite`, the legacy SQLite importer.
//! - [`maintenance`]: what `serve` prunes now and then (expired keys, old events).
//! - [`events`]: the event written with every change (audit trail, outbox).
//! - [`webhooks`]: endpoints, destination rules, signing, the sender.
//! - [`metrics`]: what `/metrics` reports, in Prometheus' text format.
//! - [`verify`]: `invoiced verify`, the invariants checked on a live database.
//! - [`local_postgres`]: a private PostgreSQL started from the installed
//!   server binaries, for `invoiced dev` and the test harness.
//! - [`cli`]: the `invoiced` command line.

pub mod accounts;
pub mod admin;
pub mod cli;
pub mod config;
pub mod db;
pub mod dev;
pub mod documents;
pub mod domain;
pub mod events;
pub mod http;
pub mod import;
pub mod invoicing;
pub mod local_postgres;
pub mod maintenance;
pub mod metrics;
pub mod models;
pub mod numbering;
pub mod schema;
pub mod verify;
pub mod views;
pub mod webhooks;
