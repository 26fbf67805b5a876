-- Trigram indexes serve the list endpoint's case-insensitive substring
-- search (?q=) on name and email.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE customers (
    account_id text        NOT NULL,
    id         bigint      NOT NULL,
    name       text        NOT NULL,
    email      text,
    phone      text,
    address    text,
    tax_id     text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customers_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT customers_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT customers_id_positive CHECK (id > 0),
    CONSTRAINT customers_name_length CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
    CONSTRAINT customers_email_length CHECK (char_length(email) BETWEEN 1 AND 254),
    CONSTRAINT customers_phone_length CHECK (char_length(phone) BETWEEN 1 AND 100),
    CONSTRAINT customers_address_length CHECK (char_length(address) BETWEEN 1 AND 1000),
    CONSTRAINT customers_tax_id_length CHECK (char_length(tax_id) BETWEEN 1 AND 100)
);

CREATE INDEX customers_search_idx ON customers USING gin (name gin_trgm_ops, email gin_trgm_ops);

CREATE TRIGGER customers_allocate_id
    BEFORE INSERT ON customers FOR EACH ROW WHEN (NEW.id IS NULL)
    EXECUTE FUNCTION allocate_account_scoped_id();
CREATE TRIGGER customers_advance_ids
    AFTER INSERT ON customers REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION advance_account_scoped_ids();
CREATE TRIGGER customers_touch_updated_at
    BEFORE UPDATE ON customers FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION touch_updated_at();
