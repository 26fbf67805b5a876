DROP POLICY idempotency_keys_tenant_isolation ON idempotency_keys;
ALTER TABLE idempotency_keys DISABLE ROW LEVEL SECURITY;

DROP POLICY id_counters_tenant_isolation ON id_counters;
ALTER TABLE id_counters DISABLE ROW LEVEL SECURITY;

DROP POLICY payments_tenant_isolation ON payments;
ALTER TABLE payments DISABLE ROW LEVEL SECURITY;

DROP POLICY invoice_items_tenant_isolation ON invoice_items;
ALTER TABLE invoice_items DISABLE ROW LEVEL SECURITY;

DROP POLICY invoices_tenant_isolation ON invoices;
ALTER TABLE invoices DISABLE ROW LEVEL SECURITY;

DROP POLICY customers_tenant_isolation ON customers;
ALTER TABLE customers DISABLE ROW LEVEL SECURITY;

DROP POLICY api_keys_tenant_isolation ON api_keys;
ALTER TABLE api_keys DISABLE ROW LEVEL SECURITY;

DROP POLICY accounts_tenant_isolation ON accounts;
ALTER TABLE accounts DISABLE ROW LEVEL SECURITY;
