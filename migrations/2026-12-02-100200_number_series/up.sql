-- Legal document numbers: each account numbers its invoices and its credit
-- notes in series of its own (a format like '{YYYY}-{SEQ:5}', see the
-- accounts table), sequentially and without gaps.
--
-- The mechanism, like the id counters': number_sequences holds, per
-- account, series and period (the year for a series that restarts each
-- year, else 0), the next value and the last one used. Issuing takes the
-- next value with one upsert on that row (take_document_sequence), which
-- row-locks it until the transaction ends: concurrent issues in one
-- account queue there and get consecutive values, other accounts (other
-- rows) never wait, and a failed issue's rollback undoes the increment, so
-- no value is lost. A sequence cannot do this: it is not transactional.
-- The value may be raised (an account continuing a series from another
-- system), never lowered to one already used (set_next_document_sequence).
--
-- The app role may read the counters, and change them only through these
-- two functions, which run as the owner and act on the account the
-- transaction is scoped to (app.account_id), never on one passed to them.
CREATE TABLE number_sequences (
    account_id text    NOT NULL,
    series     text    NOT NULL,
    period     integer NOT NULL,
    next_value bigint  NOT NULL,
    last_used  bigint  NOT NULL DEFAULT 0,
    CONSTRAINT number_sequences_pkey PRIMARY KEY (account_id, series, period),
    CONSTRAINT number_sequences_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT number_sequences_series_valid CHECK (series IN ('invoice', 'credit_note')),
    CONSTRAINT number_sequences_period_valid CHECK (period = 0 OR period BETWEEN 1900 AND 9999),
    CONSTRAINT number_sequences_values_ordered CHECK (last_used >= 0 AND last_used < next_value)
);

ALTER TABLE number_sequences ENABLE ROW LEVEL SECURITY;
CREATE POLICY number_sequences_tenant_isolation ON number_sequences
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));

CREATE FUNCTION scoped_account() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    account text := NULLIF(current_setting('app.account_id', true), '');
BEGIN
    IF account IS NULL THEN
        RAISE EXCEPTION 'invoiced: no account is in scope (app.account_id is not set)';
    END IF;
    RETURN account;
END
$$;

-- The next value of the scoped account's series for a period, used.
CREATE FUNCTION take_document_sequence(p_series text, p_period integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    taken bigint;
BEGIN
    INSERT INTO number_sequences AS s (account_id, series, period, next_value, last_used)
    VALUES (scoped_account(), p_series, p_period, 2, 1)
    ON CONFLICT (account_id, series, period)
        DO UPDATE SET next_value = s.next_value + 1, last_used = s.next_value
    RETURNING last_used INTO taken;
    RETURN taken;
END
$$;

-- Sets the next value of a series; refused (a check violation of
-- number_sequences_not_lowered) for one at or below the last used.
CREATE FUNCTION set_next_document_sequence(p_series text, p_period integer, p_next bigint)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    used bigint;
BEGIN
    IF p_next < 1 THEN
        RAISE EXCEPTION 'a sequence starts at 1'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'number_sequences_not_lowered';
    END IF;
    INSERT INTO number_sequences AS s (account_id, series, period, next_value)
    VALUES (scoped_account(), p_series, p_period, p_next)
    ON CONFLICT (account_id, series, period) DO UPDATE SET next_value = excluded.next_value
        WHERE s.last_used < excluded.next_value
    RETURNING last_used INTO used;
    IF NOT FOUND THEN
        SELECT last_used INTO used FROM number_sequences
        WHERE account_id = scoped_account() AND series = p_series AND period = p_period;
        RAISE EXCEPTION 'the % series is used up to %', p_series, used
            USING ERRCODE = 'check_violation', CONSTRAINT = 'number_sequences_not_lowered';
    END IF;
    RETURN p_next;
END
$$;

REVOKE EXECUTE ON FUNCTION scoped_account(), take_document_sequence(text, integer),
    set_next_document_sequence(text, integer, bigint) FROM PUBLIC;

-- Every number an account's documents carry, invoices and credit notes
-- alike, so that no two of them ever share one: numbers given by a client
-- (a draft's), by the importer, and assigned at issue. Maintained by
-- triggers on the documents (as the owner), so nothing else needs to.
CREATE TABLE document_numbers (
    account_id  text   NOT NULL,
    number      text   NOT NULL,
    kind        text   NOT NULL,
    document_id bigint NOT NULL,
    CONSTRAINT document_numbers_pkey PRIMARY KEY (account_id, number),
    CONSTRAINT document_numbers_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT document_numbers_kind_valid CHECK (kind IN ('invoice', 'credit_note'))
);
INSERT INTO document_numbers (account_id, number, kind, document_id)
    SELECT account_id, number, 'invoice', id FROM invoices WHERE number IS NOT NULL;

ALTER TABLE document_numbers ENABLE ROW LEVEL SECURITY;
CREATE POLICY document_numbers_tenant_isolation ON document_numbers
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));

CREATE FUNCTION claim_document_number() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    doc_kind text := TG_ARGV[0];
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.number IS NOT NULL THEN
        DELETE FROM document_numbers
        WHERE account_id = OLD.account_id AND number = OLD.number
          AND kind = doc_kind AND document_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.number IS NOT NULL THEN
        INSERT INTO document_numbers (account_id, number, kind, document_id)
        VALUES (NEW.account_id, NEW.number, doc_kind, NEW.id);
    END IF;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION claim_document_number() FROM PUBLIC;

CREATE TRIGGER invoices_claim_number
    AFTER INSERT OR DELETE OR UPDATE OF number ON invoices
    FOR EACH ROW EXECUTE FUNCTION claim_document_number('invoice');

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoiced_app') THEN
        REVOKE ALL ON number_sequences, document_numbers FROM invoiced_app;
        GRANT SELECT ON number_sequences, document_numbers TO invoiced_app;
        GRANT EXECUTE ON FUNCTION take_document_sequence(text, integer),
            set_next_document_sequence(text, integer, bigint) TO invoiced_app;
    END IF;
END
$$;
