-- Prepares a PostgreSQL server for invoiced. Run it as a superuser:
--
--   psql -v app_password='…' -v owner_password='…' -f setup_postgres.sql
--
-- Optional: -v dbname=… (default invoiced). Safe to run again: it creates
-- what is missing and brings what exists back to the state described here
-- (re-running with new passwords changes them).
--
-- Roles:
--   invoiced_owner  owns the database, its schema and every table; runs
--                   migrations and imports; bypasses row-level security.
--   invoiced_app    what the service connects as: subject to row-level
--                   security, no DDL, no TRUNCATE, no temporary tables; it
--                   may read every table and write only what each migration
--                   grants it, column by column (see the least_privilege
--                   migration; `invoiced verify` checks the grants).

\set ON_ERROR_STOP on
\set QUIET on
SET client_min_messages = warning;

\if :{?dbname}
\else
    \set dbname invoiced
\endif
\if :{?app_password}
\else
    DO $$ BEGIN RAISE 'setup_postgres.sql: pass -v app_password=… (the password of invoiced_app)'; END $$;
\endif
\if :{?owner_password}
\else
    DO $$ BEGIN RAISE 'setup_postgres.sql: pass -v owner_password=… (the password of invoiced_owner)'; END $$;
\endif

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoiced_owner') AS create_owner \gset
\if :create_owner
    CREATE ROLE invoiced_owner;
\endif
ALTER ROLE invoiced_owner WITH LOGIN BYPASSRLS NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
SELECT format('ALTER ROLE invoiced_owner PASSWORD %L', :'owner_password') \gexec

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoiced_app') AS create_app \gset
\if :create_app
    CREATE ROLE invoiced_app;
\endif
ALTER ROLE invoiced_app WITH LOGIN NOBYPASSRLS NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
SELECT format('ALTER ROLE invoiced_app PASSWORD %L', :'app_password') \gexec

SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname') AS create_database \gset
\if :create_database
    SELECT format('CREATE DATABASE %I OWNER invoiced_owner', :'dbname') \gexec
\endif
SELECT format('ALTER DATABASE %I OWNER TO invoiced_owner', :'dbname') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'dbname') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO invoiced_app', :'dbname') \gexec
-- No temporary tables (earlier versions of this script granted them).
SELECT format('REVOKE TEMPORARY ON DATABASE %I FROM invoiced_app', :'dbname') \gexec

\connect :dbname
SET client_min_messages = warning;

-- Nobody but the owner creates objects in public (PostgreSQL before 15 let
-- every role do so).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO invoiced_owner;
GRANT USAGE ON SCHEMA public TO invoiced_app;

-- Tables the owner creates later (every migration) are readable by the
-- app; what it may write, each migration grants column by column. (Earlier
-- versions of this script granted every write by default: taken back.)
ALTER DEFAULT PRIVILEGES FOR ROLE invoiced_owner IN SCHEMA public
    REVOKE INSERT, UPDATE, DELETE ON TABLES FROM invoiced_app;
ALTER DEFAULT PRIVILEGES FOR ROLE invoiced_owner IN SCHEMA public
    GRANT SELECT ON TABLES TO invoiced_app;
ALTER DEFAULT PRIVILEGES FOR ROLE invoiced_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO invoiced_app;

-- Imports load in bulk with per-row triggers off (session_replication_role =
-- replica) and check every foreign key set-based before they commit; on
-- PostgreSQL 15+ the owner may be allowed that (before, imports keep the
-- triggers and are slower).
SELECT current_setting('server_version_num')::int >= 150000 AS can_grant_parameters \gset
\if :can_grant_parameters
    GRANT SET ON PARAMETER session_replication_role TO invoiced_owner;
\endif

-- Diesel's migration ledger, created here (as diesel would, IF NOT EXISTS)
-- so the app may read it (to report pending migrations) but never write it.
CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (
    version VARCHAR(50) PRIMARY KEY NOT NULL,
    run_on  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
ALTER TABLE __diesel_schema_migrations OWNER TO invoiced_owner;
REVOKE ALL ON __diesel_schema_migrations FROM invoiced_app;
GRANT SELECT ON __diesel_schema_migrations TO invoiced_app;

\echo 'invoiced: database' :"dbname" 'is ready; run the migrations as invoiced_owner (invoiced migrate run).'
