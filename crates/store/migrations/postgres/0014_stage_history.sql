-- The stage history (issue 12): one entry each time a lead enters a status, appended by the
-- change that moves it and never updated; how long a stage lasted is read from the next entry.
-- changed_by is null when the system moved the lead (a website form, this migration).
CREATE TABLE stage_history (
    org_id uuid NOT NULL,
    id uuid NOT NULL,
    opportunity_id uuid NOT NULL,
    status text NOT NULL,
    entered_at timestamptz NOT NULL,
    changed_by uuid,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, opportunity_id) REFERENCES opportunities (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, changed_by) REFERENCES staff (org_id, id)
);

CREATE INDEX stage_history_by_opportunity ON stage_history (org_id, opportunity_id, entered_at, id);

-- Existing leads get one entry: the status they are in, entered at the best time known. A
-- closed lead entered won or lost at closed_at; an open one has been open since its creation;
-- any other stage was most likely entered by the last change (updated_at). Nobody is known to
-- have moved it, so changed_by is null. The lead's own id serves as the entry's: it is unique,
-- and the same on every run of the migration.
INSERT INTO stage_history (org_id, id, opportunity_id, status, entered_at, changed_by)
SELECT org_id, id, id, status,
       CASE WHEN status IN ('won', 'lost') THEN closed_at WHEN status = 'open' THEN created_at ELSE updated_at END,
       NULL
FROM opportunities;
