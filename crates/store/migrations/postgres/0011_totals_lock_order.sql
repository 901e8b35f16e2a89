-- Lock order of the totals. A lead that changes group is taken out of its old group's totals
-- and added to its new group's. As two statements (old group, then new), two leads moving in
-- opposite directions at once (one from "contacted" to "qualified", the other back) locked the
-- same two rows in opposite orders and deadlocked. Now each table's rows for the old and the new
-- group are written by one statement, in the order of their keys, and the roll-up triggers of
-- 0008 fire at the end of that statement, in the same order. So every transaction takes its
-- totals locks in one global order: group rows by key, then the organization's rows by key,
-- then the follow-up rows, then the organization's follow-up rows. (SQLite has one writer at a
-- time and needs none of this.)
CREATE OR REPLACE FUNCTION count_opportunity() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    same_group boolean := TG_OP = 'UPDATE' AND OLD.status = NEW.status AND OLD.source IS NOT DISTINCT FROM NEW.source
        AND OLD.assigned_to IS NOT DISTINCT FROM NEW.assigned_to AND OLD.category_id IS NOT DISTINCT FROM NEW.category_id;
    same_follow_up boolean := TG_OP = 'UPDATE'
        AND utc_day(OLD.follow_up_date) IS NOT DISTINCT FROM utc_day(NEW.follow_up_date)
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
            SELECT OLD.org_id, utc_day(OLD.follow_up_date), COALESCE(OLD.assigned_to, nil_uuid()), COALESCE(OLD.category_id, nil_uuid()),
                   -1::bigint
            WHERE counts_old AND OLD.follow_up_date IS NOT NULL AND OLD.status NOT IN ('won', 'lost')
            UNION ALL
            SELECT NEW.org_id, utc_day(NEW.follow_up_date), COALESCE(NEW.assigned_to, nil_uuid()), COALESCE(NEW.category_id, nil_uuid()),
                   1::bigint
            WHERE counts_new AND NEW.follow_up_date IS NOT NULL AND NEW.status NOT IN ('won', 'lost')
        ) AS change (org_id, day, assigned_to, category_id, count)
        ORDER BY day, assigned_to, category_id
        ON CONFLICT (org_id, day, assigned_to, category_id) DO UPDATE SET count = t.count + excluded.count;
    END IF;
    RETURN NULL;
END
$$;
