-- Search by words instead of substrings (see domain::search). The trigram index made a common
-- word cost a pass over hundreds of thousands of index entries; a word index finds a word's
-- leads directly and lets the search stop counting early.
--
-- The index is contentless (it stores no copy of the text) and holds, per opportunity, two
-- columns: `org`, the organization's id as one token (32 hex digits), so a query names its
-- organization inside the index; and `words`, the searched fields joined by a line break.
-- `unicode61` with diacritics kept splits words on exactly what domain::search calls a word
-- boundary; prefix indexes of 1 to 3 characters answer short prefixes, typed while a word is
-- still being written, without expanding every word that starts with them. The index refers
-- to opportunities by rowid; after a manual VACUUM, which may renumber rowids, refill it:
-- INSERT INTO opportunity_words (opportunity_words) VALUES ('delete-all'), then the INSERT below.
DROP TRIGGER opportunity_search_insert;
DROP TRIGGER opportunity_search_delete;
DROP TRIGGER opportunity_search_update;
DROP TABLE opportunity_search;

CREATE VIRTUAL TABLE opportunity_words USING fts5(
    org, words,
    content = '', contentless_delete = 1, prefix = '1 2 3',
    tokenize = 'unicode61 remove_diacritics 0 categories ''L* N* Co'''
);

INSERT INTO opportunity_words (rowid, org, words)
SELECT rowid, lower(hex(org_id)), concat_ws(char(10), title, description, prospect_name, prospect_email, prospect_phone)
FROM opportunities;

CREATE TRIGGER opportunity_words_insert AFTER INSERT ON opportunities BEGIN
    INSERT INTO opportunity_words (rowid, org, words) VALUES (NEW.rowid, lower(hex(NEW.org_id)),
        concat_ws(char(10), NEW.title, NEW.description, NEW.prospect_name, NEW.prospect_email, NEW.prospect_phone));
END;

CREATE TRIGGER opportunity_words_delete AFTER DELETE ON opportunities BEGIN
    DELETE FROM opportunity_words WHERE rowid = OLD.rowid;
END;

CREATE TRIGGER opportunity_words_update
AFTER UPDATE OF title, description, prospect_name, prospect_email, prospect_phone ON opportunities BEGIN
    DELETE FROM opportunity_words WHERE rowid = OLD.rowid;
    INSERT INTO opportunity_words (rowid, org, words) VALUES (NEW.rowid, lower(hex(NEW.org_id)),
        concat_ws(char(10), NEW.title, NEW.description, NEW.prospect_name, NEW.prospect_email, NEW.prospect_phone));
END;
