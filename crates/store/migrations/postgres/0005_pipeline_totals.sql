-- Pipeline statistics kept current by a trigger, inside the transaction of every write, so that
-- reading them costs the same at ten opportunities as at a million. "None" is '' for a source
-- and the nil UUID for an id, so that every group has a key. Follow-ups are counted per UTC day
-- (days since 1970-01-01) for leads that are not won or lost.

CREATE TABLE pipeline_totals (
    org_id uuid NOT NULL,
    status text NOT NULL,
    source text NOT NULL,
    assigned_to uuid NOT NULL,
    category_id uuid NOT NULL,
    count bigint NOT NULL,
    value_cents bigint NOT NULL,
    weighted bigint NOT NULL,
    PRIMARY KEY (org_id, status, source, assigned_to, category_id)
);

CREATE TABLE follow_up_totals (
    org_id uuid NOT NULL,
    day bigint NOT NULL,
    assigned_to uuid NOT NULL,
    category_id uuid NOT NULL,
    count bigint NOT NULL,
    PRIMARY KEY (org_id, day, assigned_to, category_id)
);

CREATE FUNCTION nil_uuid() RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT '00000000-0000-0000-0000-000000000000'::uuid $$;

CREATE FUNCTION utc_day(at timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS $$ SELECT floor(extract(epoch FROM at) / 86400)::bigint $$;

INSERT INTO pipeline_totals
SELECT org_id, status, COALESCE(source, ''), COALESCE(assigned_to, nil_uuid()), COALESCE(category_id, nil_uuid()),
       COUNT(*), COALESCE(SUM(estimated_value), 0), COALESCE(SUM(estimated_value * probability), 0)
FROM opportunities GROUP BY 1, 2, 3, 4, 5;

INSERT INTO follow_up_totals
SELECT org_id, utc_day(follow_up_date), COALESCE(assigned_to, nil_uuid()), COALESCE(category_id, nil_uuid()), COUNT(*)
FROM opportunities WHERE follow_up_date IS NOT NULL AND status NOT IN ('won', 'lost') GROUP BY 1, 2, 3, 4;

CREATE FUNCTION count_opportunity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE pipeline_totals SET count = count - 1, value_cents = value_cents - COALESCE(OLD.estimated_value, 0),
            weighted = weighted - COALESCE(OLD.estimated_value, 0) * OLD.probability
        WHERE org_id = OLD.org_id AND status = OLD.status AND source = COALESCE(OLD.source, '')
          AND assigned_to = COALESCE(OLD.assigned_to, nil_uuid()) AND category_id = COALESCE(OLD.category_id, nil_uuid());
        IF OLD.follow_up_date IS NOT NULL AND OLD.status NOT IN ('won', 'lost') THEN
            UPDATE follow_up_totals SET count = count - 1
            WHERE org_id = OLD.org_id AND day = utc_day(OLD.follow_up_date)
              AND assigned_to = COALESCE(OLD.assigned_to, nil_uuid()) AND category_id = COALESCE(OLD.category_id, nil_uuid());
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO pipeline_totals AS t (org_id, status, source, assigned_to, category_id, count, value_cents, weighted)
        VALUES (NEW.org_id, NEW.status, COALESCE(NEW.source, ''), COALESCE(NEW.assigned_to, nil_uuid()),
                COALESCE(NEW.category_id, nil_uuid()), 1, COALESCE(NEW.estimated_value, 0),
                COALESCE(NEW.estimated_value, 0) * NEW.probability)
        ON CONFLICT (org_id, status, source, assigned_to, category_id) DO UPDATE SET
            count = t.count + 1, value_cents = t.value_cents + excluded.value_cents, weighted = t.weighted + excluded.weighted;
        IF NEW.follow_up_date IS NOT NULL AND NEW.status NOT IN ('won', 'lost') THEN
            INSERT INTO follow_up_totals AS t (org_id, day, assigned_to, category_id, count)
            VALUES (NEW.org_id, utc_day(NEW.follow_up_date), COALESCE(NEW.assigned_to, nil_uuid()),
                    COALESCE(NEW.category_id, nil_uuid()), 1)
            ON CONFLICT (org_id, day, assigned_to, category_id) DO UPDATE SET count = t.count + 1;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER opportunities_count AFTER INSERT OR DELETE OR UPDATE OF status, source, assigned_to, category_id,
    estimated_value, probability, follow_up_date ON opportunities
    FOR EACH ROW EXECUTE FUNCTION count_opportunity();
