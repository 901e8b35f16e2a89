-- Rotting (issue 12, item 4): when a lead last saw any activity, the latest of its creation, its
-- last change, and its latest note or activity. Every write that moves it updates it in the same
-- transaction, so that the rotting leads are an indexed range per stage, not a scan of notes.
-- SQLite cannot add a NOT NULL column without a default; the service writes it on every row.
ALTER TABLE opportunities ADD COLUMN last_activity_at INTEGER;

-- Existing leads: updated_at is never before created_at, so it stands for both (SQLite's MAX of
-- several values is NULL if one is, hence the COALESCEs).
UPDATE opportunities SET last_activity_at = MAX(
    updated_at,
    COALESCE((SELECT MAX(n.created_at) FROM notes n WHERE n.org_id = opportunities.org_id AND n.opportunity_id = opportunities.id), updated_at),
    COALESCE((SELECT MAX(a.created_at) FROM activities a WHERE a.org_id = opportunities.org_id AND a.opportunity_id = opportunities.id), updated_at));

-- `?rotting=true` and the sweep: per stage that rots, the leads last active before its cut-off.
CREATE INDEX opportunities_by_last_activity ON opportunities (org_id, status, last_activity_at);
