-- Search by words on PostgreSQL as on SQLite (issue 14, item 3; docs/decisions.md, "Search on
-- PostgreSQL at a million leads"). The trigram index answered a word by every lead holding its
-- three-letter pieces, and the seeded e-mails put `pro`, `exa` and `com` in every lead: a
-- common word took seconds at a million leads, a rare e-mail tens of milliseconds.
--
-- Each lead now carries the terms of its searched text, and a GIN index over them:
--   * each word (a run of letters and digits, as `search_text`'s `[:alnum:]` checks), first 64
--     characters, as `<org id>:<word>`;
--   * each word's first 1, 2 and 3 characters as `<org id>` U+0001 `<prefix>`, which answer a word
--     still being typed without expanding every word that starts with it (as SQLite's prefix
--     indexes of 1 to 3 characters do).
-- The organization's id in every term keeps one clinic's common word out of another's search.
-- The finished words and the typed prefix are one `@>` on the index; what a term cannot say
-- exactly (a prefix longer than 3, a word longer than 64) is checked on the row's search_text.
-- A generated column may not read another (search_text), so the fields are joined again here.
CREATE FUNCTION search_terms(org uuid, searched text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT org::text || term), '{}')
    FROM regexp_split_to_table(searched, '[^[:alnum:]]+') AS word,
         LATERAL (SELECT ':' || left(word, 64)
                  UNION ALL
                  SELECT chr(1) || left(word, n) FROM generate_series(1, least(3, length(word))) AS n) AS terms (term)
    WHERE word <> ''
$$;

ALTER TABLE opportunities ADD COLUMN search_terms text[] GENERATED ALWAYS AS (search_terms(org_id, lower(
    coalesce(title, '') || chr(31) || coalesce(description, '') || chr(31) || coalesce(prospect_name, '') || chr(31)
    || coalesce(prospect_email, '') || chr(31) || coalesce(prospect_phone, '')))) STORED;

CREATE INDEX opportunities_search_terms ON opportunities USING gin (search_terms);

DROP INDEX opportunities_search;
