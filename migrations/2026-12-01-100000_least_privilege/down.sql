DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoiced_app') THEN
        REVOKE ALL ON accounts, api_keys, customers, invoices, invoice_items, payments,
            id_counters, idempotency_keys FROM invoiced_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON accounts, api_keys, customers, invoices,
            invoice_items, payments, id_counters, idempotency_keys TO invoiced_app;
    END IF;
END
$$;

DROP INDEX customers_search_idx;
CREATE INDEX customers_search_idx ON customers USING gin (name gin_trgm_ops, email gin_trgm_ops);
DROP EXTENSION IF EXISTS btree_gin;

DROP FUNCTION prune_expired_idempotency_keys(integer);
DROP INDEX idempotency_keys_created_idx;
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (account_id, created_at);

GRANT EXECUTE ON FUNCTION allocate_account_scoped_id(), advance_account_scoped_ids() TO PUBLIC;
ALTER FUNCTION advance_account_scoped_ids() SECURITY INVOKER RESET search_path;
ALTER FUNCTION allocate_account_scoped_id() SECURITY INVOKER RESET search_path;
