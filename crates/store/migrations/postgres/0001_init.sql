-- Every table is keyed by (org_id, id), every index leads with org_id, and every reference
-- between tables carries org_id: the schema cannot link one organization's records to another's,
-- and a distributed engine can shard every table by org_id and keep each organization's rows,
-- and the joins between them, on one node. Money is integer cents.

CREATE TABLE organizations (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE staff (
    org_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL,
    name text NOT NULL,
    email text NOT NULL,
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    is_active boolean NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, email)
);

CREATE TABLE api_tokens (
    org_id uuid NOT NULL,
    id uuid NOT NULL,
    staff_id uuid NOT NULL,
    name text,
    -- SHA-256 of the secret. Looked up before the organization is known, hence not org-led.
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, staff_id) REFERENCES staff (org_id, id)
);

CREATE TABLE clients (
    org_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL,
    name text NOT NULL,
    email text,
    phone text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, email)
);

CREATE TABLE categories (
    org_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL,
    name text NOT NULL,
    name_key text NOT NULL,
    color text NOT NULL,
    sort_order integer NOT NULL,
    is_active boolean NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, name_key)
);

CREATE TABLE opportunities (
    org_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL,
    client_id uuid,
    prospect_name text,
    prospect_email text,
    prospect_phone text,
    category_id uuid,
    title text NOT NULL,
    description text,
    estimated_value bigint,
    probability integer NOT NULL CHECK (probability BETWEEN 0 AND 100),
    status text NOT NULL CHECK (status IN ('open', 'contacted', 'qualified', 'proposal', 'won', 'lost', 'stale')),
    source text,
    assigned_to uuid,
    follow_up_date timestamptz,
    closed_at timestamptz,
    closed_reason text,
    transaction_id uuid,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version bigint NOT NULL,
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
    org_id uuid NOT NULL,
    id uuid NOT NULL,
    opportunity_id uuid NOT NULL,
    content text NOT NULL,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, opportunity_id) REFERENCES opportunities (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, created_by) REFERENCES staff (org_id, id)
);

CREATE INDEX notes_by_opportunity ON notes (org_id, opportunity_id, created_at);

CREATE TABLE activities (
    org_id uuid NOT NULL,
    id uuid NOT NULL,
    opportunity_id uuid NOT NULL,
    activity_type text NOT NULL
        CHECK (activity_type IN ('call', 'email', 'meeting', 'note', 'status_change', 'task', 'other')),
    description text NOT NULL,
    outcome text,
    scheduled_at timestamptz,
    completed_at timestamptz,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, opportunity_id) REFERENCES opportunities (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, created_by) REFERENCES staff (org_id, id)
);

CREATE INDEX activities_by_opportunity ON activities (org_id, opportunity_id, created_at);
