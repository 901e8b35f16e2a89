-- When each token last authenticated a request (to the minute), so unused ones can be revoked.
ALTER TABLE api_tokens ADD COLUMN last_used_at timestamptz;
