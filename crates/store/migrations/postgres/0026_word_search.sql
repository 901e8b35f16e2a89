-- Search by words on PostgreSQL as on SQLite (issue 14, item 3; docs/decisions.md, "Search on
-- PostgreSQL at a million leads"). The trigram index answered a word by every lead holding its
-- three-letter pieces, and the seeded e-mails put `pro`, `exa` and `com` in every lead: a
-- common word took seconds at a million leads, a rare e-mail tens of milliseconds.
--
-- Each lead now carries the terms of its searched text, and a GIN index over them:
--   * each word (a run of letters and digits, as `search_text`'s `[:alnum:]` checks), first 64
--     characters, as `<org id>:<word>`;
--   * each word's first 1, 2 and 3 characters, and its first 6, 9, 12 … 63, as `<org id>` U+0001
--     `<prefix>`, which answer a word still being typed without expanding every word that starts
--     with it: exactly at those lengths, and between them with the row checked (a prefix of 13
--     characters finds the leads with a word starting with its first 12, then checks them).
-- The organization's id in every term keeps one clinic's common word out of another's search.
-- The finished words and the typed prefix are one `@>` on the index; what a term cannot say
-- exactly (a prefix between the kept lengths, a word of 64 or more) is checked on the row.
-- A generated column may not read another (search_text), so the fields are joined again here.
CREATE FUNCTION search_terms(org uuid, searched text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT org::text || term), '{}')
    FROM regexp_split_to_table(searched, '[^[:alnum:]]+') AS word,
         LATERAL (SELECT ':' || left(word, 64)
                  UNION ALL
                  SELECT chr(1) || left(word, n) FROM generate_series(1, least(63, length(word))) AS n
                  WHERE n <= 3 OR n % 3 = 0) AS terms (term)
    WHERE word <> ''
$$;

ALTER TABLE opportunities ADD COLUMN search_terms text[] GENERATED ALWAYS AS (search_terms(org_id, lower(
    coalesce(title, '') || chr(31) || coalesce(description, '') || chr(31) || coalesce(prospect_name, '') || chr(31)
    || coalesce(prospect_email, '') || chr(31) || coalesce(prospect_phone, '')))) STORED;

CREATE INDEX opportunities_search_terms ON opportunities USING gin (search_terms);

-- The row check of one word (a regular expression over search_text). A function, because the
-- planner estimates a regular expression it cannot see as matching 1 row in 200, and two of them
-- 1 in 40,000: a search for two common words then read and sorted all of the organization's
-- leads (2.4 s at 1M) instead of walking the list's order and stopping after a page. A function
-- it cannot look into is estimated at 1 in 3.
CREATE FUNCTION search_matches(searched text, pattern text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN searched ~* pattern;
END
$$;

DROP INDEX opportunities_search;
