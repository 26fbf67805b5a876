-- Credit notes: the only correction of an issued invoice (§ 14 UStG: a
-- document that refers to the original). Each is issued when created,
-- numbered from the account's credit-note series, and never changes: the
-- app role may insert and read them, nothing else.
--
-- A credit note's lines either credit a quantity of one of its invoice's
-- items (item_id) or are free lines. The composite keys make both
-- references stay inside the invoice: a line names its credit note and its
-- item through (account_id, invoice_id, ...), so it cannot credit another
-- invoice's item.
--
-- The amounts are stored, not generated: a line's subtotal and tax are
-- round(quantity × unit_price) and round(subtotal × rate / 100), except on
-- the line that credits what is left of an item, which takes exactly what
-- is left (the item's amounts less earlier credits), so that an item
-- credited in parts adds up to the cent. The tax breakdown of each credit
-- note (credit_note_taxes) is stored as issued, for the same reason in
-- `document` rounding. Stored once and immutable, they are what the
-- credit note says, whatever the code that computes them becomes.
CREATE TABLE credit_notes (
    account_id   text        NOT NULL,
    id           bigint      NOT NULL,
    invoice_id   bigint      NOT NULL,
    number       text        NOT NULL,
    kind         text        NOT NULL,
    reason       text        NOT NULL,
    currency     text        NOT NULL,
    issue_date   date        NOT NULL,
    tax_rounding text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT credit_notes_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT credit_notes_invoice_fkey FOREIGN KEY (account_id, invoice_id)
        REFERENCES invoices (account_id, id),
    CONSTRAINT credit_notes_invoice_id_id_unique UNIQUE (account_id, invoice_id, id),
    CONSTRAINT credit_notes_number_unique UNIQUE (account_id, number),
    CONSTRAINT credit_notes_id_positive CHECK (id > 0),
    CONSTRAINT credit_notes_number_length CHECK (char_length(btrim(number)) BETWEEN 1 AND 100),
    CONSTRAINT credit_notes_kind_valid CHECK (kind IN ('lines', 'full', 'cancellation')),
    CONSTRAINT credit_notes_reason_length CHECK (char_length(btrim(reason)) BETWEEN 1 AND 1000),
    CONSTRAINT credit_notes_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT credit_notes_tax_rounding_valid CHECK (tax_rounding IN ('line', 'document'))
);

CREATE TRIGGER credit_notes_allocate_id
    BEFORE INSERT ON credit_notes FOR EACH ROW WHEN (NEW.id IS NULL)
    EXECUTE FUNCTION allocate_account_scoped_id();
CREATE TRIGGER credit_notes_advance_ids
    AFTER INSERT ON credit_notes REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION advance_account_scoped_ids();
CREATE TRIGGER credit_notes_claim_number
    AFTER INSERT ON credit_notes
    FOR EACH ROW EXECUTE FUNCTION claim_document_number('credit_note');

CREATE TABLE credit_note_lines (
    account_id           text          NOT NULL,
    id                   bigint        NOT NULL,
    credit_note_id       bigint        NOT NULL,
    invoice_id           bigint        NOT NULL,
    position             integer       NOT NULL,
    item_id              bigint,
    description          text          NOT NULL,
    quantity             numeric(12,3) NOT NULL,
    unit_price           numeric(14,2) NOT NULL,
    tax_rate             numeric(5,2)  NOT NULL,
    tax_category         text          NOT NULL,
    tax_exemption_reason text,
    subtotal             numeric(14,2) NOT NULL,
    tax                  numeric(14,2) NOT NULL,
    CONSTRAINT credit_note_lines_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT credit_note_lines_credit_note_fkey FOREIGN KEY (account_id, invoice_id, credit_note_id)
        REFERENCES credit_notes (account_id, invoice_id, id),
    CONSTRAINT credit_note_lines_item_fkey FOREIGN KEY (account_id, invoice_id, item_id)
        REFERENCES invoice_items (account_id, invoice_id, id),
    CONSTRAINT credit_note_lines_id_positive CHECK (id > 0),
    CONSTRAINT credit_note_lines_position_positive CHECK (position >= 1),
    CONSTRAINT credit_note_lines_description_length CHECK (char_length(description) <= 1000),
    CONSTRAINT credit_note_lines_quantity_positive CHECK (quantity > 0),
    CONSTRAINT credit_note_lines_unit_price_not_negative CHECK (unit_price >= 0),
    CONSTRAINT credit_note_lines_tax_rate_percent CHECK (tax_rate BETWEEN 0 AND 100),
    CONSTRAINT credit_note_lines_tax_category_valid
        CHECK (tax_category IN ('S', 'Z', 'E', 'AE', 'K', 'G', 'O')),
    CONSTRAINT credit_note_lines_tax_category_rate CHECK ((tax_category = 'S') = (tax_rate > 0)),
    CONSTRAINT credit_note_lines_tax_exemption_reason_needed
        CHECK ((tax_category IN ('S', 'Z')) = (tax_exemption_reason IS NULL)),
    CONSTRAINT credit_note_lines_amounts_not_negative CHECK (subtotal >= 0 AND tax >= 0)
);

CREATE INDEX credit_note_lines_credit_note_idx
    ON credit_note_lines (account_id, invoice_id, credit_note_id, position);
CREATE INDEX credit_note_lines_item_idx ON credit_note_lines (account_id, invoice_id, item_id);

CREATE TRIGGER credit_note_lines_allocate_id
    BEFORE INSERT ON credit_note_lines FOR EACH ROW WHEN (NEW.id IS NULL)
    EXECUTE FUNCTION allocate_account_scoped_id();
CREATE TRIGGER credit_note_lines_advance_ids
    AFTER INSERT ON credit_note_lines REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION advance_account_scoped_ids();

-- One row per (category, rate) of a credit note: its VAT breakdown as issued.
CREATE TABLE credit_note_taxes (
    account_id       text          NOT NULL,
    credit_note_id   bigint        NOT NULL,
    invoice_id       bigint        NOT NULL,
    tax_category     text          NOT NULL,
    tax_rate         numeric(5,2)  NOT NULL,
    taxable_amount   numeric(14,2) NOT NULL,
    tax_amount       numeric(14,2) NOT NULL,
    exemption_reason text,
    CONSTRAINT credit_note_taxes_pkey PRIMARY KEY (account_id, credit_note_id, tax_category, tax_rate),
    CONSTRAINT credit_note_taxes_credit_note_fkey FOREIGN KEY (account_id, invoice_id, credit_note_id)
        REFERENCES credit_notes (account_id, invoice_id, id),
    CONSTRAINT credit_note_taxes_tax_category_valid
        CHECK (tax_category IN ('S', 'Z', 'E', 'AE', 'K', 'G', 'O')),
    CONSTRAINT credit_note_taxes_amounts_not_negative CHECK (taxable_amount >= 0 AND tax_amount >= 0)
);

-- Serves the invoices' amount_credited (by invoice) and the foreign key.
CREATE INDEX credit_note_taxes_invoice_idx ON credit_note_taxes (account_id, invoice_id, credit_note_id);

ALTER TABLE credit_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY credit_notes_tenant_isolation ON credit_notes
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));
ALTER TABLE credit_note_lines ENABLE ROW LEVEL SECURITY;
CREATE POLICY credit_note_lines_tenant_isolation ON credit_note_lines
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));
ALTER TABLE credit_note_taxes ENABLE ROW LEVEL SECURITY;
CREATE POLICY credit_note_taxes_tenant_isolation ON credit_note_taxes
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoiced_app') THEN
        REVOKE ALL ON credit_notes, credit_note_lines, credit_note_taxes FROM invoiced_app;
        GRANT SELECT, INSERT (account_id, invoice_id, number, kind, reason, currency, issue_date,
                              tax_rounding)
            ON credit_notes TO invoiced_app;
        GRANT SELECT, INSERT (account_id, credit_note_id, invoice_id, position, item_id, description,
                              quantity, unit_price, tax_rate, tax_category, tax_exemption_reason,
                              subtotal, tax)
            ON credit_note_lines TO invoiced_app;
        GRANT SELECT, INSERT (account_id, credit_note_id, invoice_id, tax_category, tax_rate,
                              taxable_amount, tax_amount, exemption_reason)
            ON credit_note_taxes TO invoiced_app;
    END IF;
END
$$;
