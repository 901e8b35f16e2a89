-- Each lead's words in a B-tree, for search (issue 14, item 3; docs/decisions.md, "Search on
-- PostgreSQL at a million leads"). It replaces the trigram index of 0006: a common word's
-- trigram bitmap covered a quarter of a million leads before a LIMIT could stop it, and a rare
-- e-mail's trigrams (`example`, `com`) covered nearly every lead. Here one range of the index
-- is one word's (or one prefix's) leads, which a query can stop reading after 1,001 entries.
--
-- A word is what `search_text` splits into on `[^[:alnum:]]` (the row check's own classes,
-- 0026), lowercased as `search_text` is, each once per lead, cut at 64 characters so that no
-- word can exceed a B-tree entry; a search for a longer word looks up its first 64 characters
-- and the row check settles the rest. `COLLATE "C"` orders words by their bytes, so a prefix
-- is one range of the index.
CREATE FUNCTION search_words_of(searched text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT DISTINCT left(word, 64) FROM regexp_split_to_table(searched, '[^[:alnum:]]+') AS word WHERE word <> ''
$$;

-- Without a foreign key: the cascade of a lead's delete would need a second index on
-- (org_id, opportunity_id). The trigger below deletes a lead's words through this key instead.
CREATE TABLE search_words (
    org_id uuid NOT NULL,
    word text COLLATE "C" NOT NULL,
    opportunity_id uuid NOT NULL
);

INSERT INTO search_words (org_id, word, opportunity_id)
SELECT o.org_id, w.word, o.id FROM opportunities o CROSS JOIN search_words_of(o.search_text) AS w(word);

ALTER TABLE search_words ADD PRIMARY KEY (org_id, word, opportunity_id);

-- Without statistics the planner cannot tell a common word's range from a rare one's until
-- autovacuum comes by; a server upgraded in place searches at once.
ANALYZE search_words;

-- Kept with the lead, in its statement: an update touches only the words it adds or removes.
CREATE FUNCTION keep_search_words() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.search_text IS NOT DISTINCT FROM OLD.search_text THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM search_words
        WHERE org_id = OLD.org_id AND opportunity_id = OLD.id
          AND word IN (SELECT search_words_of(OLD.search_text)
                       EXCEPT SELECT search_words_of(NEW.search_text) WHERE TG_OP = 'UPDATE');
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO search_words (org_id, word, opportunity_id)
        SELECT NEW.org_id, word, NEW.id
        FROM (SELECT search_words_of(NEW.search_text)
              EXCEPT SELECT search_words_of(OLD.search_text) WHERE TG_OP = 'UPDATE') AS added(word);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER opportunities_search_words
AFTER INSERT OR DELETE OR UPDATE OF title, description, prospect_name, prospect_email, prospect_phone ON opportunities
FOR EACH ROW EXECUTE FUNCTION keep_search_words();

DROP INDEX opportunities_search;
