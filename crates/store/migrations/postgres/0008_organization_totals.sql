-- Statistics of a whole organization, the question a dashboard asks most, kept as their own
-- rows: the per-group totals of 0005 number in the thousands for a large pipeline (every
-- status, source, assignee and category), which made an unfiltered answer sum thousands of rows.
-- These are summed from those totals as they change, by triggers on them, so every write that
-- keeps the groups current keeps these current too, in the same transaction.

CREATE TABLE pipeline_org_totals (
    org_id uuid NOT NULL,
    status text NOT NULL,
    source text NOT NULL,
    count bigint NOT NULL,
    value_cents bigint NOT NULL,
    weighted bigint NOT NULL,
    PRIMARY KEY (org_id, status, source)
);

CREATE TABLE follow_up_org_totals (
    org_id uuid NOT NULL,
    day bigint NOT NULL,
    count bigint NOT NULL,
    PRIMARY KEY (org_id, day)
);

INSERT INTO pipeline_org_totals
SELECT org_id, status, source, SUM(count), SUM(value_cents), SUM(weighted) FROM pipeline_totals GROUP BY 1, 2, 3;

INSERT INTO follow_up_org_totals SELECT org_id, day, SUM(count) FROM follow_up_totals GROUP BY 1, 2;

-- A group's key never changes; its row is inserted once and then only updated.
CREATE FUNCTION roll_up_pipeline_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pipeline_org_totals AS t (org_id, status, source, count, value_cents, weighted)
    VALUES (NEW.org_id, NEW.status, NEW.source, NEW.count - COALESCE(OLD.count, 0),
            NEW.value_cents - COALESCE(OLD.value_cents, 0), NEW.weighted - COALESCE(OLD.weighted, 0))
    ON CONFLICT (org_id, status, source) DO UPDATE SET
        count = t.count + excluded.count, value_cents = t.value_cents + excluded.value_cents, weighted = t.weighted + excluded.weighted;
    RETURN NULL;
END
$$;

CREATE FUNCTION roll_up_follow_up_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO follow_up_org_totals AS t (org_id, day, count) VALUES (NEW.org_id, NEW.day, NEW.count - COALESCE(OLD.count, 0))
    ON CONFLICT (org_id, day) DO UPDATE SET count = t.count + excluded.count;
    RETURN NULL;
END
$$;

CREATE TRIGGER pipeline_totals_roll_up AFTER INSERT OR UPDATE ON pipeline_totals
    FOR EACH ROW EXECUTE FUNCTION roll_up_pipeline_totals();

CREATE TRIGGER follow_up_totals_roll_up AFTER INSERT OR UPDATE ON follow_up_totals
    FOR EACH ROW EXECUTE FUNCTION roll_up_follow_up_totals();
