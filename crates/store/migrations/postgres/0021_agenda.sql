-- The follow-up agenda reads what is due in a window, earliest first, per assignee (or for the
-- whole organization, through opportunities_by_follow_up). Partial indexes: only what can still
-- be on an agenda is indexed, so they stay small however many leads are closed or activities done.
CREATE INDEX opportunities_agenda ON opportunities (org_id, assigned_to, follow_up_date)
    WHERE follow_up_date IS NOT NULL AND status NOT IN ('won', 'lost');
CREATE INDEX activities_agenda ON activities (org_id, scheduled_at)
    WHERE scheduled_at IS NOT NULL AND completed_at IS NULL;
