-- A trigram full-text index over what `search` looks in, so a search is an index lookup rather
-- than a scan of every opportunity. Trigrams keep the meaning of a case-insensitive substring
-- match. The index refers to opportunities by rowid and follows them through triggers;
-- after a manual VACUUM (which may renumber rowids) rebuild it with
-- INSERT INTO opportunity_search(opportunity_search) VALUES ('rebuild').
CREATE VIRTUAL TABLE opportunity_search USING fts5(
    title, description, prospect_name, prospect_email, prospect_phone,
    content = 'opportunities', content_rowid = 'rowid', tokenize = 'trigram'
);

INSERT INTO opportunity_search (opportunity_search) VALUES ('rebuild');

CREATE TRIGGER opportunity_search_insert AFTER INSERT ON opportunities BEGIN
    INSERT INTO opportunity_search (rowid, title, description, prospect_name, prospect_email, prospect_phone)
    VALUES (NEW.rowid, NEW.title, NEW.description, NEW.prospect_name, NEW.prospect_email, NEW.prospect_phone);
END;

CREATE TRIGGER opportunity_search_delete AFTER DELETE ON opportunities BEGIN
    INSERT INTO opportunity_search (opportunity_search, rowid, title, description, prospect_name, prospect_email, prospect_phone)
    VALUES ('delete', OLD.rowid, OLD.title, OLD.description, OLD.prospect_name, OLD.prospect_email, OLD.prospect_phone);
END;

CREATE TRIGGER opportunity_search_update
AFTER UPDATE OF title, description, prospect_name, prospect_email, prospect_phone ON opportunities BEGIN
    INSERT INTO opportunity_search (opportunity_search, rowid, title, description, prospect_name, prospect_email, prospect_phone)
    VALUES ('delete', OLD.rowid, OLD.title, OLD.description, OLD.prospect_name, OLD.prospect_email, OLD.prospect_phone);
    INSERT INTO opportunity_search (rowid, title, description, prospect_name, prospect_email, prospect_phone)
    VALUES (NEW.rowid, NEW.title, NEW.description, NEW.prospect_name, NEW.prospect_email, NEW.prospect_phone);
END;
