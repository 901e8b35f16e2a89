-- Pipeline settings per organization (issue 12, items 1 and 2): the time zone its days are
-- counted in, and per stage a lead is worked in, its default probability and after how many days
-- a lead there rots (NULL: never). Every organization has one row, made with it.
CREATE TABLE pipeline_settings (
    org_id uuid PRIMARY KEY REFERENCES organizations (id),
    timezone text NOT NULL,
    open_default_probability integer NOT NULL CHECK (open_default_probability BETWEEN 0 AND 100),
    open_rot_after_days bigint CHECK (open_rot_after_days >= 0),
    contacted_default_probability integer NOT NULL CHECK (contacted_default_probability BETWEEN 0 AND 100),
    contacted_rot_after_days bigint CHECK (contacted_rot_after_days >= 0),
    qualified_default_probability integer NOT NULL CHECK (qualified_default_probability BETWEEN 0 AND 100),
    qualified_rot_after_days bigint CHECK (qualified_rot_after_days >= 0),
    proposal_default_probability integer NOT NULL CHECK (proposal_default_probability BETWEEN 0 AND 100),
    proposal_rot_after_days bigint CHECK (proposal_rot_after_days >= 0),
    auto_stale boolean NOT NULL
);

-- What every organization had until now: UTC, 10 % in every stage, nothing rots.
INSERT INTO pipeline_settings SELECT id, 'UTC', 10, NULL, 10, NULL, 10, NULL, 10, NULL, FALSE FROM organizations;

-- Follow-ups are counted by the date they fall on in the organization's time zone, which the
-- service computes (with the bundled time zone database, as for every other day it counts) and
-- writes beside the instant. Until now every organization counted in UTC.
ALTER TABLE opportunities ADD COLUMN follow_up_day bigint;
UPDATE opportunities SET follow_up_day = utc_day(follow_up_date) WHERE follow_up_date IS NOT NULL;

-- The totals of follow-ups (0005, 0009, 0011, 0016) are keyed by that column instead of the UTC
-- day; otherwise these are the latest versions of both functions, the statement trigger of 0016
-- for inserts and the lock order of 0011 included. The keys are the same numbers for now, so the
-- totals stand. The triggers still fire on `follow_up_date`: the day changes with it, except
-- when the organization's time zone changes, and then the service rewrites the days and
-- recounts the organization's follow-ups itself, in one go.
CREATE OR REPLACE FUNCTION count_opportunity() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    same_group boolean := TG_OP = 'UPDATE' AND OLD.status = NEW.status AND OLD.source IS NOT DISTINCT FROM NEW.source
        AND OLD.assigned_to IS NOT DISTINCT FROM NEW.assigned_to AND OLD.category_id IS NOT DISTINCT FROM NEW.category_id;
    same_follow_up boolean := TG_OP = 'UPDATE'
        AND OLD.follow_up_day IS NOT DISTINCT FROM NEW.follow_up_day
        AND OLD.assigned_to IS NOT DISTINCT FROM NEW.assigned_to AND OLD.category_id IS NOT DISTINCT FROM NEW.category_id
        AND (OLD.status IN ('won', 'lost')) = (NEW.status IN ('won', 'lost'));
    counts_old boolean := TG_OP IN ('UPDATE', 'DELETE');
    counts_new boolean := TG_OP IN ('INSERT', 'UPDATE');
