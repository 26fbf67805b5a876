-- The tenant registry. Every tenant table carries an account_id that reaches
-- this table through its foreign keys, so the format rule below holds for
-- every account_id in the database.
CREATE TABLE accounts (
    id         text        NOT NULL,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_id_format CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
    CONSTRAINT accounts_name_length CHECK (char_length(btrim(name)) BETWEEN 1 AND 200)
);

-- Per-account ids.
--
-- Each tenant table numbers its rows per account: an account's first customer
-- is 1, its next 2, and so on. A sequence cannot do this: one would be needed
-- per account and table, and sequences are not transactional, so a rolled-back
-- insert would burn a number. Instead id_counters holds, per account and table,
-- the last id handed out, maintained by two triggers on every tenant table:
--
-- * allocate_account_scoped_id, BEFORE INSERT FOR EACH ROW WHEN (NEW.id IS
--   NULL), takes the next id with one upsert on the counter row. The upsert
--   row-locks the counter until the transaction ends, so concurrent inserts
--   into one account and table queue there and get consecutive ids, inserts
--   into other accounts do not wait, and a rollback undoes the increment with
--   the rest of the transaction: no gap, no reuse. It fires for any INSERT,
--   so a DBA's plain SQL gets ids exactly like the service does.
-- * advance_account_scoped_ids, AFTER INSERT FOR EACH STATEMENT, moves the
--   counter past ids that were given explicitly (a DBA's INSERT, the
--   importer's COPY). Reading the statement's transition table, it costs one
--   upsert per account and statement, not one per row, so bulk loads stay
--   fast.
--
-- Deleting rows never lowers a counter, so ids are never reused.
CREATE TABLE id_counters (
    account_id text   NOT NULL,
    table_name text   NOT NULL,
    last_id    bigint NOT NULL,
    CONSTRAINT id_counters_pkey PRIMARY KEY (account_id, table_name),
    CONSTRAINT id_counters_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT id_counters_last_id_not_negative CHECK (last_id >= 0)
);

CREATE FUNCTION allocate_account_scoped_id() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO id_counters AS counter (account_id, table_name, last_id)
    VALUES (NEW.account_id, TG_TABLE_NAME, 1)
    ON CONFLICT (account_id, table_name)
        DO UPDATE SET last_id = counter.last_id + 1
    RETURNING counter.last_id INTO NEW.id;
    RETURN NEW;
END
$$;

CREATE FUNCTION advance_account_scoped_ids() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO id_counters AS counter (account_id, table_name, last_id)
    SELECT account_id, TG_TABLE_NAME, max(id) FROM inserted_rows GROUP BY account_id
    ON CONFLICT (account_id, table_name)
        DO UPDATE SET last_id = excluded.last_id
        WHERE counter.last_id < excluded.last_id;
    RETURN NULL;
END
$$;

-- Keeps updated_at honest for every writer, not only the service.
CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
