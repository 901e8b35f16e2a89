-- Creating a lead lists the clients it may duplicate (issue 12, item 7) by the same keys as the
-- leads' (0016): the e-mail, stored lowercased and already indexed by its unique constraint,
-- and the digits of the phone, kept in their own column, written with every save from the
-- domain's `phone_digits` (NULL below 7 digits).
ALTER TABLE clients ADD COLUMN phone_digits text;

UPDATE clients SET phone_digits = regexp_replace(phone, '[^0-9]', '', 'g')
WHERE length(regexp_replace(phone, '[^0-9]', '', 'g')) >= 7;

CREATE INDEX clients_by_phone_digits ON clients (org_id, phone_digits);
