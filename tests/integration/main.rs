//! Integration tests: one binary, one private PostgreSQL, a fresh database
//! per test (see `harness`).

mod harness;

mod id_allocation;
mod migrations;
mod roles;
mod schema_catalog;
mod schema_constraints;
