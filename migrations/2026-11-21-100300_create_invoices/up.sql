-- An invoice reaches its customer through (account_id, customer_id): the same
-- account_id column on both sides, so it cannot name another account's
-- customer.
CREATE TABLE invoices (
    account_id  text        NOT NULL,
    id          bigint      NOT NULL,
    customer_id bigint      NOT NULL,
    number      text,
    status      text        NOT NULL DEFAULT 'draft',
    currency    text        NOT NULL,
    issue_date  date,
    due_date    date,
    notes       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT invoices_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT invoices_customer_fkey FOREIGN KEY (account_id, customer_id)
        REFERENCES customers (account_id, id),
    CONSTRAINT invoices_number_unique UNIQUE (account_id, number),
    CONSTRAINT invoices_id_positive CHECK (id > 0),
    CONSTRAINT invoices_number_length CHECK (char_length(btrim(number)) BETWEEN 1 AND 100),
    CONSTRAINT invoices_status_valid CHECK (status IN ('draft', 'issued', 'paid', 'void')),
    CONSTRAINT invoices_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT invoices_due_on_or_after_issue CHECK (due_date >= issue_date),
    CONSTRAINT invoices_notes_length CHECK (char_length(notes) BETWEEN 1 AND 5000)
);

-- Each index leads with a foreign key's columns or a list filter, and ends
-- with id so that keyset pagination under that filter reads in order.
CREATE INDEX invoices_customer_idx ON invoices (account_id, customer_id, id);
CREATE INDEX invoices_status_idx ON invoices (account_id, status, id);
CREATE INDEX invoices_issue_date_idx ON invoices (account_id, issue_date, id);

CREATE TRIGGER invoices_allocate_id
    BEFORE INSERT ON invoices FOR EACH ROW WHEN (NEW.id IS NULL)
    EXECUTE FUNCTION allocate_account_scoped_id();
CREATE TRIGGER invoices_advance_ids
    AFTER INSERT ON invoices REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION advance_account_scoped_ids();
CREATE TRIGGER invoices_touch_updated_at
    BEFORE UPDATE ON invoices FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION touch_updated_at();
