-- Webhooks and their transactional outbox. An event is written in the transaction of the
-- change that causes it, with one delivery per subscribed webhook; a worker claims due
-- deliveries (a lease that expires if its replica dies) and records every attempt.
CREATE TABLE webhooks (
    org_id BLOB NOT NULL REFERENCES organizations (id),
    id BLOB NOT NULL,
    url text NOT NULL,
    -- Event types, one per line.
    events text NOT NULL,
    secret text NOT NULL,
    is_active INTEGER NOT NULL,
    disabled_reason text,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, id)
);

CREATE TABLE webhook_events (
    org_id BLOB NOT NULL REFERENCES organizations (id),
    id BLOB NOT NULL,
    type text NOT NULL,
    -- The JSON body every delivery sends, fixed when the event happened.
    body text NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, id)
);

CREATE INDEX webhook_events_by_age ON webhook_events (created_at);

CREATE TABLE webhook_deliveries (
    org_id BLOB NOT NULL,
    id BLOB NOT NULL,
    webhook_id BLOB NOT NULL,
    event_id BLOB NOT NULL,
    -- pending, delivered or failed (given up).
    state text NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    -- Set while a worker sends it; another may take it over once this has passed.
    leased_until INTEGER,
    -- When the current run of retries began (creation, or a redelivery on request).
    due_since INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, event_id) REFERENCES webhook_events (org_id, id) ON DELETE CASCADE
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (org_id, webhook_id, created_at);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (org_id, event_id);

CREATE TABLE webhook_attempts (
    org_id BLOB NOT NULL,
    id BLOB NOT NULL,
    delivery_id BLOB NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    response_status INTEGER,
    error text,
    succeeded INTEGER NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, delivery_id) REFERENCES webhook_deliveries (org_id, id) ON DELETE CASCADE
);

CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (org_id, delivery_id, started_at);
