-- The row check of one search word (a regular expression over search_text), for a search that
-- matches so many leads that the list walks its own order (issue 14, item 3; docs/decisions.md,
-- "Search on PostgreSQL at a million leads"). A function, because the planner estimates a
-- regular expression it cannot see as matching 1 row in 200, and two of them 1 in 40,000: a
-- search for two common words (`example com`) then read and sorted all of the organization's
-- leads (2.4 s at 1M) instead of walking the list's order and stopping after a page. A
-- PL/pgSQL function is never inlined, and one it cannot look into is estimated at 1 in 3.
CREATE FUNCTION search_matches(searched text, pattern text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN searched ~* pattern;
END
$$;
