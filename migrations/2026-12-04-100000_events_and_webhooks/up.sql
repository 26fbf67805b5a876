-- Events (the audit trail and the webhook outbox), webhook endpoints, and
-- their deliveries.
--
-- The transactional outbox: the service writes an event in the same
-- transaction as the change it describes, and with it one delivery per
-- endpoint that subscribes to its type. A rolled-back request leaves
-- neither; a committed change always has both. The sender (inside `serve`)
-- only ever reads committed deliveries, so nothing is announced that did
-- not happen, and nothing that happened is forgotten by a crash: the state
-- of every delivery lives here, not in a process.
--
-- Event ids are per account and increasing, taken like every other id
-- (id_counters, row-locked until commit). That lock also orders commits:
-- the transaction holding id n commits or rolls back before another can
-- take n + 1, so a client paging GET /v1/events by id never misses an event
-- that commits after it read past a later one.

CREATE TABLE events (
    account_id text        NOT NULL,
    id         bigint      NOT NULL,
    type       text        NOT NULL,
    data       jsonb       NOT NULL,
    request_id text,
    -- No foreign key: the audit trail outlives a deleted API key.
    api_key_id bigint,
    created_at timestamptz NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT events_id_positive CHECK (id > 0),
    CONSTRAINT events_type_known CHECK (type IN (
        'customer.created', 'customer.updated', 'customer.deleted',
        'invoice.created', 'invoice.updated', 'invoice.deleted', 'invoice.issued',
        'invoice.paid', 'invoice.voided', 'payment.created', 'credit_note.created',
        'account.updated')),
    CONSTRAINT events_data_object CHECK (jsonb_typeof(data) = 'object'),
    CONSTRAINT events_request_id_length CHECK (char_length(request_id) BETWEEN 1 AND 200)
);

-- GET /v1/events?type= pages one type of one account by id.
CREATE INDEX events_type_idx ON events (account_id, type, id);
-- Pruning after EVENT_RETENTION_DAYS takes the oldest first.
CREATE INDEX events_created_idx ON events (created_at);

CREATE TABLE webhook_endpoints (
    account_id  text        NOT NULL,
    id          bigint      NOT NULL,
    url         text        NOT NULL,
    -- The event types it receives; '*' for all.
    event_types text[]      NOT NULL,
    description text,
    enabled     boolean     NOT NULL,
    -- `whsec_` + base64 of the key's bytes: the HMAC key of its signatures,
    -- kept as given out (the sender needs the key itself, not a hash).
    secret      text        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT webhook_endpoints_id_positive CHECK (id > 0),
    CONSTRAINT webhook_endpoints_url_format CHECK (url ~ '^https?://' AND char_length(url) <= 2000),
    CONSTRAINT webhook_endpoints_event_types_given
        CHECK (cardinality(event_types) BETWEEN 1 AND 20 AND array_position(event_types, NULL) IS NULL),
    CONSTRAINT webhook_endpoints_description_length CHECK (char_length(description) <= 1000),
    CONSTRAINT webhook_endpoints_secret_format CHECK (secret ~ '^whsec_[A-Za-z0-9+/]{32,}={0,2}$')
);

-- One event to one endpoint. `attempts` counts the sender's claims;
-- `next_attempt_at` is when it is due while pending (a claim moves it a
-- lease ahead, so a sender that dies mid-send leaves the delivery due
-- again once the lease is over: at least once, never lost).
CREATE TABLE webhook_deliveries (
    account_id      text        NOT NULL,
    id              bigint      NOT NULL,
    endpoint_id     bigint      NOT NULL,
    event_id        bigint      NOT NULL,
    status          text        NOT NULL,
    attempts        integer     NOT NULL,
    next_attempt_at timestamptz,
    created_at      timestamptz NOT NULL,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT webhook_deliveries_id_positive CHECK (id > 0),
    CONSTRAINT webhook_deliveries_status_valid CHECK (status IN ('pending', 'delivered', 'failed')),
    CONSTRAINT webhook_deliveries_due_when_pending
        CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
    CONSTRAINT webhook_deliveries_attempts_not_negative CHECK (attempts >= 0)
);

