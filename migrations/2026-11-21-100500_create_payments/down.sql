DROP TABLE payments;
DELETE FROM id_counters WHERE table_name = 'payments';
