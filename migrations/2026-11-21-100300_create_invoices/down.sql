DROP TABLE invoices;
DELETE FROM id_counters WHERE table_name = 'invoices';