BEGIN
    IF same_group THEN
        IF OLD.estimated_value IS DISTINCT FROM NEW.estimated_value OR OLD.probability IS DISTINCT FROM NEW.probability THEN
            UPDATE pipeline_totals SET
                value_cents = value_cents + COALESCE(NEW.estimated_value, 0) - COALESCE(OLD.estimated_value, 0),
                weighted = weighted + COALESCE(NEW.estimated_value, 0) * NEW.probability - COALESCE(OLD.estimated_value, 0) * OLD.probability
            WHERE org_id = NEW.org_id AND status = NEW.status AND source = COALESCE(NEW.source, '')
              AND assigned_to = COALESCE(NEW.assigned_to, nil_uuid()) AND category_id = COALESCE(NEW.category_id, nil_uuid());
        END IF;
    ELSE
        INSERT INTO pipeline_totals AS t (org_id, status, source, assigned_to, category_id, count, value_cents, weighted)
        SELECT * FROM (
            SELECT OLD.org_id, OLD.status, COALESCE(OLD.source, ''), COALESCE(OLD.assigned_to, nil_uuid()),
                   COALESCE(OLD.category_id, nil_uuid()), -1::bigint, -COALESCE(OLD.estimated_value, 0),
                   -COALESCE(OLD.estimated_value, 0) * OLD.probability
            WHERE counts_old
            UNION ALL
            SELECT NEW.org_id, NEW.status, COALESCE(NEW.source, ''), COALESCE(NEW.assigned_to, nil_uuid()),
                   COALESCE(NEW.category_id, nil_uuid()), 1::bigint, COALESCE(NEW.estimated_value, 0),
                   COALESCE(NEW.estimated_value, 0) * NEW.probability
            WHERE counts_new
        ) AS change (org_id, status, source, assigned_to, category_id, count, value_cents, weighted)
        ORDER BY status, source, assigned_to, category_id
        ON CONFLICT (org_id, status, source, assigned_to, category_id) DO UPDATE SET
            count = t.count + excluded.count, value_cents = t.value_cents + excluded.value_cents, weighted = t.weighted + excluded.weighted;
    END IF;
    IF NOT same_follow_up THEN
        INSERT INTO follow_up_totals AS t (org_id, day, assigned_to, category_id, count)
        SELECT * FROM (
            SELECT OLD.org_id, OLD.follow_up_day, COALESCE(OLD.assigned_to, nil_uuid()), COALESCE(OLD.category_id, nil_uuid()),
                   -1::bigint
            WHERE counts_old AND OLD.follow_up_date IS NOT NULL AND OLD.status NOT IN ('won', 'lost')
            UNION ALL
            SELECT NEW.org_id, NEW.follow_up_day, COALESCE(NEW.assigned_to, nil_uuid()), COALESCE(NEW.category_id, nil_uuid()),
                   1::bigint
            WHERE counts_new AND NEW.follow_up_date IS NOT NULL AND NEW.status NOT IN ('won', 'lost')
        ) AS change (org_id, day, assigned_to, category_id, count)
        ORDER BY day, assigned_to, category_id
        ON CONFLICT (org_id, day, assigned_to, category_id) DO UPDATE SET count = t.count + excluded.count;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION count_inserted_opportunities() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pipeline_totals AS t (org_id, status, source, assigned_to, category_id, count, value_cents, weighted)
    SELECT org_id, status, COALESCE(source, ''), COALESCE(assigned_to, nil_uuid()), COALESCE(category_id, nil_uuid()),
           COUNT(*), CAST(SUM(COALESCE(estimated_value, 0)) AS bigint), CAST(SUM(COALESCE(estimated_value, 0) * probability) AS bigint)
    FROM inserted
    GROUP BY org_id, status, COALESCE(source, ''), COALESCE(assigned_to, nil_uuid()), COALESCE(category_id, nil_uuid())
    ORDER BY org_id, status, COALESCE(source, ''), COALESCE(assigned_to, nil_uuid()), COALESCE(category_id, nil_uuid())
    ON CONFLICT (org_id, status, source, assigned_to, category_id) DO UPDATE SET
        count = t.count + excluded.count, value_cents = t.value_cents + excluded.value_cents, weighted = t.weighted + excluded.weighted;
    INSERT INTO follow_up_totals AS t (org_id, day, assigned_to, category_id, count)
    SELECT org_id, follow_up_day, COALESCE(assigned_to, nil_uuid()), COALESCE(category_id, nil_uuid()), COUNT(*)
    FROM inserted
    WHERE follow_up_date IS NOT NULL AND status NOT IN ('won', 'lost')
    GROUP BY org_id, follow_up_day, COALESCE(assigned_to, nil_uuid()), COALESCE(category_id, nil_uuid())
    ORDER BY org_id, follow_up_day, COALESCE(assigned_to, nil_uuid()), COALESCE(category_id, nil_uuid())
    ON CONFLICT (org_id, day, assigned_to, category_id) DO UPDATE SET count = t.count + excluded.count;
    RETURN NULL;
END
$$;

DROP FUNCTION utc_day(timestamptz);
