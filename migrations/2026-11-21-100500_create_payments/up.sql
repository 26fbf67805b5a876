-- Payments are immutable once recorded. That their sum never exceeds the
-- invoice's total is enforced where both are known: the service locks the
-- invoice row while recording a payment, and `invoiced verify` checks it.
CREATE TABLE payments (
    account_id text          NOT NULL,
    id         bigint        NOT NULL,
    invoice_id bigint        NOT NULL,
    amount     numeric(14,2) NOT NULL,
    paid_at    timestamptz   NOT NULL DEFAULT now(),
    method     text,
    reference  text,
    created_at timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT payments_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT payments_invoice_fkey FOREIGN KEY (account_id, invoice_id)
        REFERENCES invoices (account_id, id),
    CONSTRAINT payments_id_positive CHECK (id > 0),
    CONSTRAINT payments_amount_positive CHECK (amount > 0),
    CONSTRAINT payments_method_valid CHECK (method IN ('card', 'bank_transfer', 'cash', 'check', 'other')),
    CONSTRAINT payments_reference_length CHECK (char_length(reference) BETWEEN 1 AND 200)
);

CREATE INDEX payments_invoice_idx ON payments (account_id, invoice_id, id);

CREATE TRIGGER payments_allocate_id
    BEFORE INSERT ON payments FOR EACH ROW WHEN (NEW.id IS NULL)
    EXECUTE FUNCTION allocate_account_scoped_id();
CREATE TRIGGER payments_advance_ids
    AFTER INSERT ON payments REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION advance_account_scoped_ids();
