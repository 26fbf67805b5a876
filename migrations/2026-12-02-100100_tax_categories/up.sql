-- Tax categories (EN 16931 / UNCL 5305) on every line, and what an invoice
-- needs to be sent: its rounding mode, the service date or period, and the
-- parties as they were when it was issued.
--
-- A line's category decides its rate: S (standard) exactly when the rate
-- is above 0; Z (zero rated), E (exempt), AE (reverse charge), K
-- (intra-community supply), G (export) and O (outside the scope of VAT)
-- carry 0 %, and all but S and Z name the reason (text or a VATEX code).
ALTER TABLE invoice_items
    ADD COLUMN tax_category text,
    ADD COLUMN tax_exemption_reason text;
UPDATE invoice_items SET tax_category = CASE WHEN tax_rate > 0 THEN 'S' ELSE 'Z' END;
ALTER TABLE invoice_items
    ALTER COLUMN tax_category SET NOT NULL,
    ADD CONSTRAINT invoice_items_tax_category_valid
        CHECK (tax_category IN ('S', 'Z', 'E', 'AE', 'K', 'G', 'O')),
    ADD CONSTRAINT invoice_items_tax_category_rate
        CHECK ((tax_category = 'S') = (tax_rate > 0)),
    ADD CONSTRAINT invoice_items_tax_exemption_reason_needed
        CHECK ((tax_category IN ('S', 'Z')) = (tax_exemption_reason IS NULL)),
    ADD CONSTRAINT invoice_items_tax_exemption_reason_length
        CHECK (char_length(btrim(tax_exemption_reason)) BETWEEN 1 AND 1000),
    -- A credit note's line refers to an item of its own invoice (see the
    -- credit_notes migration): this is the key it refers by.
    ADD CONSTRAINT invoice_items_invoice_id_id_unique UNIQUE (account_id, invoice_id, id);

-- A line inserted without a category (a DBA's plain SQL) gets the one its
-- rate decides, as the API's default does.
CREATE FUNCTION default_tax_category() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.tax_category := CASE WHEN NEW.tax_rate > 0 THEN 'S' ELSE 'Z' END;
    RETURN NEW;
END
$$;
CREATE TRIGGER invoice_items_default_tax_category
    BEFORE INSERT ON invoice_items FOR EACH ROW WHEN (NEW.tax_category IS NULL)
    EXECUTE FUNCTION default_tax_category();

-- tax_rounding: `line` rounds each line's tax, `document` each breakdown
-- entry's (see the README). A draft follows the account's setting; issuing
-- fixes it on the invoice, so a later change of the account's setting never
-- changes an issued invoice's amounts.
--
-- seller and buyer: the account's profile and the customer as they were at
-- issue (JSON in the shape of the API's representations). An issued
-- invoice's document shows these, never the live rows, which may change.
ALTER TABLE invoices
    ADD COLUMN tax_rounding text NOT NULL DEFAULT 'line',
    ADD COLUMN service_date date,
    ADD COLUMN service_period_start date,
    ADD COLUMN service_period_end date,
    ADD COLUMN seller jsonb,
    ADD COLUMN buyer jsonb,
    ADD CONSTRAINT invoices_tax_rounding_valid CHECK (tax_rounding IN ('line', 'document')),
    ADD CONSTRAINT invoices_service_period_whole
        CHECK ((service_period_start IS NULL) = (service_period_end IS NULL)),
    ADD CONSTRAINT invoices_service_period_ordered CHECK (service_period_end >= service_period_start),
    ADD CONSTRAINT invoices_service_date_or_period
        CHECK (service_date IS NULL OR service_period_start IS NULL);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoiced_app') THEN
        GRANT INSERT (tax_category, tax_exemption_reason), UPDATE (tax_category, tax_exemption_reason)
            ON invoice_items TO invoiced_app;
        GRANT INSERT (tax_rounding, service_date, service_period_start, service_period_end),
              UPDATE (tax_rounding, service_date, service_period_start, service_period_end, seller, buyer)
            ON invoices TO invoiced_app;
    END IF;
END
$$;
