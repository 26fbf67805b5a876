DROP TABLE customers;
DELETE FROM id_counters WHERE table_name = 'customers';
DROP EXTENSION pg_trgm;
