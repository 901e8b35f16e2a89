-- Pipeline settings per organization (issue 12, items 1 and 2): the time zone its days are
-- counted in, and per stage a lead is worked in, its default probability and after how many days
-- a lead there rots (NULL: never). Every organization has one row, made with it.
CREATE TABLE pipeline_settings (
    org_id BLOB PRIMARY KEY REFERENCES organizations (id),
    timezone TEXT NOT NULL,
    open_default_probability INTEGER NOT NULL CHECK (open_default_probability BETWEEN 0 AND 100),
    open_rot_after_days INTEGER CHECK (open_rot_after_days >= 0),
    contacted_default_probability INTEGER NOT NULL CHECK (contacted_default_probability BETWEEN 0 AND 100),
    contacted_rot_after_days INTEGER CHECK (contacted_rot_after_days >= 0),
    qualified_default_probability INTEGER NOT NULL CHECK (qualified_default_probability BETWEEN 0 AND 100),
    qualified_rot_after_days INTEGER CHECK (qualified_rot_after_days >= 0),
    proposal_default_probability INTEGER NOT NULL CHECK (proposal_default_probability BETWEEN 0 AND 100),
    proposal_rot_after_days INTEGER CHECK (proposal_rot_after_days >= 0),
    auto_stale INTEGER NOT NULL
) WITHOUT ROWID;

-- What every organization had until now: UTC, 10 % in every stage, nothing rots.
INSERT INTO pipeline_settings SELECT id, 'UTC', 10, NULL, 10, NULL, 10, NULL, 10, NULL, FALSE FROM organizations;

-- Follow-ups are counted by the date they fall on in the organization's time zone, which the
-- service computes (with the bundled time zone database, as for every other day it counts) and
-- writes beside the instant. Until now every organization counted in UTC. The days floor, also
-- before 1970, where 0005's division truncated and filed a follow-up under the next day.
ALTER TABLE opportunities ADD COLUMN follow_up_day INTEGER;
UPDATE opportunities SET follow_up_day = CASE WHEN follow_up_date >= 0 THEN follow_up_date / 86400000000
                                              ELSE (follow_up_date - 86399999999) / 86400000000 END
WHERE follow_up_date IS NOT NULL;

