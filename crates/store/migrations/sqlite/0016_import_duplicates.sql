-- CSV import (issue 13) finds the leads a row duplicates by e-mail or by the digits of a phone
-- number. E-mails are stored lowercased already; the digits are kept in their own column,
-- written with every save from the domain's `phone_digits` (NULL below 7 digits).
ALTER TABLE opportunities ADD COLUMN prospect_phone_digits TEXT;

-- SQLite has no regular expressions: the usual separators are removed, and a phone with any
-- other character is left unmatched until its lead is next saved.
UPDATE opportunities SET prospect_phone_digits = digits
FROM (SELECT org_id AS o, id AS i,
             replace(replace(replace(replace(replace(replace(replace(prospect_phone,
                 ' ', ''), '-', ''), '(', ''), ')', ''), '+', ''), '.', ''), '/', '') AS digits
      FROM opportunities WHERE prospect_phone IS NOT NULL)
WHERE org_id = o AND id = i AND length(digits) >= 7 AND digits NOT GLOB '*[^0-9]*';

CREATE INDEX opportunities_by_email ON opportunities (org_id, prospect_email);
CREATE INDEX opportunities_by_phone_digits ON opportunities (org_id, prospect_phone_digits);
