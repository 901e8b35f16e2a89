-- CSV import (issue 13) finds the leads a row duplicates by e-mail or by the digits of a phone
-- number. E-mails are stored lowercased already; the digits are kept in their own column,
-- written with every save from the domain's `phone_digits` (NULL below 7 digits).
ALTER TABLE opportunities ADD COLUMN prospect_phone_digits text;

UPDATE opportunities SET prospect_phone_digits = regexp_replace(prospect_phone, '[^0-9]', '', 'g')
WHERE length(regexp_replace(prospect_phone, '[^0-9]', '', 'g')) >= 7;

CREATE INDEX opportunities_by_email ON opportunities (org_id, prospect_email);
CREATE INDEX opportunities_by_phone_digits ON opportunities (org_id, prospect_phone_digits);
