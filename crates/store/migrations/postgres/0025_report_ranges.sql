-- Report windows as index ranges (issue 12; docs/decisions.md, "Reports at a million leads").
--
-- The funnel's stays: each history entry keeps when its lead was created, so that the stays of
-- the leads created in a report's window are one range of stage_history_by_lead_created, which
-- also holds everything the medians read, rather than one look-up per lead.
ALTER TABLE stage_history ADD COLUMN lead_created_at timestamptz;

UPDATE stage_history h SET lead_created_at = o.created_at
FROM opportunities o WHERE o.org_id = h.org_id AND o.id = h.opportunity_id;

ALTER TABLE stage_history ALTER COLUMN lead_created_at SET NOT NULL;

CREATE INDEX stage_history_by_lead_created ON stage_history (org_id, lead_created_at, status, entered_at, left_at);

-- Lost reasons read the leads lost in the window: one range of this index, not every lost lead
-- of the organization (opportunities_by_status) filtered by when each closed.
CREATE INDEX opportunities_lost_by_closed ON opportunities (org_id, closed_at) WHERE status = 'lost';
