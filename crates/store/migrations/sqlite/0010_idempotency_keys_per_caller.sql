-- An Idempotency-Key belongs to its caller, not to the whole organization: keyed by org_id
-- alone, a member sending the key of an owner's request was answered with the owner's
-- response (a new owner token among them), and a visitor of a public form could claim a key
-- before a staff member used it. caller_id is the staff member, or the form for public
-- submissions. The rows kept so far cannot be given a caller, and some hold a token's secret in
-- plain text, so they are dropped: they only answer retries, for 48 hours at most, and a retry
-- sent across this upgrade is processed as a new request.
DROP TABLE idempotency_keys;

CREATE TABLE idempotency_keys (
    org_id BLOB NOT NULL,
    caller_id BLOB NOT NULL,
    key text NOT NULL,
    request_hash BLOB NOT NULL,
    status INTEGER,
    response BLOB,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, caller_id, key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
