-- Row-level security: the second wall behind the tenant filter that every
-- query of the service carries. Each tenant transaction first runs
-- set_config('app.account_id', <account>, true); these policies then admit
-- only that account's rows, for reading (USING) and for writing (WITH
-- CHECK). Without the setting, or with it empty, NULLIF yields NULL, the
-- comparison is never true, and no row is visible: the policies fail
-- closed. Each is a plain equality on account_id, so the (account_id, ...)
-- indexes still serve.
--
-- Table owners and roles with BYPASSRLS (invoiced_owner: migrations,
-- imports, administration) are not subject to these policies; the service's
-- role, invoiced_app, is.

ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY accounts_tenant_isolation ON accounts
    USING (id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (id = NULLIF(current_setting('app.account_id', true), ''));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_keys_tenant_isolation ON api_keys
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));

ALTER TABLE customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY customers_tenant_isolation ON customers
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));

ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY invoices_tenant_isolation ON invoices
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));

ALTER TABLE invoice_items ENABLE ROW LEVEL SECURITY;
CREATE POLICY invoice_items_tenant_isolation ON invoice_items
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));

ALTER TABLE payments ENABLE ROW LEVEL SECURITY;
CREATE POLICY payments_tenant_isolation ON payments
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));

ALTER TABLE id_counters ENABLE ROW LEVEL SECURITY;
CREATE POLICY id_counters_tenant_isolation ON id_counters
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_tenant_isolation ON idempotency_keys
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));
