-- Signing in to the web UI (issue 11, item 1): a password per staff member, single-use links
-- that let someone choose one, and server-side browser sessions. Secrets are stored hashed.

CREATE TABLE staff_passwords (
    org_id BLOB NOT NULL,
    staff_id BLOB NOT NULL,
    -- The argon2id PHC string (algorithm, parameters, salt and hash).
    password_hash TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, staff_id),
    FOREIGN KEY (org_id, staff_id) REFERENCES staff (org_id, id)
);

-- Sign-in names an e-mail before the organization is known.
CREATE INDEX staff_by_email ON staff (email);

CREATE TABLE password_links (
    -- SHA-256 of the secret in the link. Looked up before the organization is known.
    link_hash BLOB NOT NULL PRIMARY KEY,
    org_id BLOB NOT NULL,
    staff_id BLOB NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('setup', 'invitation', 'reset')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    FOREIGN KEY (org_id, staff_id) REFERENCES staff (org_id, id)
);

CREATE TABLE web_sessions (
    -- SHA-256 of the cookie's secret: the one indexed read every page's request makes.
    session_hash BLOB NOT NULL PRIMARY KEY,
    org_id BLOB NOT NULL,
    staff_id BLOB NOT NULL,
    -- Sent back in every state-changing form; not a secret from the session's own pages.
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    FOREIGN KEY (org_id, staff_id) REFERENCES staff (org_id, id)
);

CREATE INDEX web_sessions_of_staff ON web_sessions (org_id, staff_id);
