-- subtotal and tax are the line's derived amounts, computed by the database
-- from the row itself, so they can never disagree with it: numeric round()
-- rounds half away from zero, at the line level.
CREATE TABLE invoice_items (
    account_id  text          NOT NULL,
    id          bigint        NOT NULL,
    invoice_id  bigint        NOT NULL,
    position    integer       NOT NULL,
    description text          NOT NULL,
    quantity    numeric(12,3) NOT NULL,
    unit_price  numeric(14,2) NOT NULL,
    tax_rate    numeric(5,2)  NOT NULL DEFAULT 0,
    subtotal    numeric(14,2) NOT NULL
        GENERATED ALWAYS AS (round(quantity * unit_price, 2)) STORED,
    tax         numeric(14,2) NOT NULL
        GENERATED ALWAYS AS (round(round(quantity * unit_price, 2) * tax_rate / 100, 2)) STORED,
    created_at  timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT invoice_items_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT invoice_items_invoice_fkey FOREIGN KEY (account_id, invoice_id)
        REFERENCES invoices (account_id, id) ON DELETE CASCADE,
    CONSTRAINT invoice_items_id_positive CHECK (id > 0),
    CONSTRAINT invoice_items_position_positive CHECK (position >= 1),
    CONSTRAINT invoice_items_description_length CHECK (char_length(description) <= 1000),
    CONSTRAINT invoice_items_quantity_positive CHECK (quantity > 0),
    CONSTRAINT invoice_items_unit_price_not_negative CHECK (unit_price >= 0),
    CONSTRAINT invoice_items_tax_rate_percent CHECK (tax_rate BETWEEN 0 AND 100)
);

CREATE INDEX invoice_items_invoice_idx ON invoice_items (account_id, invoice_id, position, id);

CREATE TRIGGER invoice_items_allocate_id
    BEFORE INSERT ON invoice_items FOR EACH ROW WHEN (NEW.id IS NULL)
    EXECUTE FUNCTION allocate_account_scoped_id();
CREATE TRIGGER invoice_items_advance_ids
    AFTER INSERT ON invoice_items REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION advance_account_scoped_ids();
