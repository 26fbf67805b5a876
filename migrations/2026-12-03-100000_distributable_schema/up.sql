-- What a distributed PostgreSQL (Citus, every tenant table sharded by
-- account_id, see `invoiced distribute`) needs of the schema, with the same
-- behaviour on plain PostgreSQL.

-- A key is looked up within its account (X-Account-Id, then the prefix), so
-- its uniqueness need only hold there. A distributed table can enforce a
-- unique key only if it contains the distribution column.
ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_key_hash_unique,
    ADD CONSTRAINT api_keys_key_hash_unique UNIQUE (account_id, key_hash);

-- Per-account ids, one trigger per table instead of two.
--
-- The mechanism is the one described with id_counters: a row without an id
-- takes the next one with one upsert that row-locks the counter until the
-- transaction ends (consecutive ids, no gap, no reuse, accounts never wait
-- for each other). What changes is how explicitly given ids (a DBA's
-- INSERT) move the counter past them: the statement trigger read the
-- statement's transition table, which a distributed table cannot have (its
-- rows are written by the shards' own statements), so the same BEFORE
-- INSERT row trigger now does it, row by row, with an upsert that only ever
-- raises the counter. The importer's bulk load runs with per-row triggers
-- off and moves the counters itself, set-based.
--
-- The counted table is the trigger's argument, not TG_TABLE_NAME: on a
-- Citus worker the trigger fires on a shard (customers_102008), and the
-- counter must still be customers'.
CREATE OR REPLACE FUNCTION allocate_account_scoped_id() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    counted_table text := coalesce(TG_ARGV[0], TG_TABLE_NAME);
BEGIN
    IF NEW.id IS NULL THEN
        INSERT INTO id_counters AS counter (account_id, table_name, last_id)
        VALUES (NEW.account_id, counted_table, 1)
        ON CONFLICT (account_id, table_name)
            DO UPDATE SET last_id = counter.last_id + 1
        RETURNING counter.last_id INTO NEW.id;
    ELSIF NEW.id > 0 THEN
        -- (An id of 0 or below is the table's CHECK to refuse.)
        INSERT INTO id_counters AS counter (account_id, table_name, last_id)
        VALUES (NEW.account_id, counted_table, NEW.id)
        ON CONFLICT (account_id, table_name)
            DO UPDATE SET last_id = excluded.last_id
            WHERE counter.last_id < excluded.last_id;
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER api_keys_allocate_id ON api_keys;
DROP TRIGGER api_keys_advance_ids ON api_keys;
CREATE TRIGGER api_keys_allocate_id BEFORE INSERT ON api_keys
    FOR EACH ROW EXECUTE FUNCTION allocate_account_scoped_id('api_keys');

DROP TRIGGER customers_allocate_id ON customers;
DROP TRIGGER customers_advance_ids ON customers;
CREATE TRIGGER customers_allocate_id BEFORE INSERT ON customers
    FOR EACH ROW EXECUTE FUNCTION allocate_account_scoped_id('customers');

DROP TRIGGER invoices_allocate_id ON invoices;
DROP TRIGGER invoices_advance_ids ON invoices;
CREATE TRIGGER invoices_allocate_id BEFORE INSERT ON invoices
    FOR EACH ROW EXECUTE FUNCTION allocate_account_scoped_id('invoices');

DROP TRIGGER invoice_items_allocate_id ON invoice_items;
DROP TRIGGER invoice_items_advance_ids ON invoice_items;
CREATE TRIGGER invoice_items_allocate_id BEFORE INSERT ON invoice_items
    FOR EACH ROW EXECUTE FUNCTION allocate_account_scoped_id('invoice_items');

DROP TRIGGER payments_allocate_id ON payments;
DROP TRIGGER payments_advance_ids ON payments;
CREATE TRIGGER payments_allocate_id BEFORE INSERT ON payments
    FOR EACH ROW EXECUTE FUNCTION allocate_account_scoped_id('payments');

DROP TRIGGER credit_notes_allocate_id ON credit_notes;
DROP TRIGGER credit_notes_advance_ids ON credit_notes;
CREATE TRIGGER credit_notes_allocate_id BEFORE INSERT ON credit_notes
    FOR EACH ROW EXECUTE FUNCTION allocate_account_scoped_id('credit_notes');

DROP TRIGGER credit_note_lines_allocate_id ON credit_note_lines;
DROP TRIGGER credit_note_lines_advance_ids ON credit_note_lines;
CREATE TRIGGER credit_note_lines_allocate_id BEFORE INSERT ON credit_note_lines
    FOR EACH ROW EXECUTE FUNCTION allocate_account_scoped_id('credit_note_lines');

DROP FUNCTION advance_account_scoped_ids();

-- What the database fills in on the rows the service inserts (when it is
-- the creation time, a timestamp from the database; an invoice begins as a
-- draft) is set by a BEFORE INSERT trigger instead of a column DEFAULT.
-- Citus evaluates a DEFAULT on the coordinator and sends the shard an
-- INSERT that names the column, which the service's role may not insert
-- (least_privilege grants INSERT on its data columns only): the trigger
-- fills it on the shard instead, and the grants stay as they are. On plain
-- PostgreSQL the rows come out the same.
CREATE FUNCTION fill_inserted_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    filled text;
BEGIN
    FOREACH filled IN ARRAY TG_ARGV LOOP
        CASE filled
            WHEN 'created_at' THEN NEW.created_at := coalesce(NEW.created_at, now());
            WHEN 'updated_at' THEN NEW.updated_at := coalesce(NEW.updated_at, now());
            WHEN 'status' THEN NEW.status := coalesce(NEW.status, 'draft');
            WHEN 'paid_at' THEN NEW.paid_at := coalesce(NEW.paid_at, now());
        END CASE;
    END LOOP;
    RETURN NEW;
END
$$;

ALTER TABLE customers ALTER created_at DROP DEFAULT, ALTER updated_at DROP DEFAULT;
CREATE TRIGGER customers_fill_row BEFORE INSERT ON customers
    FOR EACH ROW EXECUTE FUNCTION fill_inserted_row('created_at', 'updated_at');

ALTER TABLE invoices ALTER created_at DROP DEFAULT, ALTER updated_at DROP DEFAULT,
    ALTER status DROP DEFAULT;
CREATE TRIGGER invoices_fill_row BEFORE INSERT ON invoices
    FOR EACH ROW EXECUTE FUNCTION fill_inserted_row('created_at', 'updated_at', 'status');

ALTER TABLE invoice_items ALTER created_at DROP DEFAULT;
CREATE TRIGGER invoice_items_fill_row BEFORE INSERT ON invoice_items
    FOR EACH ROW EXECUTE FUNCTION fill_inserted_row('created_at');

-- (paid_at too, although the service may give it: when it does not, the
-- payment was made when it was recorded, the same instant as created_at.)
ALTER TABLE payments ALTER created_at DROP DEFAULT, ALTER paid_at DROP DEFAULT;
CREATE TRIGGER payments_fill_row BEFORE INSERT ON payments
    FOR EACH ROW EXECUTE FUNCTION fill_inserted_row('created_at', 'paid_at');

ALTER TABLE idempotency_keys ALTER created_at DROP DEFAULT;
CREATE TRIGGER idempotency_keys_fill_row BEFORE INSERT ON idempotency_keys
    FOR EACH ROW EXECUTE FUNCTION fill_inserted_row('created_at');

ALTER TABLE credit_notes ALTER created_at DROP DEFAULT;
CREATE TRIGGER credit_notes_fill_row BEFORE INSERT ON credit_notes
    FOR EACH ROW EXECUTE FUNCTION fill_inserted_row('created_at');

-- The same functions in PL/pgSQL rather than SQL: Citus cannot plan a
-- distributed query inside an SQL function that uses its parameters (a
-- PL/pgSQL function's queries are planned with the values), and these run
-- where the shards are, from the guard triggers and the maintenance task.
CREATE OR REPLACE FUNCTION invoice_total(p_account text, p_invoice bigint, p_rounding text) RETURNS numeric
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RETURN (SELECT coalesce(sum(g.subtotal + CASE WHEN p_rounding = 'document'
                                                 THEN round(g.subtotal * g.rate / 100, 2)
                                                 ELSE g.tax END), 0)
            FROM (SELECT sum(subtotal) AS subtotal, sum(tax) AS tax, tax_rate AS rate
                  FROM invoice_items WHERE account_id = p_account AND invoice_id = p_invoice
                  GROUP BY tax_category, tax_rate) g);
END
$$;

CREATE OR REPLACE FUNCTION invoice_settled(p_account text, p_invoice bigint, OUT paid numeric, OUT credited numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    paid := (SELECT coalesce(sum(amount), 0) FROM payments
             WHERE account_id = p_account AND invoice_id = p_invoice);
    credited := (SELECT coalesce(sum(taxable_amount + tax_amount), 0) FROM credit_note_taxes
                 WHERE account_id = p_account AND invoice_id = p_invoice);
END
$$;

-- Oldest first, at most `batch` rows a call, as before. Across accounts,
-- so on Citus across shards: the one statement of the service that is
-- meant to be (it is maintenance, not a request), which it says to Citus.
CREATE OR REPLACE FUNCTION prune_expired_idempotency_keys(batch integer DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    pruned bigint;
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
        PERFORM set_config('citus.multi_task_query_log_level', 'off', true);
    END IF;
    DELETE FROM idempotency_keys
    WHERE (account_id, key) IN (SELECT account_id, key FROM idempotency_keys
                                WHERE created_at < now() - interval '24 hours'
                                ORDER BY created_at
                                LIMIT batch);
    GET DIAGNOSTICS pruned = ROW_COUNT;
    RETURN pruned;
END
$$;

-- Legal numbers without SECURITY DEFINER. The mechanism is unchanged (see
-- number_series): one upsert on the account's counter row, which row-locks
-- it until the transaction ends. What changes is who writes the row. Citus
-- runs a SECURITY DEFINER function's statements on connections of the
-- function's owner, and refuses, within one transaction, to reach a group
-- of co-located shards both as the service's role and as the owner ("cannot
-- perform query on placements that were modified in this transaction by a
-- different user"): issuing touches the invoice as the one and the counter
-- as the other. So the two functions now run as their caller, the service's
-- role may write the counters of its own account (row-level security), and
-- this trigger allows it exactly the two changes the functions make and
-- nothing else: taking the next value (last_used becomes next_value, which
-- moves on by one) and setting the next value above the last one used. As
-- before, a used value can never be handed out again.
CREATE FUNCTION guard_number_sequence() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    -- The owner's tools are trusted (the importer continues legacy series).
    IF (SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF (NEW.last_used, NEW.next_value) = (1, 2) OR NEW.last_used = 0 THEN
            RETURN NEW;
        END IF;
    ELSIF (NEW.account_id, NEW.series, NEW.period) = (OLD.account_id, OLD.series, OLD.period)
          AND ((NEW.last_used, NEW.next_value) = (OLD.next_value, OLD.next_value + 1)
               OR NEW.last_used = OLD.last_used) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a number sequence is only taken one value at a time or set above its last used value'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'number_sequences_taken_or_raised';
END
$$;
CREATE TRIGGER number_sequences_guard BEFORE INSERT OR UPDATE ON number_sequences
    FOR EACH ROW EXECUTE FUNCTION guard_number_sequence();

ALTER FUNCTION take_document_sequence(text, integer) SECURITY INVOKER;
-- As before, but with the account in a variable: a statement that filters
-- on a function call (scoped_account()) is sent to every shard, one that
-- filters on a value to its account's.
CREATE OR REPLACE FUNCTION set_next_document_sequence(p_series text, p_period integer, p_next bigint)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    account text := scoped_account();
    used bigint;
BEGIN
    IF p_next < 1 THEN
        RAISE EXCEPTION 'a sequence starts at 1'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'number_sequences_not_lowered';
    END IF;
    INSERT INTO number_sequences AS s (account_id, series, period, next_value)
    VALUES (account, p_series, p_period, p_next)
    ON CONFLICT (account_id, series, period) DO UPDATE SET next_value = excluded.next_value
        WHERE s.last_used < excluded.next_value
    RETURNING last_used INTO used;
    IF NOT FOUND THEN
        SELECT last_used INTO used FROM number_sequences
        WHERE account_id = account AND series = p_series AND period = p_period;
        RAISE EXCEPTION 'the % series is used up to %', p_series, used
            USING ERRCODE = 'check_violation', CONSTRAINT = 'number_sequences_not_lowered';
    END IF;
    RETURN p_next;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoiced_app') THEN
        GRANT INSERT (account_id, series, period, next_value, last_used),
              UPDATE (next_value, last_used)
            ON number_sequences TO invoiced_app;
        -- What the functions, now running as the caller, call.
        GRANT EXECUTE ON FUNCTION scoped_account() TO invoiced_app;
    END IF;
END
$$;

