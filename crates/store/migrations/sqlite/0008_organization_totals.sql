-- Statistics of a whole organization, the question a dashboard asks most, kept as their own
-- rows: the per-group totals of 0005 number in the thousands for a large pipeline (every
-- status, source, assignee and category), which made an unfiltered answer sum thousands of rows.
-- These are summed from those totals as they change, by triggers on them, so every write that
-- keeps the groups current keeps these current too, in the same transaction.

CREATE TABLE pipeline_org_totals (
    org_id BLOB NOT NULL,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    count INTEGER NOT NULL,
    value_cents INTEGER NOT NULL,
    weighted INTEGER NOT NULL,
    PRIMARY KEY (org_id, status, source)
) WITHOUT ROWID;

CREATE TABLE follow_up_org_totals (
    org_id BLOB NOT NULL,
    day INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (org_id, day)
) WITHOUT ROWID;

INSERT INTO pipeline_org_totals
SELECT org_id, status, source, SUM(count), SUM(value_cents), SUM(weighted) FROM pipeline_totals GROUP BY 1, 2, 3;

INSERT INTO follow_up_org_totals SELECT org_id, day, SUM(count) FROM follow_up_totals GROUP BY 1, 2;

-- A group's key never changes; its row is inserted once and then only updated.
CREATE TRIGGER pipeline_totals_roll_up_insert AFTER INSERT ON pipeline_totals BEGIN
    INSERT INTO pipeline_org_totals (org_id, status, source, count, value_cents, weighted)
    VALUES (NEW.org_id, NEW.status, NEW.source, NEW.count, NEW.value_cents, NEW.weighted)
    ON CONFLICT (org_id, status, source) DO UPDATE SET
        count = count + excluded.count, value_cents = value_cents + excluded.value_cents, weighted = weighted + excluded.weighted;
END;

CREATE TRIGGER pipeline_totals_roll_up_update AFTER UPDATE ON pipeline_totals BEGIN
    UPDATE pipeline_org_totals SET count = count + NEW.count - OLD.count,
        value_cents = value_cents + NEW.value_cents - OLD.value_cents, weighted = weighted + NEW.weighted - OLD.weighted
    WHERE org_id = NEW.org_id AND status = NEW.status AND source = NEW.source;
END;

CREATE TRIGGER follow_up_totals_roll_up_insert AFTER INSERT ON follow_up_totals BEGIN
    INSERT INTO follow_up_org_totals (org_id, day, count) VALUES (NEW.org_id, NEW.day, NEW.count)
    ON CONFLICT (org_id, day) DO UPDATE SET count = count + excluded.count;
END;

CREATE TRIGGER follow_up_totals_roll_up_update AFTER UPDATE ON follow_up_totals BEGIN
    UPDATE follow_up_org_totals SET count = count + NEW.count - OLD.count WHERE org_id = NEW.org_id AND day = NEW.day;
END;