-- What the sender asks every time it looks for work: due pending deliveries.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (account_id, event_id);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (account_id, endpoint_id);

-- Every attempt to send a delivery, as the deliveries log shows it.
CREATE TABLE webhook_attempts (
    account_id   text        NOT NULL,
    id           bigint      NOT NULL,
    delivery_id  bigint      NOT NULL,
    endpoint_id  bigint      NOT NULL,
    event_id     bigint      NOT NULL,
    attempt      integer     NOT NULL,
    attempted_at timestamptz NOT NULL,
    status_code  integer,
    latency_ms   integer     NOT NULL,
    error        text,
    CONSTRAINT webhook_attempts_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT webhook_attempts_id_positive CHECK (id > 0),
    CONSTRAINT webhook_attempts_attempt_positive CHECK (attempt >= 1),
    CONSTRAINT webhook_attempts_status_code_http CHECK (status_code BETWEEN 100 AND 599),
    CONSTRAINT webhook_attempts_latency_not_negative CHECK (latency_ms >= 0),
    CONSTRAINT webhook_attempts_error_length CHECK (char_length(error) <= 1000),
    CONSTRAINT webhook_attempts_outcome CHECK (status_code IS NOT NULL OR error IS NOT NULL)
);

CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (account_id, endpoint_id, id);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (account_id, delivery_id);

CREATE TRIGGER events_allocate_id BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION allocate_account_scoped_id('events');
CREATE TRIGGER events_fill_row BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION fill_inserted_row('created_at');
CREATE TRIGGER webhook_endpoints_allocate_id BEFORE INSERT ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION allocate_account_scoped_id('webhook_endpoints');
CREATE TRIGGER webhook_endpoints_fill_row BEFORE INSERT ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION fill_inserted_row('created_at', 'updated_at');
CREATE TRIGGER webhook_deliveries_allocate_id BEFORE INSERT ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION allocate_account_scoped_id('webhook_deliveries');
CREATE TRIGGER webhook_deliveries_fill_row BEFORE INSERT ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION fill_inserted_row('created_at');
CREATE TRIGGER webhook_attempts_allocate_id BEFORE INSERT ON webhook_attempts
    FOR EACH ROW EXECUTE FUNCTION allocate_account_scoped_id('webhook_attempts');

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY events_tenant_isolation ON events
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhook_endpoints_tenant_isolation ON webhook_endpoints
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhook_deliveries_tenant_isolation ON webhook_deliveries
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhook_attempts_tenant_isolation ON webhook_attempts
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));

