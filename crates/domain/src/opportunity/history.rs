//! The stage history: one entry each time an opportunity enters a status, appended by the same
//! change that moves it. What it says (which stage, when, who) never changes; the store sets when
//! the stay ended once the next entry is appended.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Opportunity, Status, StatusMove};
use crate::Timestamp;

/// One entry of the history, as stored: the lead entered `status` at `entered_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageEntry {
    pub id: Uuid,
    pub org_id: Uuid,
    pub opportunity_id: Uuid,
    pub status: Status,
    pub entered_at: Timestamp,
    /// The staff member who moved it; `None` when the system did (a website form, a migration).
    pub changed_by: Option<Uuid>,
    /// When the next stage began, set by the store when the next entry is appended; `None` for
    /// the stage the opportunity is in now.
    pub left_at: Option<Timestamp>,
    /// When the lead was created, kept on each of its entries so that a report finds the stays
    /// of the leads created in its window in one range of an index, not lead by lead.
    pub lead_created_at: Timestamp,
}

impl StageEntry {
    /// The entry that a transition's status move of `lead` appends.
    pub fn of_move(lead: &Opportunity, moved: StatusMove, changed_by: Option<Uuid>, now: Timestamp) -> StageEntry {
        StageEntry {
            id: Uuid::now_v7(),
            org_id: lead.org_id,
            opportunity_id: lead.id,
            status: moved.to,
            entered_at: now,
            changed_by,
            left_at: None,
            lead_created_at: lead.created_at,
        }
    }
}

/// A stage an opportunity spent time in, as the history route answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StageSpan {
    pub status: Status,
    pub entered_at: Timestamp,
    /// When the next stage began; null for the stage the opportunity is in now.
    pub left_at: Option<Timestamp>,
    /// Whole seconds from `entered_at` to `left_at`, or to now for the current stage.
    pub seconds_in_stage: i64,
    /// The staff member who moved it into this stage; null when the system did.
    pub changed_by: Option<Uuid>,
}

impl StageSpan {
    /// The span of `entry`; the current stage's runs until `now`.
    pub fn of(entry: &StageEntry, now: Timestamp) -> StageSpan {
        let ended = entry.left_at.unwrap_or(now);
        StageSpan {
            status: entry.status,
            entered_at: entry.entered_at,
            left_at: entry.left_at,
            seconds_in_stage: (ended.unix_micros() - entry.entered_at.unix_micros()).max(0) / 1_000_000,
            changed_by: entry.changed_by,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_micros(seconds * 1_000_000).expect("a valid instant")
    }

    #[test]
    fn a_stage_lasts_until_it_was_left_or_until_now() {
        let entry = |left_at| StageEntry {
            id: Uuid::now_v7(),
            org_id: Uuid::nil(),
            opportunity_id: Uuid::nil(),
            status: Status::Open,
            entered_at: at(10),
            changed_by: None,
            left_at,
            lead_created_at: at(0),
        };
        assert_eq!(StageSpan::of(&entry(Some(at(70))), at(160)).seconds_in_stage, 60);
        assert_eq!(StageSpan::of(&entry(None), at(160)).seconds_in_stage, 150);
        assert_eq!(StageSpan::of(&entry(None), at(5)).seconds_in_stage, 0, "never negative when clocks disagree");
    }
}
