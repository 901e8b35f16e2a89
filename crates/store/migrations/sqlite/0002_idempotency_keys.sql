-- Idempotency-Key: the first response to a POST, replayed for retries with the same key and
-- body. A row without a status is a request still being processed.
CREATE TABLE idempotency_keys (
    org_id BLOB NOT NULL,
    key text NOT NULL,
    request_hash BLOB NOT NULL,
    status INTEGER,
    response BLOB,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
