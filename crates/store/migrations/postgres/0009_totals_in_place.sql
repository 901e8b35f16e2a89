-- The trigger of 0005 took every changed lead out of its groups and put it back in: four
-- totals rows written per update, and with 0008 four more for the organization's totals, each
-- one a row lock held until commit. Most updates change a value, a probability or a date and
-- leave the lead in the same group, and most leave its follow-up as it was. Now a lead that
-- stays in its group has its value adjusted in place (one row), and follow-up counts are
-- touched only when the follow-up's day, assignee, category or being open changes.
CREATE OR REPLACE FUNCTION count_opportunity() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    same_group boolean := TG_OP = 'UPDATE' AND OLD.status = NEW.status AND OLD.source IS NOT DISTINCT FROM NEW.source
        AND OLD.assigned_to IS NOT DISTINCT FROM NEW.assigned_to AND OLD.category_id IS NOT DISTINCT FROM NEW.category_id;
    same_follow_up boolean := TG_OP = 'UPDATE'
        AND utc_day(OLD.follow_up_date) IS NOT DISTINCT FROM utc_day(NEW.follow_up_date)
        AND OLD.assigned_to IS NOT DISTINCT FROM NEW.assigned_to AND OLD.category_id IS NOT DISTINCT FROM NEW.category_id
        AND (OLD.status IN ('won', 'lost')) = (NEW.status IN ('won', 'lost'));
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
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE pipeline_totals SET count = count - 1, value_cents = value_cents - COALESCE(OLD.estimated_value, 0),
                weighted = weighted - COALESCE(OLD.estimated_value, 0) * OLD.probability
            WHERE org_id = OLD.org_id AND status = OLD.status AND source = COALESCE(OLD.source, '')
              AND assigned_to = COALESCE(OLD.assigned_to, nil_uuid()) AND category_id = COALESCE(OLD.category_id, nil_uuid());
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO pipeline_totals AS t (org_id, status, source, assigned_to, category_id, count, value_cents, weighted)
            VALUES (NEW.org_id, NEW.status, COALESCE(NEW.source, ''), COALESCE(NEW.assigned_to, nil_uuid()),
                    COALESCE(NEW.category_id, nil_uuid()), 1, COALESCE(NEW.estimated_value, 0),
                    COALESCE(NEW.estimated_value, 0) * NEW.probability)
            ON CONFLICT (org_id, status, source, assigned_to, category_id) DO UPDATE SET
                count = t.count + 1, value_cents = t.value_cents + excluded.value_cents, weighted = t.weighted + excluded.weighted;
        END IF;
    END IF;
    IF NOT same_follow_up THEN
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.follow_up_date IS NOT NULL AND OLD.status NOT IN ('won', 'lost') THEN
            UPDATE follow_up_totals SET count = count - 1
            WHERE org_id = OLD.org_id AND day = utc_day(OLD.follow_up_date)
              AND assigned_to = COALESCE(OLD.assigned_to, nil_uuid()) AND category_id = COALESCE(OLD.category_id, nil_uuid());
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.follow_up_date IS NOT NULL AND NEW.status NOT IN ('won', 'lost') THEN
            INSERT INTO follow_up_totals AS t (org_id, day, assigned_to, category_id, count)
            VALUES (NEW.org_id, utc_day(NEW.follow_up_date), COALESCE(NEW.assigned_to, nil_uuid()),
                    COALESCE(NEW.category_id, nil_uuid()), 1)
            ON CONFLICT (org_id, day, assigned_to, category_id) DO UPDATE SET count = t.count + 1;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
