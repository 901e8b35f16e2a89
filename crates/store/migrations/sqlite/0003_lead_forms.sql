-- Website lead forms. form_key is the public part of the submission URL; it is looked up
-- before the organization is known, hence unique on its own.
CREATE TABLE lead_forms (
    org_id BLOB NOT NULL REFERENCES organizations (id),
    id BLOB NOT NULL,
    form_key text NOT NULL UNIQUE,
    name text NOT NULL,
    category_id BLOB,
    assigned_to BLOB,
    -- One origin per line.
    allowed_origins text NOT NULL,
    is_active INTEGER NOT NULL,
    created_by BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, category_id) REFERENCES categories (org_id, id),
    FOREIGN KEY (org_id, assigned_to) REFERENCES staff (org_id, id),
    FOREIGN KEY (org_id, created_by) REFERENCES staff (org_id, id)
);
