-- Where a visitor's browser goes after a form post (issue 11, item 9): an absolute http(s) URL
-- on the clinic's site, or null for the hosted thank-you page.
ALTER TABLE lead_forms ADD COLUMN thank_you_url text;
