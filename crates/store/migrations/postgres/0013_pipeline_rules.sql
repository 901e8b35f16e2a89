-- The pipeline's rules (issue 10) hold for every lead: won means probability 100 and a
-- closed_at; lost means probability 0, a closed_at and no sale; any other stage has no
-- closed_at, no close reason and no sale. Earlier versions let a lead break them (a won lead
-- at 5 %, a reopened lead keeping its sale, a reopened lead with a close reason), and reading a
-- lead now checks them. This repairs such rows once: what it takes off a lead that a person
-- wrote (a sale's id, a close reason) is kept in an activity, attributed to the lead's creator
-- since no one is acting; the version moves on, so a client editing from an older read gets 412.

INSERT INTO activities (org_id, id, opportunity_id, activity_type, description, completed_at, created_by, created_at)
SELECT org_id, gen_random_uuid(), id, 'other',
       'Unlinked from sale ' || transaction_id || ' when the pipeline rules took effect: only a won opportunity links to a sale',
       now(), created_by, now()
FROM opportunities
WHERE transaction_id IS NOT NULL AND status <> 'won';

INSERT INTO activities (org_id, id, opportunity_id, activity_type, description, completed_at, created_by, created_at)
SELECT org_id, gen_random_uuid(), id, 'other',
       'Close reason removed when the pipeline rules took effect (only a won or lost opportunity has one): ' || closed_reason,
       now(), created_by, now()
FROM opportunities
WHERE closed_reason IS NOT NULL AND status NOT IN ('won', 'lost');

UPDATE opportunities SET
    probability = CASE status WHEN 'won' THEN 100 WHEN 'lost' THEN 0 ELSE probability END,
    closed_at = CASE WHEN status IN ('won', 'lost') THEN COALESCE(closed_at, updated_at) END,
    closed_reason = CASE WHEN status IN ('won', 'lost') THEN closed_reason END,
    transaction_id = CASE WHEN status = 'won' THEN transaction_id END,
    version = version + 1,
    updated_at = now()
WHERE probability <> CASE status WHEN 'won' THEN 100 WHEN 'lost' THEN 0 ELSE probability END
   OR (closed_at IS NOT NULL) <> (status IN ('won', 'lost'))
   OR (closed_reason IS NOT NULL AND status NOT IN ('won', 'lost'))
   OR (transaction_id IS NOT NULL AND status <> 'won');
