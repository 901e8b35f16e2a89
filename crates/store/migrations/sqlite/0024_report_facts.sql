-- Reports at a million leads (issue 12): what the funnel and the response times read, kept by
-- every write in the same transaction (crates/store/src/sql/report_facts.rs), so that a report is
-- one pass over the window's leads instead of windows over their history and look-ups into their
-- activities. docs/decisions.md, "Reports at a million leads".

-- When each stay in a stage ended: the next entry's start, set on the previous entry when one is
-- appended. The entries themselves (status, when, who) are still never changed.
ALTER TABLE stage_history ADD COLUMN left_at INTEGER;

-- Per lead, as bits (open 1, contacted 2, qualified 4, proposal 8, won 16; lost and stale none):
-- the stages it has entered, and those it later went on from to a later stage or won.
ALTER TABLE opportunities ADD COLUMN stages_reached INTEGER NOT NULL DEFAULT 0;
ALTER TABLE opportunities ADD COLUMN stages_advanced INTEGER NOT NULL DEFAULT 0;
-- When the lead was first answered: its first call, e-mail or meeting, or its first move out of
-- open, whichever came first.
ALTER TABLE opportunities ADD COLUMN first_response_at INTEGER;

-- Existing leads, from their history and activities as the runtime recomputes a merged lead.
UPDATE stage_history SET left_at = (
    SELECT n.entered_at FROM stage_history n
    WHERE n.org_id = stage_history.org_id AND n.opportunity_id = stage_history.opportunity_id
      AND (n.entered_at, n.id) > (stage_history.entered_at, stage_history.id)
    ORDER BY n.entered_at, n.id LIMIT 1);

UPDATE opportunities SET
    stages_reached = (
        SELECT COALESCE(SUM(DISTINCT CASE h.status WHEN 'open' THEN 1 WHEN 'contacted' THEN 2 WHEN 'qualified' THEN 4 WHEN 'proposal' THEN 8 WHEN 'won' THEN 16 END), 0)
        FROM stage_history h WHERE h.org_id = opportunities.org_id AND h.opportunity_id = opportunities.id),
    stages_advanced = (
        SELECT COALESCE(SUM(DISTINCT CASE h.status WHEN 'open' THEN 1 WHEN 'contacted' THEN 2 WHEN 'qualified' THEN 4 WHEN 'proposal' THEN 8 WHEN 'won' THEN 16 END), 0)
        FROM stage_history h WHERE h.org_id = opportunities.org_id AND h.opportunity_id = opportunities.id
          AND EXISTS (SELECT 1 FROM stage_history f
                      WHERE f.org_id = h.org_id AND f.opportunity_id = h.opportunity_id
                        AND (f.entered_at, f.id) > (h.entered_at, h.id)
                        AND CASE f.status WHEN 'open' THEN 1 WHEN 'contacted' THEN 2 WHEN 'qualified' THEN 4 WHEN 'proposal' THEN 8 WHEN 'won' THEN 16 END > CASE h.status WHEN 'open' THEN 1 WHEN 'contacted' THEN 2 WHEN 'qualified' THEN 4 WHEN 'proposal' THEN 8 WHEN 'won' THEN 16 END)),
    first_response_at = (
        SELECT MIN(at) FROM (
            SELECT MIN(a.created_at) AS at FROM activities a
            WHERE a.org_id = opportunities.org_id AND a.opportunity_id = opportunities.id AND a.activity_type IN ('call', 'email', 'meeting')
            UNION ALL
            SELECT MIN(h.entered_at) FROM stage_history h
            WHERE h.org_id = opportunities.org_id AND h.opportunity_id = opportunities.id AND h.status <> 'open') answers);
