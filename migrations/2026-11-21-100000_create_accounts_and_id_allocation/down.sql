DROP FUNCTION touch_updated_at();
DROP FUNCTION advance_account_scoped_ids();
DROP FUNCTION allocate_account_scoped_id();
DROP TABLE id_counters;
DROP TABLE accounts;
