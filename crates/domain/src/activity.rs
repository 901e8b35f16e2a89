//! Notes and the activity log of an opportunity.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Actor;
use crate::{FieldErrors, Patch, Result, Timestamp, text};

pub const NOTE_MAX: usize = 10_000;
pub const DESCRIPTION_MAX: usize = 2_000;
pub const OUTCOME_MAX: usize = 2_000;

/// How many of its latest notes, and of its latest activities, an opportunity's detail embeds:
/// a page's worth. The rest are paged through their own lists, so that a long history cannot
/// make one response as large as the history.
pub const EMBEDDED_LATEST: i64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    Call,
    Email,
    Meeting,
    Note,
    StatusChange,
    Task,
    Other,
}

impl ActivityType {
    pub const ALL: [ActivityType; 7] = [
        ActivityType::Call,
        ActivityType::Email,
        ActivityType::Meeting,
        ActivityType::Note,
        ActivityType::StatusChange,
        ActivityType::Task,
        ActivityType::Other,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ActivityType::Call => "call",
            ActivityType::Email => "email",
            ActivityType::Meeting => "meeting",
            ActivityType::Note => "note",
            ActivityType::StatusChange => "status_change",
            ActivityType::Task => "task",
            ActivityType::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Note {
    pub id: Uuid,
    pub org_id: Uuid,
    pub opportunity_id: Uuid,
    pub content: String,
    pub created_by: Uuid,
    pub created_at: Timestamp,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNote {
    /// 1 to 10,000 characters.
    #[schema(value_type = String, required = true, min_length = 1)]
    pub content: Option<String>,
}

impl Note {
    pub fn new(actor: &Actor, opportunity_id: Uuid, input: CreateNote, now: Timestamp) -> Result<Note> {
        let mut errors = FieldErrors::default();
        let content = text::required(&mut errors, "content", input.content, NOTE_MAX);
        errors.into_result(Note {
            id: Uuid::now_v7(),
            org_id: actor.org_id,
            opportunity_id,
            content,
            created_by: actor.staff_id,
            created_at: now,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Activity {
    pub id: Uuid,
    pub org_id: Uuid,
    pub opportunity_id: Uuid,
    pub activity_type: ActivityType,
    pub description: String,
    pub outcome: Option<String>,
    pub scheduled_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub created_by: Uuid,
    pub created_at: Timestamp,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateActivity {
    /// Any type but `status_change`, which only the service writes (when the status changes).
    #[schema(value_type = ActivityType, required = true)]
    pub activity_type: Option<ActivityType>,
    /// 1 to 2,000 characters.
    #[schema(value_type = String, required = true, min_length = 1)]
    pub description: Option<String>,
    /// Up to 2,000 characters.
    pub outcome: Option<String>,
    pub scheduled_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
}

/// A change of an activity: only the fields given; `null` clears `outcome`, `scheduled_at` or
/// `completed_at`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateActivity {
    /// 1 to 2,000 characters.
    #[serde(default)]
    #[schema(value_type = String, min_length = 1)]
    pub description: Patch<String>,
    /// Up to 2,000 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub outcome: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Timestamp>)]
    pub scheduled_at: Patch<Timestamp>,
    /// When it was done: set it to take the activity off the agenda.
    #[serde(default)]
    #[schema(value_type = Option<Timestamp>)]
    pub completed_at: Patch<Timestamp>,
}

impl Activity {
    pub fn new(actor: &Actor, opportunity_id: Uuid, input: CreateActivity, now: Timestamp) -> Result<Activity> {
        let mut errors = FieldErrors::default();
        match input.activity_type {
            None => errors.add("activity_type", "is required: one of call, email, meeting, note, task, other"),
            // The log is the pipeline's history: a status change is recorded by the service when
            // the status really changes, so a hand-written one could only misreport it.
            Some(ActivityType::StatusChange) => {
                errors.add("activity_type", "status_change is written by the service when the status changes; change the status instead")
            }
            Some(_) => {}
        }
        let activity = Activity {
            id: Uuid::now_v7(),
            org_id: actor.org_id,
            opportunity_id,
            activity_type: input.activity_type.unwrap_or(ActivityType::Other),
            description: text::required(&mut errors, "description", input.description, DESCRIPTION_MAX),
            outcome: text::optional(&mut errors, "outcome", input.outcome, OUTCOME_MAX),
            scheduled_at: input.scheduled_at,
            completed_at: input.completed_at,
            created_by: actor.staff_id,
            created_at: now,
        };
        errors.into_result(activity)
    }

    /// The activity with the changes applied. Status changes are the pipeline's history, written
    /// by the service, so they cannot be edited.
    pub fn updated(&self, input: UpdateActivity) -> Result<Activity> {
        let mut errors = FieldErrors::default();
        if self.activity_type == ActivityType::StatusChange {
            errors.add("activity_type", "a status_change entry is the pipeline's history and cannot be changed");
        }
        let description = match input.description {
            Patch::Absent => self.description.clone(),
            Patch::Null => text::required(&mut errors, "description", None, DESCRIPTION_MAX),
            Patch::Value(value) => text::required(&mut errors, "description", Some(value), DESCRIPTION_MAX),
        };
        let outcome = match input.outcome {
            Patch::Absent => self.outcome.clone(),
            given => text::optional(&mut errors, "outcome", given.apply(None), OUTCOME_MAX),
        };
        let activity = Activity {
            description,
            outcome,
            scheduled_at: input.scheduled_at.apply(self.scheduled_at),
            completed_at: input.completed_at.apply(self.completed_at),
            ..self.clone()
        };
        errors.into_result(activity)
    }

    /// An entry the service writes itself (status changes, conversions).
    pub fn logged(actor: &Actor, opportunity_id: Uuid, activity_type: ActivityType, description: String, now: Timestamp) -> Activity {
        Activity::recorded(actor.org_id, actor.staff_id, opportunity_id, activity_type, description, now)
    }

    /// A completed activity that the service records, in `created_by`'s name.
    pub fn recorded(
        org_id: Uuid,
        created_by: Uuid,
        opportunity_id: Uuid,
        activity_type: ActivityType,
        description: String,
        now: Timestamp,
    ) -> Activity {
        Activity {
            id: Uuid::now_v7(),
            org_id,
            opportunity_id,
            activity_type,
            description,
            outcome: None,
            scheduled_at: None,
            completed_at: Some(now),
            created_by,
            created_at: now,
        }
    }
}
