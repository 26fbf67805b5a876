DROP TRIGGER invoice_items_default_tax_category ON invoice_items;
DROP FUNCTION default_tax_category();
ALTER TABLE invoices
    DROP COLUMN tax_rounding,
    DROP COLUMN service_date,
    DROP COLUMN service_period_start,
    DROP COLUMN service_period_end,
    DROP COLUMN seller,
    DROP COLUMN buyer;
ALTER TABLE invoice_items
    DROP CONSTRAINT invoice_items_invoice_id_id_unique,
    DROP COLUMN tax_category,
    DROP COLUMN tax_exemption_reason;
