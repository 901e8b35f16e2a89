-- The funnel's stays found by one index range (issue 12): each history entry keeps when its lead
-- was created, so that the stays of the leads created in a report's window are one range of
-- stage_history_by_lead_created, which also holds everything the medians read, rather than one
-- look-up per lead. docs/decisions.md, "Reports at a million leads".
ALTER TABLE stage_history ADD COLUMN lead_created_at timestamptz;

UPDATE stage_history h SET lead_created_at = o.created_at
FROM opportunities o WHERE o.org_id = h.org_id AND o.id = h.opportunity_id;

ALTER TABLE stage_history ALTER COLUMN lead_created_at SET NOT NULL;

CREATE INDEX stage_history_by_lead_created ON stage_history (org_id, lead_created_at, status, entered_at, left_at);
