//! Integration tests: one binary, one private PostgreSQL, a fresh database
//! per test (see `harness`).

mod harness;

mod api_account;
mod api_admin;
mod api_auth;
mod api_credit_notes;
mod api_customers;
mod api_errors;
mod api_idempotency;
mod api_invoices;
mod api_issuing;
mod api_payments;
mod api_tax;
mod api_validation;
mod citus;
mod database_outage;
mod documents;
mod events;
mod id_allocation;
mod import;
mod import_rules;
mod isolation;
mod legacy_file;
mod metrics;
mod migrations;
mod openapi;
mod query_plans;
mod readme;
mod roles;
mod row_level_security;
mod schema_catalog;
mod schema_constraints;
mod service_process;
mod verify;
mod webhook_processes;
mod webhooks;
