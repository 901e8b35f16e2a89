-- Webhooks and their transactional outbox. An event is written in the transaction of the
-- change that causes it, with one delivery per subscribed webhook; a worker claims due
-- deliveries (a lease that expires if its replica dies) and records every attempt.
CREATE TABLE webhooks (
    org_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL,
    url text NOT NULL,
    -- Event types, one per line.
    events text NOT NULL,
    secret text NOT NULL,
    is_active boolean NOT NULL,
    disabled_reason text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id)
);

CREATE TABLE webhook_events (
    org_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL,
    type text NOT NULL,
    -- The JSON body every delivery sends, fixed when the event happened.
    body text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id)
);

CREATE INDEX webhook_events_by_age ON webhook_events (created_at);

CREATE TABLE webhook_deliveries (
    org_id uuid NOT NULL,
    id uuid NOT NULL,
    webhook_id uuid NOT NULL,
    event_id uuid NOT NULL,
    -- pending, delivered or failed (given up).
    state text NOT NULL,
    attempts bigint NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    -- Set while a worker sends it; another may take it over once this has passed.
    leased_until timestamptz,
    -- When the current run of retries began (creation, or a redelivery on request).
    due_since timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, event_id) REFERENCES webhook_events (org_id, id) ON DELETE CASCADE
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (org_id, webhook_id, created_at);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (org_id, event_id);

CREATE TABLE webhook_attempts (
    org_id uuid NOT NULL,
    id uuid NOT NULL,
    delivery_id uuid NOT NULL,
    started_at timestamptz NOT NULL,
    duration_ms bigint NOT NULL,
    response_status bigint,
    error text,
    succeeded boolean NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, delivery_id) REFERENCES webhook_deliveries (org_id, id) ON DELETE CASCADE
);

CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (org_id, delivery_id, started_at);
