-- CSV import (issue 13) finds the leads a row duplicates by e-mail or by the digits of a phone
-- number. E-mails are stored lowercased already; the digits are kept in their own column,
-- written with every save from the domain's `phone_digits` (NULL below 7 digits).
ALTER TABLE opportunities ADD COLUMN prospect_phone_digits text;

UPDATE opportunities SET prospect_phone_digits = regexp_replace(prospect_phone, '[^0-9]', '', 'g')
WHERE length(regexp_replace(prospect_phone, '[^0-9]', '', 'g')) >= 7;

CREATE INDEX opportunities_by_email ON opportunities (org_id, prospect_email);
CREATE INDEX opportunities_by_phone_digits ON opportunities (org_id, prospect_phone_digits);

-- Inserted leads are counted once per statement, a group at a time, instead of once per row. A
-- transaction that inserts many leads (a CSV import) updated the same few totals rows once per
-- lead, and PostgreSQL cannot prune a row's versions before the transaction that made them
-- ends, so each update walked a longer chain: 20,000 leads took 7 s and 100,000 took 150 s.
-- Groups are written in the order of their keys, as count_opportunity() (0011) writes them.
-- (SQLite updates rows in place and keeps its row trigger.)
CREATE FUNCTION count_inserted_opportunities() RETURNS trigger LANGUAGE plpgsql AS $$
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
    SELECT org_id, utc_day(follow_up_date), COALESCE(assigned_to, nil_uuid()), COALESCE(category_id, nil_uuid()), COUNT(*)
    FROM inserted
    WHERE follow_up_date IS NOT NULL AND status NOT IN ('won', 'lost')
    GROUP BY org_id, utc_day(follow_up_date), COALESCE(assigned_to, nil_uuid()), COALESCE(category_id, nil_uuid())
    ORDER BY org_id, utc_day(follow_up_date), COALESCE(assigned_to, nil_uuid()), COALESCE(category_id, nil_uuid())
    ON CONFLICT (org_id, day, assigned_to, category_id) DO UPDATE SET count = t.count + excluded.count;
    RETURN NULL;
END
$$;

DROP TRIGGER opportunities_count ON opportunities;
CREATE TRIGGER opportunities_count AFTER DELETE OR UPDATE OF status, source, assigned_to, category_id,
    estimated_value, probability, follow_up_date ON opportunities
    FOR EACH ROW EXECUTE FUNCTION count_opportunity();
CREATE TRIGGER opportunities_count_inserted AFTER INSERT ON opportunities
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_opportunities();
