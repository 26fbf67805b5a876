-- Least privilege for the service's role, column by column.
--
-- An SQL injection through invoiced_app (the service's role) must not be
-- able to mint API keys, create accounts, rewrite history or force ids to
-- be reused. So the app may:
--   accounts          SELECT (the profile columns' UPDATE comes with them)
--   api_keys          SELECT, UPDATE (last_used_at): no new keys, no un-revoking
--   customers         SELECT, INSERT, DELETE and UPDATE of its data columns
--   invoices          SELECT, INSERT, DELETE and UPDATE of its data columns
--   invoice_items     SELECT, INSERT, DELETE and UPDATE of its data columns
--   payments          SELECT, INSERT: a payment is never changed or removed
--   idempotency_keys  SELECT, INSERT, UPDATE of the stored response
--   id_counters       nothing: ids are allocated by SECURITY DEFINER
--                     triggers owned by the owner
-- INSERT is granted on the columns the service writes, never on `id` or
-- `created_at`: ids come from the counters, timestamps from the database.
-- `invoiced verify` checks that the grants are exactly these.
--
-- The grants name the role setup_postgres.sql creates; without it (a
-- database set up otherwise) they are skipped, and verify says so.

-- The counters are reachable only through these trigger functions, which
-- run as their owner (SECURITY DEFINER) with a pinned search_path, so no
-- caller can slip its own id_counters or functions in front of ours.
ALTER FUNCTION allocate_account_scoped_id() SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION advance_account_scoped_ids() SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp;
REVOKE EXECUTE ON FUNCTION allocate_account_scoped_id(), advance_account_scoped_ids() FROM PUBLIC;

-- Expired idempotency keys are pruned for every account by the service's
-- maintenance task, which row-level security would confine to one account:
-- this function does it as the owner, and only that. Oldest first, at most
-- `batch` rows a call, so one call never holds many locks for long.
DROP INDEX idempotency_keys_expiry_idx;
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
CREATE FUNCTION prune_expired_idempotency_keys(batch integer DEFAULT 10000) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH expired AS (
        SELECT account_id, key FROM idempotency_keys
        WHERE created_at < now() - interval '24 hours'
        ORDER BY created_at
        LIMIT batch
    ), pruned AS (
        DELETE FROM idempotency_keys k USING expired e
        WHERE k.account_id = e.account_id AND k.key = e.key
        RETURNING 1
    )
    SELECT count(*) FROM pruned
$$;
REVOKE EXECUTE ON FUNCTION prune_expired_idempotency_keys(integer) FROM PUBLIC;

-- A customer search (?q=) stays inside its account: the trigram index leads
-- with account_id (btree_gin makes a text equality a GIN key), so a scan of
-- it reads only that account's matches, whatever the others hold. (Under
-- row-level security, as the service runs, PostgreSQL evaluates ILIKE
-- through no index at all, the operator not being leakproof: a search then
-- reads the account's customers through an account_id index, still none of
-- another account's.)
CREATE EXTENSION IF NOT EXISTS btree_gin;
DROP INDEX customers_search_idx;
CREATE INDEX customers_search_idx ON customers
    USING gin (account_id, name gin_trgm_ops, email gin_trgm_ops);

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoiced_app') THEN
        RAISE NOTICE 'no role invoiced_app: run setup_postgres.sql, then grant as this migration does';
        RETURN;
    END IF;
    REVOKE ALL ON accounts, api_keys, customers, invoices, invoice_items, payments,
        id_counters, idempotency_keys FROM invoiced_app;
    GRANT SELECT ON accounts TO invoiced_app;
    GRANT SELECT, UPDATE (last_used_at) ON api_keys TO invoiced_app;
    GRANT SELECT, DELETE,
        INSERT (account_id, name, email, phone, address, tax_id),
        UPDATE (name, email, phone, address, tax_id)
        ON customers TO invoiced_app;
    GRANT SELECT, DELETE,
        INSERT (account_id, customer_id, number, currency, issue_date, due_date, notes),
        UPDATE (customer_id, number, status, currency, issue_date, due_date, notes)
        ON invoices TO invoiced_app;
    GRANT SELECT, DELETE,
        INSERT (account_id, invoice_id, position, description, quantity, unit_price, tax_rate),
        UPDATE (position, description, quantity, unit_price, tax_rate)
        ON invoice_items TO invoiced_app;
    GRANT SELECT, INSERT (account_id, invoice_id, amount, paid_at, method, reference)
        ON payments TO invoiced_app;
    GRANT SELECT,
        INSERT (account_id, key, request_hash, response_status, response_body),
        UPDATE (request_hash, response_status, response_body, created_at)
        ON idempotency_keys TO invoiced_app;
    GRANT EXECUTE ON FUNCTION prune_expired_idempotency_keys(integer) TO invoiced_app;
END
$$;
