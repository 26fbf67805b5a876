CREATE INDEX invoice_items_invoice_idx ON invoice_items (account_id, invoice_id, position, id);
