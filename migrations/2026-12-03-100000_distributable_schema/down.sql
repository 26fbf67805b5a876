DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoiced_app') THEN
        REVOKE INSERT (account_id, series, period, next_value, last_used),
               UPDATE (next_value, last_used)
            ON number_sequences FROM invoiced_app;
        REVOKE EXECUTE ON FUNCTION scoped_account() FROM invoiced_app;
    END IF;
END
$$;
ALTER FUNCTION take_document_sequence(text, integer) SECURITY DEFINER;
CREATE OR REPLACE FUNCTION set_next_document_sequence(p_series text, p_period integer, p_next bigint)
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
DROP TRIGGER number_sequences_guard ON number_sequences;
DROP FUNCTION guard_number_sequence();

CREATE OR REPLACE FUNCTION prune_expired_idempotency_keys(batch integer DEFAULT 10000) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH expired AS (
        SELECT account_id, key FROM idempotency_keys
        WHERE created_at < now() - interval '24 hours'
        ORDER BY created_at
        LIMIT batch
    ), pruned AS (
        DELETE FROM idempotency_keys k USING expired e
        WHERE k.account_id = e.account_id AND k.key = e.key
        RETURNING 1
    )
    SELECT count(*) FROM pruned
$$;

CREATE OR REPLACE FUNCTION invoice_settled(p_account text, p_invoice bigint, OUT paid numeric, OUT credited numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT (SELECT coalesce(sum(amount), 0) FROM payments
            WHERE account_id = p_account AND invoice_id = p_invoice),
           (SELECT coalesce(sum(taxable_amount + tax_amount), 0) FROM credit_note_taxes
            WHERE account_id = p_account AND invoice_id = p_invoice)
$$;

CREATE OR REPLACE FUNCTION invoice_total(p_account text, p_invoice bigint, p_rounding text) RETURNS numeric
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT coalesce(sum(g.subtotal + CASE WHEN p_rounding = 'document'
                                          THEN round(g.subtotal * g.rate / 100, 2)
                                          ELSE g.tax END), 0)
    FROM (SELECT sum(subtotal) AS subtotal, sum(tax) AS tax, tax_rate AS rate
          FROM invoice_items WHERE account_id = p_account AND invoice_id = p_invoice
          GROUP BY tax_category, tax_rate) g
$$;

DROP TRIGGER customers_fill_row ON customers;
DROP TRIGGER invoices_fill_row ON invoices;
DROP TRIGGER invoice_items_fill_row ON invoice_items;
DROP TRIGGER payments_fill_row ON payments;
DROP TRIGGER idempotency_keys_fill_row ON idempotency_keys;
DROP TRIGGER credit_notes_fill_row ON credit_notes;
DROP FUNCTION fill_inserted_row();
ALTER TABLE customers ALTER created_at SET DEFAULT now(), ALTER updated_at SET DEFAULT now();
ALTER TABLE invoices ALTER created_at SET DEFAULT now(), ALTER updated_at SET DEFAULT now(),
    ALTER status SET DEFAULT 'draft';
ALTER TABLE invoice_items ALTER created_at SET DEFAULT now();
ALTER TABLE payments ALTER created_at SET DEFAULT now(), ALTER paid_at SET DEFAULT now();
ALTER TABLE idempotency_keys ALTER created_at SET DEFAULT now();
ALTER TABLE credit_notes ALTER created_at SET DEFAULT now();

CREATE FUNCTION advance_account_scoped_ids() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    INSERT INTO id_counters AS counter (account_id, table_name, last_id)
    SELECT account_id, TG_TABLE_NAME, max(id) FROM inserted_rows GROUP BY account_id
    ON CONFLICT (account_id, table_name)
        DO UPDATE SET last_id = excluded.last_id
        WHERE counter.last_id < excluded.last_id;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION advance_account_scoped_ids() FROM PUBLIC;

CREATE OR REPLACE FUNCTION allocate_account_scoped_id() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    INSERT INTO id_counters AS counter (account_id, table_name, last_id)
    VALUES (NEW.account_id, TG_TABLE_NAME, 1)
    ON CONFLICT (account_id, table_name)
        DO UPDATE SET last_id = counter.last_id + 1
    RETURNING counter.last_id INTO NEW.id;
    RETURN NEW;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_keys', 'customers', 'invoices', 'invoice_items', 'payments',
                             'credit_notes', 'credit_note_lines'] LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_allocate_id', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %I FOR EACH ROW WHEN (NEW.id IS NULL) '
                       'EXECUTE FUNCTION allocate_account_scoped_id()', t || '_allocate_id', t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS inserted_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION advance_account_scoped_ids()',
                       t || '_advance_ids', t);
    END LOOP;
END
$$;

ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_key_hash_unique,
    ADD CONSTRAINT api_keys_key_hash_unique UNIQUE (key_hash);
