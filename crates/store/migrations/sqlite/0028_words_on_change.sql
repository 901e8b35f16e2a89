-- The lead upsert names every column in its SET list, and `UPDATE OF` fires on a column named
-- there whether or not its value changed: every change of stage, value or follow-up rewrote the
-- lead's words in the word index, the most expensive part of an update. Now only a change of a
-- searched field does.
DROP TRIGGER opportunity_words_update;

CREATE TRIGGER opportunity_words_update
AFTER UPDATE OF title, description, prospect_name, prospect_email, prospect_phone ON opportunities
WHEN OLD.title IS NOT NEW.title OR OLD.description IS NOT NEW.description OR OLD.prospect_name IS NOT NEW.prospect_name
  OR OLD.prospect_email IS NOT NEW.prospect_email OR OLD.prospect_phone IS NOT NEW.prospect_phone
BEGIN
    DELETE FROM opportunity_words WHERE rowid = OLD.rowid;
    INSERT INTO opportunity_words (rowid, org, words) VALUES (NEW.rowid, lower(hex(NEW.org_id)),
        concat_ws(char(10), NEW.title, NEW.description, NEW.prospect_name, NEW.prospect_email, NEW.prospect_phone));
END;
