-- Creating a lead lists the clients it may duplicate (issue 12, item 7) by the same keys as the
-- leads' (0016): the e-mail, stored lowercased and already indexed by its unique constraint,
-- and the digits of the phone, kept in their own column, written with every save from the
-- domain's `phone_digits` (NULL below 7 digits).
ALTER TABLE clients ADD COLUMN phone_digits TEXT;

-- SQLite has no regular expressions: as in 0016, the usual separators are removed, and a phone
-- with any other character is left unmatched until its client is next saved.
UPDATE clients SET phone_digits = digits
FROM (SELECT org_id AS o, id AS i,
             replace(replace(replace(replace(replace(replace(replace(phone,
                 ' ', ''), '-', ''), '(', ''), ')', ''), '+', ''), '.', ''), '/', '') AS digits
      FROM clients WHERE phone IS NOT NULL)
WHERE org_id = o AND id = i AND length(digits) >= 7 AND digits NOT GLOB '*[^0-9]*';

CREATE INDEX clients_by_phone_digits ON clients (org_id, phone_digits);
