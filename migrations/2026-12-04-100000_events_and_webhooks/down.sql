DROP FUNCTION prune_expired_events(interval, integer);
DROP FUNCTION webhook_queue_depth(timestamptz);
DROP FUNCTION due_webhook_deliveries(timestamptz, integer);
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE events;
DELETE FROM id_counters
WHERE table_name IN ('events', 'webhook_endpoints', 'webhook_deliveries', 'webhook_attempts');
