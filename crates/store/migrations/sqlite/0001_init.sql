-- Every table is keyed by (org_id, id), and every reference between tables carries org_id,
-- so the schema itself cannot link one organization's records to another's.
-- Ids are UUIDs stored as 16-byte blobs, instants as microseconds since the Unix epoch (UTC),
-- money as integer cents.

CREATE TABLE organizations (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE staff (
    org_id BLOB NOT NULL REFERENCES organizations (id),
    id BLOB NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    is_active INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, email)
);

CREATE TABLE api_tokens (
    org_id BLOB NOT NULL,
    id BLOB NOT NULL,
    staff_id BLOB NOT NULL,
    name TEXT,
    -- SHA-256 of the secret. Looked up before the organization is known, hence not org-led.
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, staff_id) REFERENCES staff (org_id, id)
);

CREATE TABLE clients (
    org_id BLOB NOT NULL REFERENCES organizations (id),
    id BLOB NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, email)
);

CREATE TABLE categories (
    org_id BLOB NOT NULL REFERENCES organizations (id),
    id BLOB NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    color TEXT NOT NULL,
    sort_order INTEGER NOT NULL,
    is_active INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, name_key)
);

CREATE TABLE opportunities (
    org_id BLOB NOT NULL REFERENCES organizations (id),
    id BLOB NOT NULL,
    client_id BLOB,
    prospect_name TEXT,
    prospect_email TEXT,
    prospect_phone TEXT,
    category_id BLOB,
    title TEXT NOT NULL,
    description TEXT,
    estimated_value INTEGER,
    probability INTEGER NOT NULL CHECK (probability BETWEEN 0 AND 100),
    status TEXT NOT NULL CHECK (status IN ('open', 'contacted', 'qualified', 'proposal', 'won', 'lost', 'stale')),
    source TEXT,
    assigned_to BLOB,
    follow_up_date INTEGER,
    closed_at INTEGER,
    closed_reason TEXT,
    transaction_id BLOB,
    created_by BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, client_id) REFERENCES clients (org_id, id),
    FOREIGN KEY (org_id, category_id) REFERENCES categories (org_id, id),
    FOREIGN KEY (org_id, assigned_to) REFERENCES staff (org_id, id),
    FOREIGN KEY (org_id, created_by) REFERENCES staff (org_id, id)
);

CREATE INDEX opportunities_by_created ON opportunities (org_id, created_at);
CREATE INDEX opportunities_by_status ON opportunities (org_id, status, created_at);
CREATE INDEX opportunities_by_assignee ON opportunities (org_id, assigned_to);
CREATE INDEX opportunities_by_category ON opportunities (org_id, category_id);
CREATE INDEX opportunities_by_client ON opportunities (org_id, client_id);
CREATE INDEX opportunities_by_follow_up ON opportunities (org_id, follow_up_date);

CREATE TABLE notes (
    org_id BLOB NOT NULL,
    id BLOB NOT NULL,
    opportunity_id BLOB NOT NULL,
    content TEXT NOT NULL,
    created_by BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, opportunity_id) REFERENCES opportunities (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, created_by) REFERENCES staff (org_id, id)
);

CREATE INDEX notes_by_opportunity ON notes (org_id, opportunity_id, created_at);

CREATE TABLE activities (
    org_id BLOB NOT NULL,
    id BLOB NOT NULL,
    opportunity_id BLOB NOT NULL,
    activity_type TEXT NOT NULL
        CHECK (activity_type IN ('call', 'email', 'meeting', 'note', 'status_change', 'task', 'other')),
    description TEXT NOT NULL,
    outcome TEXT,
    scheduled_at INTEGER,
    completed_at INTEGER,
    created_by BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, opportunity_id) REFERENCES opportunities (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, created_by) REFERENCES staff (org_id, id)
);

CREATE INDEX activities_by_opportunity ON activities (org_id, opportunity_id, created_at);