-- The sender works for every account, which row-level security hides from
-- the app role: this function (the owner's) is its one way across. It
-- lists due deliveries of enabled endpoints, oldest due first, without
-- locking them; the sender then claims them one account at a time, in
-- that account's transaction (see the sender). Across shards on Citus,
-- which it says to Citus; PL/pgSQL, as Citus plans no SQL function that
-- takes parameters.
CREATE FUNCTION due_webhook_deliveries(p_now timestamptz, p_limit integer)
RETURNS TABLE (account_id text, delivery_id bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
        PERFORM set_config('citus.multi_task_query_log_level', 'off', true);
    END IF;
    RETURN QUERY
        SELECT d.account_id, d.id
        FROM webhook_deliveries d
        JOIN webhook_endpoints e ON e.account_id = d.account_id AND e.id = d.endpoint_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= p_now AND e.enabled
        ORDER BY d.next_attempt_at
        LIMIT p_limit;
END
$$;
REVOKE EXECUTE ON FUNCTION due_webhook_deliveries(timestamptz, integer) FROM PUBLIC;

-- How many deliveries are due now, over every account (for /metrics).
CREATE FUNCTION webhook_queue_depth(p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
        PERFORM set_config('citus.multi_task_query_log_level', 'off', true);
    END IF;
    RETURN (SELECT count(*) FROM webhook_deliveries
            WHERE status = 'pending' AND next_attempt_at <= p_now);
END
$$;
REVOKE EXECUTE ON FUNCTION webhook_queue_depth(timestamptz) FROM PUBLIC;

-- The app role may never change or delete an event (the audit trail), so
-- pruning after EVENT_RETENTION_DAYS is the owner's, `batch` rows a call,
-- oldest first. Their deliveries and attempts go with them.
CREATE FUNCTION prune_expired_events(retention interval, batch integer DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    pruned bigint;
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
        PERFORM set_config('citus.multi_task_query_log_level', 'off', true);
    END IF;
    DELETE FROM events
    WHERE (account_id, id) IN (SELECT account_id, id FROM events
                               WHERE created_at < now() - retention
                               ORDER BY created_at
                               LIMIT batch);
    GET DIAGNOSTICS pruned = ROW_COUNT;
    RETURN pruned;
END
$$;
REVOKE EXECUTE ON FUNCTION prune_expired_events(interval, integer) FROM PUBLIC;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoiced_app') THEN
        RAISE NOTICE 'no role invoiced_app: run setup_postgres.sql, then grant as this migration does';
        RETURN;
    END IF;
    REVOKE ALL ON events, webhook_endpoints, webhook_deliveries, webhook_attempts FROM invoiced_app;
    GRANT SELECT, INSERT (account_id, type, data, request_id, api_key_id) ON events TO invoiced_app;
    GRANT SELECT, DELETE,
        INSERT (account_id, url, event_types, description, enabled, secret),
        UPDATE (url, event_types, description, enabled, updated_at)
        ON webhook_endpoints TO invoiced_app;
    GRANT SELECT,
        INSERT (account_id, endpoint_id, event_id, status, attempts, next_attempt_at),
        UPDATE (status, next_attempt_at, attempts)
        ON webhook_deliveries TO invoiced_app;
    GRANT SELECT,
        INSERT (account_id, delivery_id, endpoint_id, event_id, attempt, attempted_at, status_code,
                latency_ms, error)
        ON webhook_attempts TO invoiced_app;
    GRANT EXECUTE ON FUNCTION due_webhook_deliveries(timestamptz, integer),
        webhook_queue_depth(timestamptz), prune_expired_events(interval, integer) TO invoiced_app;
END
$$;

-- On a Citus coordinator whose tenant tables are distributed already (an
-- upgrade), the new tables are distributed, co-located with them, before
-- the foreign keys below tie them to the accounts and to each other: Citus
-- allows no key between a local and a distributed table. On plain
-- PostgreSQL, and on a Citus database migrated from scratch (which
-- `invoiced migrate run` distributes whole afterwards), this does nothing.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
        IF EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'public.invoices'::regclass) THEN
            PERFORM create_distributed_table(t, 'account_id', colocate_with => 'invoices')
            FROM unnest(ARRAY['events', 'webhook_endpoints', 'webhook_deliveries',
                              'webhook_attempts']) AS t;
        END IF;
    END IF;
END
$$;

ALTER TABLE events
    ADD CONSTRAINT events_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id);
-- (One constraint a statement: Citus takes no other subcommand beside one.)
ALTER TABLE webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_endpoint_fkey FOREIGN KEY (account_id, endpoint_id)
        REFERENCES webhook_endpoints (account_id, id) ON DELETE CASCADE;
ALTER TABLE webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_event_fkey FOREIGN KEY (account_id, event_id)
        REFERENCES events (account_id, id) ON DELETE CASCADE;
ALTER TABLE webhook_attempts
    ADD CONSTRAINT webhook_attempts_delivery_fkey FOREIGN KEY (account_id, delivery_id)
        REFERENCES webhook_deliveries (account_id, id) ON DELETE CASCADE;
