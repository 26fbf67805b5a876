-- API keys are stored as a SHA-256 hash: the key itself is shown once, when it
-- is created. `prefix` (the key's first characters, not secret) lets a person
-- tell keys apart and lets authentication find the candidate rows by index
-- before comparing hashes in constant time.
CREATE TABLE api_keys (
    account_id   text        NOT NULL,
    id           bigint      NOT NULL,
    name         text        NOT NULL,
    prefix       text        NOT NULL,
    key_hash     bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CONSTRAINT api_keys_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT api_keys_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT api_keys_key_hash_unique UNIQUE (key_hash),
    CONSTRAINT api_keys_id_positive CHECK (id > 0),
    CONSTRAINT api_keys_key_hash_is_sha256 CHECK (octet_length(key_hash) = 32),
    CONSTRAINT api_keys_name_length CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
    CONSTRAINT api_keys_prefix_length CHECK (char_length(prefix) BETWEEN 8 AND 32),
    CONSTRAINT api_keys_revoked_after_created CHECK (revoked_at >= created_at)
);

CREATE INDEX api_keys_account_prefix_idx ON api_keys (account_id, prefix);

CREATE TRIGGER api_keys_allocate_id
    BEFORE INSERT ON api_keys FOR EACH ROW WHEN (NEW.id IS NULL)
    EXECUTE FUNCTION allocate_account_scoped_id();
CREATE TRIGGER api_keys_advance_ids
    AFTER INSERT ON api_keys REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION advance_account_scoped_ids();
