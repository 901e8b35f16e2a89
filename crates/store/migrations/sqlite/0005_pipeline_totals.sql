-- Pipeline statistics kept current by triggers, inside the transaction of every write, so that
-- reading them costs the same at ten opportunities as at a million. "None" is '' for a source
-- and sixteen zero bytes for an id, so that every group has a key. Follow-ups are counted per
-- UTC day (days since 1970-01-01) for leads that are not won or lost.

CREATE TABLE pipeline_totals (
    org_id BLOB NOT NULL,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    assigned_to BLOB NOT NULL,
    category_id BLOB NOT NULL,
    count INTEGER NOT NULL,
    value_cents INTEGER NOT NULL,
    weighted INTEGER NOT NULL,
    PRIMARY KEY (org_id, status, source, assigned_to, category_id)
) WITHOUT ROWID;

CREATE TABLE follow_up_totals (
    org_id BLOB NOT NULL,
    day INTEGER NOT NULL,
    assigned_to BLOB NOT NULL,
    category_id BLOB NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (org_id, day, assigned_to, category_id)
) WITHOUT ROWID;

INSERT INTO pipeline_totals
SELECT org_id, status, COALESCE(source, ''), COALESCE(assigned_to, zeroblob(16)), COALESCE(category_id, zeroblob(16)),
       COUNT(*), COALESCE(SUM(estimated_value), 0), COALESCE(SUM(estimated_value * probability), 0)
FROM opportunities GROUP BY 1, 2, 3, 4, 5;

INSERT INTO follow_up_totals
SELECT org_id, follow_up_date / 86400000000, COALESCE(assigned_to, zeroblob(16)), COALESCE(category_id, zeroblob(16)), COUNT(*)
FROM opportunities WHERE follow_up_date IS NOT NULL AND status NOT IN ('won', 'lost') GROUP BY 1, 2, 3, 4;

CREATE TRIGGER opportunities_count_insert AFTER INSERT ON opportunities BEGIN
    INSERT INTO pipeline_totals (org_id, status, source, assigned_to, category_id, count, value_cents, weighted)
    VALUES (NEW.org_id, NEW.status, COALESCE(NEW.source, ''), COALESCE(NEW.assigned_to, zeroblob(16)),
            COALESCE(NEW.category_id, zeroblob(16)), 1, COALESCE(NEW.estimated_value, 0),
            COALESCE(NEW.estimated_value, 0) * NEW.probability)
    ON CONFLICT (org_id, status, source, assigned_to, category_id) DO UPDATE SET
        count = count + 1, value_cents = value_cents + excluded.value_cents, weighted = weighted + excluded.weighted;
    INSERT INTO follow_up_totals (org_id, day, assigned_to, category_id, count)
    SELECT NEW.org_id, NEW.follow_up_date / 86400000000, COALESCE(NEW.assigned_to, zeroblob(16)),
           COALESCE(NEW.category_id, zeroblob(16)), 1
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
      AND day = OLD.follow_up_date / 86400000000 AND assigned_to = COALESCE(OLD.assigned_to, zeroblob(16))
      AND category_id = COALESCE(OLD.category_id, zeroblob(16));
END;

-- An update takes the old row out of its groups and puts the new one in.
CREATE TRIGGER opportunities_count_update
AFTER UPDATE OF status, source, assigned_to, category_id, estimated_value, probability, follow_up_date ON opportunities
BEGIN
    UPDATE pipeline_totals SET count = count - 1, value_cents = value_cents - COALESCE(OLD.estimated_value, 0),
        weighted = weighted - COALESCE(OLD.estimated_value, 0) * OLD.probability
    WHERE org_id = OLD.org_id AND status = OLD.status AND source = COALESCE(OLD.source, '')
      AND assigned_to = COALESCE(OLD.assigned_to, zeroblob(16)) AND category_id = COALESCE(OLD.category_id, zeroblob(16));
    UPDATE follow_up_totals SET count = count - 1
    WHERE OLD.follow_up_date IS NOT NULL AND OLD.status NOT IN ('won', 'lost') AND org_id = OLD.org_id
      AND day = OLD.follow_up_date / 86400000000 AND assigned_to = COALESCE(OLD.assigned_to, zeroblob(16))
      AND category_id = COALESCE(OLD.category_id, zeroblob(16));
    INSERT INTO pipeline_totals (org_id, status, source, assigned_to, category_id, count, value_cents, weighted)
    VALUES (NEW.org_id, NEW.status, COALESCE(NEW.source, ''), COALESCE(NEW.assigned_to, zeroblob(16)),
            COALESCE(NEW.category_id, zeroblob(16)), 1, COALESCE(NEW.estimated_value, 0),
            COALESCE(NEW.estimated_value, 0) * NEW.probability)
    ON CONFLICT (org_id, status, source, assigned_to, category_id) DO UPDATE SET
        count = count + 1, value_cents = value_cents + excluded.value_cents, weighted = weighted + excluded.weighted;
    INSERT INTO follow_up_totals (org_id, day, assigned_to, category_id, count)
    SELECT NEW.org_id, NEW.follow_up_date / 86400000000, COALESCE(NEW.assigned_to, zeroblob(16)),
           COALESCE(NEW.category_id, zeroblob(16)), 1
    WHERE NEW.follow_up_date IS NOT NULL AND NEW.status NOT IN ('won', 'lost')
    ON CONFLICT (org_id, day, assigned_to, category_id) DO UPDATE SET count = count + 1;
END;
