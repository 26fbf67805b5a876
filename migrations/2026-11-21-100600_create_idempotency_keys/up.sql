-- The first response to each POST that carried an Idempotency-Key, so that
-- a retry gets it again instead of doing the work twice. Stored in the
-- same transaction as the work it answers: both happen or neither does.
-- Rows older than 24 hours are ignored and purged by the service.
CREATE TABLE idempotency_keys (
    account_id      text        NOT NULL,
    key             text        NOT NULL,
    -- SHA-256 of the method, the path and the body bytes as sent: the same
    -- key with another request is refused, not replayed.
    request_hash    bytea       NOT NULL,
    response_status smallint    NOT NULL,
    response_body   bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (account_id, key),
    CONSTRAINT idempotency_keys_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT idempotency_keys_key_length CHECK (char_length(key) BETWEEN 1 AND 255),
    CONSTRAINT idempotency_keys_request_hash_is_sha256 CHECK (octet_length(request_hash) = 32),
    CONSTRAINT idempotency_keys_response_status_valid CHECK (response_status BETWEEN 100 AND 599)
);

CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (account_id, created_at);
