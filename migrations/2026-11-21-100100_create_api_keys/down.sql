DROP TABLE api_keys;
DELETE FROM id_counters WHERE table_name = 'api_keys';
