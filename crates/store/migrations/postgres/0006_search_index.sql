-- A trigram index over what `search` looks in, so a search is an index lookup rather than a
-- scan of every opportunity. The searched text is one lowercased column; fields are joined by
-- a control character (U+001F), which no stored text or search may contain, so a match never
-- spans two fields.
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;

ALTER TABLE opportunities ADD COLUMN search_text text GENERATED ALWAYS AS (lower(
    coalesce(title, '') || chr(31) || coalesce(description, '') || chr(31) || coalesce(prospect_name, '') || chr(31)
    || coalesce(prospect_email, '') || chr(31) || coalesce(prospect_phone, ''))) STORED;

CREATE INDEX opportunities_search ON opportunities USING gin (search_text public.gin_trgm_ops);
