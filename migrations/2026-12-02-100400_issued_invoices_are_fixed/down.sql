DROP TRIGGER invoice_items_guard ON invoice_items;
DROP FUNCTION guard_invoice_item();
DROP TRIGGER invoices_guard ON invoices;
DROP FUNCTION guard_invoice();
DROP FUNCTION invoice_settled(text, bigint);
DROP FUNCTION invoice_total(text, bigint, text);