-- So the follow-ups are counted again, by those days (the roll-up triggers of 0008 fill the
-- organizations' rows).
DELETE FROM follow_up_org_totals;
DELETE FROM follow_up_totals;
INSERT INTO follow_up_totals
SELECT org_id, follow_up_day, COALESCE(assigned_to, zeroblob(16)), COALESCE(category_id, zeroblob(16)), COUNT(*)
FROM opportunities WHERE follow_up_date IS NOT NULL AND status NOT IN ('won', 'lost') GROUP BY 1, 2, 3, 4;

-- The triggers of 0005 and 0009, keyed by that column instead of the UTC day. They still fire on
-- `follow_up_date`: the day changes with it, except when the organization's time zone changes,
-- and then the service rewrites the days and recounts the organization's follow-ups itself.
DROP TRIGGER opportunities_count_insert;
DROP TRIGGER opportunities_count_delete;
DROP TRIGGER opportunities_count_update;

CREATE TRIGGER opportunities_count_insert AFTER INSERT ON opportunities BEGIN
    INSERT INTO pipeline_totals (org_id, status, source, assigned_to, category_id, count, value_cents, weighted)
    VALUES (NEW.org_id, NEW.status, COALESCE(NEW.source, ''), COALESCE(NEW.assigned_to, zeroblob(16)),
            COALESCE(NEW.category_id, zeroblob(16)), 1, COALESCE(NEW.estimated_value, 0),
            COALESCE(NEW.estimated_value, 0) * NEW.probability)
    ON CONFLICT (org_id, status, source, assigned_to, category_id) DO UPDATE SET
        count = count + 1, value_cents = value_cents + excluded.value_cents, weighted = weighted + excluded.weighted;
    INSERT INTO follow_up_totals (org_id, day, assigned_to, category_id, count)
    SELECT NEW.org_id, NEW.follow_up_day, COALESCE(NEW.assigned_to, zeroblob(16)), COALESCE(NEW.category_id, zeroblob(16)), 1
    WHERE NEW.follow_up_date IS NOT NULL AND NEW.status NOT IN ('won', 'lost')
    ON CONFLICT (org_id, day, assigned_to, category_id) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER opportunities_count_delete AFTER DELETE ON opportunities BEGIN
    UPDATE pipeline_totals SET count = count - 1, value_cents = value_cents - COALESCE(OLD.estimated_value, 0),
        weighted = weighted - COALESCE(OLD.estimated_value, 0) * OLD.probability
    WHERE org_id = OLD.org_id AND status = OLD.status AND source = COALESCE(OLD.source, '')
      AND assigned_to = COALESCE(OLD.assigned_to, zeroblob(16)) AND category_id = COALESCE(OLD.category_id, zeroblob(16));
    UPDATE follow_up_totals SET count = count - 1
    WHERE OLD.follow_up_date IS NOT NULL AND OLD.status NOT IN ('won', 'lost') AND org_id = OLD.org_id
      AND day = OLD.follow_up_day AND assigned_to = COALESCE(OLD.assigned_to, zeroblob(16))
      AND category_id = COALESCE(OLD.category_id, zeroblob(16));
END;

CREATE TRIGGER opportunities_count_update
AFTER UPDATE OF status, source, assigned_to, category_id, estimated_value, probability, follow_up_date ON opportunities
BEGIN
    UPDATE pipeline_totals SET
        value_cents = value_cents + COALESCE(NEW.estimated_value, 0) - COALESCE(OLD.estimated_value, 0),
        weighted = weighted + COALESCE(NEW.estimated_value, 0) * NEW.probability - COALESCE(OLD.estimated_value, 0) * OLD.probability
    WHERE OLD.status = NEW.status AND OLD.source IS NEW.source AND OLD.assigned_to IS NEW.assigned_to
      AND OLD.category_id IS NEW.category_id
      AND (OLD.estimated_value IS NOT NEW.estimated_value OR OLD.probability IS NOT NEW.probability)
      AND org_id = NEW.org_id AND status = NEW.status AND source = COALESCE(NEW.source, '')
      AND assigned_to = COALESCE(NEW.assigned_to, zeroblob(16)) AND category_id = COALESCE(NEW.category_id, zeroblob(16));

    UPDATE pipeline_totals SET count = count - 1, value_cents = value_cents - COALESCE(OLD.estimated_value, 0),
        weighted = weighted - COALESCE(OLD.estimated_value, 0) * OLD.probability
    WHERE NOT (OLD.status = NEW.status AND OLD.source IS NEW.source AND OLD.assigned_to IS NEW.assigned_to
               AND OLD.category_id IS NEW.category_id)
      AND org_id = OLD.org_id AND status = OLD.status AND source = COALESCE(OLD.source, '')
      AND assigned_to = COALESCE(OLD.assigned_to, zeroblob(16)) AND category_id = COALESCE(OLD.category_id, zeroblob(16));
    INSERT INTO pipeline_totals (org_id, status, source, assigned_to, category_id, count, value_cents, weighted)
    SELECT NEW.org_id, NEW.status, COALESCE(NEW.source, ''), COALESCE(NEW.assigned_to, zeroblob(16)),
           COALESCE(NEW.category_id, zeroblob(16)), 1, COALESCE(NEW.estimated_value, 0),
           COALESCE(NEW.estimated_value, 0) * NEW.probability
    WHERE NOT (OLD.status = NEW.status AND OLD.source IS NEW.source AND OLD.assigned_to IS NEW.assigned_to
               AND OLD.category_id IS NEW.category_id)
    ON CONFLICT (org_id, status, source, assigned_to, category_id) DO UPDATE SET
        count = count + 1, value_cents = value_cents + excluded.value_cents, weighted = weighted + excluded.weighted;

    UPDATE follow_up_totals SET count = count - 1
    WHERE NOT (OLD.follow_up_day IS NEW.follow_up_day AND OLD.assigned_to IS NEW.assigned_to
               AND OLD.category_id IS NEW.category_id AND (OLD.status IN ('won', 'lost')) = (NEW.status IN ('won', 'lost')))
      AND OLD.follow_up_date IS NOT NULL AND OLD.status NOT IN ('won', 'lost') AND org_id = OLD.org_id
      AND day = OLD.follow_up_day AND assigned_to = COALESCE(OLD.assigned_to, zeroblob(16))
      AND category_id = COALESCE(OLD.category_id, zeroblob(16));
    INSERT INTO follow_up_totals (org_id, day, assigned_to, category_id, count)
    SELECT NEW.org_id, NEW.follow_up_day, COALESCE(NEW.assigned_to, zeroblob(16)), COALESCE(NEW.category_id, zeroblob(16)), 1
    WHERE NOT (OLD.follow_up_day IS NEW.follow_up_day AND OLD.assigned_to IS NEW.assigned_to
               AND OLD.category_id IS NEW.category_id AND (OLD.status IN ('won', 'lost')) = (NEW.status IN ('won', 'lost')))
      AND NEW.follow_up_date IS NOT NULL AND NEW.status NOT IN ('won', 'lost')
    ON CONFLICT (org_id, day, assigned_to, category_id) DO UPDATE SET count = count + 1;
END;
