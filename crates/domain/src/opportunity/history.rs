//! The stage history: one entry each time an opportunity enters a status, appended by the same
//! change that moves it and never updated. How long a lead stayed in a stage is not stored: it
//! follows from when the next entry began, so no later write has to touch an earlier entry.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Status, StatusMove};
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
}

impl StageEntry {
    /// The entry that a transition's status move appends.
    pub fn of_move(org_id: Uuid, opportunity_id: Uuid, moved: StatusMove, changed_by: Option<Uuid>, now: Timestamp) -> StageEntry {
        StageEntry { id: Uuid::now_v7(), org_id, opportunity_id, status: moved.to, entered_at: now, changed_by }
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

/// The spans of `entries` (oldest first), of which at most `limit` are answered: an entry past
/// the page is only read for when the page's last stage ended.
pub fn spans(entries: &[StageEntry], limit: usize, now: Timestamp) -> Vec<StageSpan> {
    let next_starts = entries.iter().skip(1).map(|next| Some(next.entered_at)).chain(std::iter::once(None));
    entries
        .iter()
        .zip(next_starts)
        .take(limit)
        .map(|(entry, left_at)| StageSpan {
            status: entry.status,
            entered_at: entry.entered_at,
            left_at,
            seconds_in_stage: (left_at.unwrap_or(now).unix_micros() - entry.entered_at.unix_micros()).max(0) / 1_000_000,
            changed_by: entry.changed_by,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_micros(seconds * 1_000_000).expect("a valid instant")
    }

    fn entry(status: Status, seconds: i64) -> StageEntry {
        StageEntry {
            id: Uuid::now_v7(),
            org_id: Uuid::nil(),
            opportunity_id: Uuid::nil(),
            status,
            entered_at: at(seconds),
            changed_by: None,
        }
    }

    #[test]
    fn each_stage_ends_when_the_next_begins_and_the_current_one_runs_until_now() {
        let entries = [entry(Status::Open, 10), entry(Status::Contacted, 70), entry(Status::Won, 100)];
        let all = spans(&entries, 3, at(160));
        let ends: Vec<_> = all.iter().map(|span| (span.left_at, span.seconds_in_stage)).collect();
        assert_eq!(ends, [(Some(at(70)), 60), (Some(at(100)), 30), (None, 60)]);

        let page = spans(&entries[..2], 1, at(160));
        assert_eq!(page.len(), 1, "the entry past the page is not answered");
        assert_eq!(page[0].left_at, Some(at(70)), "but it ends the page's last stage");
    }
}
