-- The update trigger of 0005 took every changed lead out of its groups and put it back in:
-- four totals rows written per update, and with 0008 four more for the organization's totals,
-- on SQLite's single writer. Most updates change a value, a probability or a date and leave
-- the lead in the same group, and most leave its follow-up as it was. Now a lead that stays in
-- its group has its value adjusted in place (one row), and follow-up counts are touched only
-- when the follow-up's day, assignee, category or being open changes.
DROP TRIGGER opportunities_count_update;

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
    WHERE NOT ((OLD.follow_up_date / 86400000000) IS (NEW.follow_up_date / 86400000000) AND OLD.assigned_to IS NEW.assigned_to
               AND OLD.category_id IS NEW.category_id AND (OLD.status IN ('won', 'lost')) = (NEW.status IN ('won', 'lost')))
      AND OLD.follow_up_date IS NOT NULL AND OLD.status NOT IN ('won', 'lost') AND org_id = OLD.org_id
      AND day = OLD.follow_up_date / 86400000000 AND assigned_to = COALESCE(OLD.assigned_to, zeroblob(16))
      AND category_id = COALESCE(OLD.category_id, zeroblob(16));
    INSERT INTO follow_up_totals (org_id, day, assigned_to, category_id, count)
    SELECT NEW.org_id, NEW.follow_up_date / 86400000000, COALESCE(NEW.assigned_to, zeroblob(16)),
           COALESCE(NEW.category_id, zeroblob(16)), 1
    WHERE NOT ((OLD.follow_up_date / 86400000000) IS (NEW.follow_up_date / 86400000000) AND OLD.assigned_to IS NEW.assigned_to
               AND OLD.category_id IS NEW.category_id AND (OLD.status IN ('won', 'lost')) = (NEW.status IN ('won', 'lost')))
      AND NEW.follow_up_date IS NOT NULL AND NEW.status NOT IN ('won', 'lost')
    ON CONFLICT (org_id, day, assigned_to, category_id) DO UPDATE SET count = count + 1;
END;
