//! Integration tests: one binary, one private PostgreSQL, a fresh database
//! per test (see `harness`).

mod harness;

mod api_admin;
mod api_auth;
mod api_customers;
mod api_errors;
mod database_outage;
mod id_allocation;
mod migrations;
mod roles;
mod schema_catalog;
mod schema_constraints;
mod service_process;
