DROP TABLE invoice_items;
DELETE FROM id_counters WHERE table_name = 'invoice_items';
