-- Idempotency-Key: the first response to a POST, replayed for retries with the same key and
-- body. A row without a status is a request still being processed.
CREATE TABLE idempotency_keys (
    org_id uuid NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL,
    status bigint,
    response bytea,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
