//! Opportunities and how they move through the pipeline.

mod history;
mod pipeline;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::activity::{Activity, ActivityType, Note};
use crate::auth::{Actor, non_null};
use crate::calendar::Day;
use crate::category::CategoryRef;
use crate::client::{ClientRef, CreateClient};
use crate::settings::PipelineSettings;
use crate::{Error, FieldErrors, Money, Patch, Result, Timestamp, text};

pub use self::history::{StageEntry, StageSpan};
pub use self::pipeline::{DefaultProbabilities, Stage, StageRequest, StatusMove, Transition};

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 10_000;
pub const NAME_MAX: usize = 200;
pub const PHONE_MAX: usize = 50;
pub const SOURCE_MAX: usize = 50;
pub const REASON_MAX: usize = 1_000;
/// New leads start unlikely: one in ten is a usual first guess for an inquiry.
pub const DEFAULT_PROBABILITY: i32 = 10;

/// A pipeline stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Contacted,
    Qualified,
    Proposal,
    Won,
    Lost,
    Stale,
}

impl Status {
    pub const ALL: [Status; 7] =
        [Status::Open, Status::Contacted, Status::Qualified, Status::Proposal, Status::Won, Status::Lost, Status::Stale];

    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Contacted => "contacted",
            Status::Qualified => "qualified",
            Status::Proposal => "proposal",
            Status::Won => "won",
            Status::Lost => "lost",
            Status::Stale => "stale",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Won or lost: the lead has left the pipeline.
    pub const fn is_closed(self) -> bool {
        matches!(self, Status::Won | Status::Lost)
    }

    /// The stages whose value counts as pipeline value (`totalValue`, `weightedValue`).
    pub const fn is_in_pipeline(self) -> bool {
        matches!(self, Status::Open | Status::Contacted | Status::Qualified | Status::Proposal)
    }
}

/// An opportunity as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Opportunity {
    pub id: Uuid,
    pub org_id: Uuid,
    pub client_id: Option<Uuid>,
    pub prospect_name: Option<String>,
    pub prospect_email: Option<String>,
    pub prospect_phone: Option<String>,
    pub category_id: Option<Uuid>,
    pub title: String,
    pub description: Option<String>,
    pub estimated_value: Option<Money>,
    /// Status, probability and the closing fields, which the pipeline's rules tie together.
    #[serde(flatten)]
    pub stage: Stage,
    pub source: Option<String>,
    pub assigned_to: Option<Uuid>,
    pub follow_up_date: Option<Timestamp>,
    /// The date `follow_up_date` falls on in the organization's time zone, which the follow-up
    /// totals are counted by: set by every change of the lead from its pipeline settings, and
    /// rewritten for every lead when the organization's zone changes.
    #[serde(skip)]
    pub follow_up_day: Option<Day>,
    pub created_by: Uuid,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The latest of its creation, its last change, and its latest note or activity: what
    /// rotting counts from.
    pub last_activity_at: Timestamp,
    /// Increases by one on every change.
    pub version: i64,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOpportunity {
    /// 1 to 200 characters.
    #[schema(value_type = String, required = true, min_length = 1)]
    pub title: Option<String>,
    /// An existing client; either this or `prospect_name` is required.
    pub client_id: Option<Uuid>,
    pub prospect_name: Option<String>,
    pub prospect_email: Option<String>,
    pub prospect_phone: Option<String>,
    /// An active category.
    pub category_id: Option<Uuid>,
    pub description: Option<String>,
    pub estimated_value: Option<Money>,
    /// 0 to 100; defaults to the stage's default probability (pipeline settings). A lead created
    /// `won` has 100 and one created `lost` 0: another value with them is a 422.
    #[schema(minimum = 0, maximum = 100)]
    pub probability: Option<i64>,
    /// Defaults to `open`.
    pub status: Option<Status>,
    /// Free text such as `website` or `referral`; stored trimmed and lowercased.
    pub source: Option<String>,
    /// An active staff member.
    pub assigned_to: Option<Uuid>,
    pub follow_up_date: Option<Timestamp>,
}

impl CreateOpportunity {
    /// The records the new opportunity would point at.
    pub fn references(&self) -> References {
        References { client_id: self.client_id, category_id: self.category_id, assigned_to: self.assigned_to }
    }
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOpportunity {
    #[serde(default)]
    #[schema(value_type = String, min_length = 1)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub client_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub prospect_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub prospect_email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub prospect_phone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub category_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Money>)]
    pub estimated_value: Patch<Money>,
    /// 0 to 100. A won lead's is 100 and a lost one's 0: another value is a 422 unless `status`
    /// moves the lead to another stage in the same request. A stage move without one takes a
    /// lead still at its old stage's default (a reopened one, say) to the new stage's default
    /// (pipeline settings); a probability someone chose stays.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 0, maximum = 100)]
    pub probability: Patch<i64>,
    /// Setting `won` or `lost` closes the opportunity just like the close endpoint; moving a
    /// closed one to another stage reopens it and clears `closed_at` and `closed_reason`. A won
    /// lead with a `transaction_id` leaves `won` only if the same request sets `transaction_id`
    /// to null (409 otherwise), so that no sale is unlinked unnoticed.
    #[serde(default)]
    #[schema(value_type = Status)]
    pub status: Patch<Status>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub source: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub assigned_to: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Timestamp>)]
    pub follow_up_date: Patch<Timestamp>,
    /// Only a won or lost lead (or one this request closes) has one; 422 otherwise. Moving
    /// between won and lost drops the old reason unless this gives the new one.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub closed_reason: Patch<String>,
    /// The sale a won lead became; only a lead that is won after this request may link one
    /// (422 otherwise). `null` unlinks it.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub transaction_id: Patch<Uuid>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseOpportunity {
    #[schema(value_type = bool, required = true)]
    pub won: Option<bool>,
    /// Only when won: the sale this opportunity became.
    pub transaction_id: Option<Uuid>,
    /// Up to 1,000 characters; stored as `closed_reason`.
    pub reason: Option<String>,
}

/// Records an opportunity points at, which must exist (and be usable) in its organization.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct References {
    pub client_id: Option<Uuid>,
    pub category_id: Option<Uuid>,
    pub assigned_to: Option<Uuid>,
}

/// A new state of an opportunity and what records how it got there: the activities, and the
/// stage history's entry when its status moved (a new lead's first stage included).
#[derive(Debug, Clone)]
pub struct Change {
    pub opportunity: Opportunity,
    pub activities: Vec<Activity>,
    pub entered: Option<StageEntry>,
}

/// Who creates a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creator {
    /// A staff member, through the API.
    Staff(Uuid),
    /// A visitor, through a website form: the lead is recorded as created by the form's creator,
    /// but nobody on the staff moved it into its first stage, so its history says the system did.
    Form { created_by: Uuid },
}

impl Creator {
    fn created_by(self) -> Uuid {
        match self {
            Creator::Staff(id) | Creator::Form { created_by: id } => id,
        }
    }

    fn changed_by(self) -> Option<Uuid> {
        match self {
            Creator::Staff(id) => Some(id),
            Creator::Form { .. } => None,
        }
    }
}

/// Who moves an existing lead: a staff member, or the system (the stale sweep).
#[derive(Clone, Copy)]
enum Mover<'a> {
    Staff(&'a Actor),
    System,
}

impl Change {
    pub fn is_empty(&self, before: &Opportunity) -> bool {
        self.activities.is_empty() && self.opportunity == *before
    }
}

impl Opportunity {
    /// A new opportunity in the organization of `settings`, entering its first stage, and the
    /// references that the store must check.
    pub fn created(
        settings: &PipelineSettings,
        creator: Creator,
        input: CreateOpportunity,
        now: Timestamp,
    ) -> Result<(Change, References)> {
        let mut errors = FieldErrors::default();
        let org_id = settings.org_id;
        let references = input.references();
        let request = StageRequest {
            status: input.status,
            probability: input.probability.and_then(|p| check_probability(&mut errors, p)),
            ..StageRequest::default()
        };
        let entered = Stage::transition(None, request, &settings.default_probabilities(), now, &mut errors)?;
        let opportunity = Opportunity {
            id: Uuid::now_v7(),
            org_id,
            client_id: input.client_id,
            prospect_name: text::optional(&mut errors, "prospect_name", input.prospect_name, NAME_MAX),
            prospect_email: text::email(&mut errors, "prospect_email", input.prospect_email),
            prospect_phone: text::optional(&mut errors, "prospect_phone", input.prospect_phone, PHONE_MAX),
            category_id: input.category_id,
            title: text::required(&mut errors, "title", input.title, TITLE_MAX),
            description: text::optional(&mut errors, "description", input.description, DESCRIPTION_MAX),
            estimated_value: check_value(&mut errors, input.estimated_value),
            stage: entered.stage,
            source: source(&mut errors, input.source),
            assigned_to: input.assigned_to,
            follow_up_date: input.follow_up_date,
            follow_up_day: input.follow_up_date.map(|at| settings.timezone.day_of(at)),
            created_by: creator.created_by(),
            created_at: now,
            updated_at: now,
            last_activity_at: now,
            version: 1,
        };
        opportunity.check_party(&mut errors);
        let entered = entered.moved.map(|moved| StageEntry::of_move(&opportunity, moved, creator.changed_by(), now));
        errors.into_result((Change { opportunity, activities: Vec::new(), entered }, references))
    }

    /// The version a conditional request (`If-Match`) expects must be the current one.
    pub fn require_version(&self, expected: Option<i64>) -> Result<()> {
        match expected {
            Some(version) if version != self.version => Err(Error::PreconditionFailed { current_version: self.version }),
            _ => Ok(()),
        }
    }

    /// Applies a partial update. The returned references are only those the update changes:
    /// a category deactivated since it was chosen does not block editing the title.
    pub fn updated(
        &self,
        actor: &Actor,
        settings: &PipelineSettings,
        input: UpdateOpportunity,
        now: Timestamp,
    ) -> Result<(Change, References)> {
        let mut errors = FieldErrors::default();
        let mut next = self.clone();
        match input.title {
            Patch::Absent => {}
            Patch::Null => errors.add("title", "cannot be null"),
            Patch::Value(title) => next.title = text::required(&mut errors, "title", Some(title), TITLE_MAX),
        }
        next.client_id = input.client_id.clone().apply(next.client_id);
        next.prospect_name = checked_text(&mut errors, "prospect_name", input.prospect_name, NAME_MAX).apply(next.prospect_name);
        if !input.prospect_email.is_absent() {
            next.prospect_email = text::email(&mut errors, "prospect_email", input.prospect_email.apply(None));
        }
        next.prospect_phone = checked_text(&mut errors, "prospect_phone", input.prospect_phone, PHONE_MAX).apply(next.prospect_phone);
        next.category_id = input.category_id.clone().apply(next.category_id);
        next.description = checked_text(&mut errors, "description", input.description, DESCRIPTION_MAX).apply(next.description);
        if !input.estimated_value.is_absent() {
            next.estimated_value = check_value(&mut errors, input.estimated_value.apply(None));
        }
        if !input.source.is_absent() {
            next.source = source(&mut errors, input.source.apply(None));
        }
        next.assigned_to = input.assigned_to.clone().apply(next.assigned_to);
        next.follow_up_date = input.follow_up_date.apply(next.follow_up_date);
        let probability = non_null(&mut errors, "probability", input.probability.map(Some), None);
        let request = StageRequest {
            status: Some(non_null(&mut errors, "status", input.status, self.stage.status())),
            probability: probability.and_then(|p| check_probability(&mut errors, p)),
            closed_reason: checked_text(&mut errors, "closed_reason", input.closed_reason, REASON_MAX),
            transaction_id: input.transaction_id,
        };
        let references = References {
            client_id: input.client_id.value().copied(),
            category_id: input.category_id.value().copied(),
            assigned_to: input.assigned_to.value().copied(),
        };
        let change = self.changed(Mover::Staff(actor), settings, next, request, None, now, errors)?;
        Ok((change, references))
    }

    /// Closes the opportunity as won or lost.
    pub fn closed(&self, actor: &Actor, settings: &PipelineSettings, input: CloseOpportunity, now: Timestamp) -> Result<Change> {
        if self.stage.status().is_closed() {
            return Err(Error::AlreadyClosed { status: self.stage.status().as_str() });
        }
        let mut errors = FieldErrors::default();
        let won = input.won.unwrap_or_else(|| {
            errors.add("won", "is required: true for a sale, false for a lost lead");
            false
        });
        let request = StageRequest {
            status: Some(if won { Status::Won } else { Status::Lost }),
            probability: None,
            closed_reason: Patch::given(text::optional(&mut errors, "reason", input.reason, REASON_MAX)),
            transaction_id: Patch::given(input.transaction_id),
        };
        self.changed(Mover::Staff(actor), settings, self.clone(), request, None, now, errors)
    }

    /// The client record to create from the prospect's details, or why there can be none.
    pub fn prospect_as_client(&self) -> Result<CreateClient> {
        if let Some(client_id) = self.client_id {
            return Err(Error::AlreadyConverted { client_id });
        }
        let Some(name) = self.prospect_name.clone() else {
            return Err(Error::field("prospect_name", "the opportunity has no prospect name to create a client from"));
        };
        Ok(CreateClient { name: Some(name), email: self.prospect_email.clone(), phone: self.prospect_phone.clone() })
    }

    /// Links the opportunity to the client it was converted into.
    pub fn converted(
        &self,
        actor: &Actor,
        settings: &PipelineSettings,
        client: &ClientRef,
        created: bool,
        now: Timestamp,
    ) -> Result<Change> {
        let mut next = self.clone();
        next.client_id = Some(client.id);
        let how = if created { "created a new client record" } else { "linked to the existing client with the same e-mail" };
        let description = format!("Converted to client {} ({how}) by {}", client.name, actor.name);
        let activity = Activity::logged(actor, self.id, ActivityType::Other, description, now);
        self.changed(Mover::Staff(actor), settings, next, StageRequest::default(), Some(activity), now, FieldErrors::default())
    }

    /// Moves a lead that has rotted (see [`PipelineSettings::is_rotting`]) to `stale`, as the
    /// system: `None` if it has not rotted at `now` (anymore: someone may have touched it since
    /// the sweep found it).
    pub fn swept(&self, settings: &PipelineSettings, now: Timestamp) -> Result<Option<Change>> {
        if !settings.auto_stale || !settings.is_rotting(self, now) {
            return Ok(None);
        }
        let request = StageRequest { status: Some(Status::Stale), ..StageRequest::default() };
        self.changed(Mover::System, settings, self.clone(), request, None, now, FieldErrors::default()).map(Some)
    }

    /// Takes in `from`, another lead of the same person: each of this lead's empty fields gets
    /// `from`'s value, its stage stays (it is the lead kept), and an activity records the merge.
    /// The references it takes are returned for the store to check (a category or assignee
    /// deactivated since is left off, as for a website lead).
    pub fn merged(&self, actor: &Actor, settings: &PipelineSettings, from: &Opportunity, now: Timestamp) -> Result<(Change, References)> {
        // The kept lead keeps its stage, so the other's link to a sale would vanish unnoticed,
        // as it may not when a won lead is reopened.
        if let Some(sale) = from.stage.transaction_id() {
            return Err(Error::Conflict(format!(
                "the lead {} is linked to the sale {sale}; merge this lead into it instead, or unlink the sale first",
                from.id
            )));
        }
        let mut next = self.clone();
        let mut taken = References::default();
        fn fill<T: Clone>(field: &mut Option<T>, from: &Option<T>) -> Option<T> {
            if field.is_none() {
                field.clone_from(from);
                return from.clone();
            }
            None
        }
        taken.client_id = fill(&mut next.client_id, &from.client_id);
        taken.category_id = fill(&mut next.category_id, &from.category_id);
        taken.assigned_to = fill(&mut next.assigned_to, &from.assigned_to);
        fill(&mut next.prospect_name, &from.prospect_name);
        fill(&mut next.prospect_email, &from.prospect_email);
        fill(&mut next.prospect_phone, &from.prospect_phone);
        fill(&mut next.description, &from.description);
        fill(&mut next.estimated_value, &from.estimated_value);
        fill(&mut next.source, &from.source);
        fill(&mut next.follow_up_date, &from.follow_up_date);
        let description = format!("Merged the lead \"{}\" ({}) into this one by {}", from.title, from.id, actor.name);
        let activity = Activity::logged(actor, self.id, ActivityType::Other, description, now);
        let mut change =
            self.changed(Mover::Staff(actor), settings, next, StageRequest::default(), Some(activity), now, FieldErrors::default())?;
        // Even with no field filled the lead changed (it took in another's records): an ETag
        // read before the merge must not pass for the lead after it.
        if change.opportunity.version == self.version {
            change.opportunity.version += 1;
            change.opportunity.updated_at = now;
        }
        Ok((change, taken))
    }

    /// Where every change of an existing opportunity ends: `next` holds its other fields as
    /// changed, the pipeline's transition from this opportunity's stage (with the organization's
    /// default probabilities) gives its stage, its follow-up's day is counted in the
    /// organization's time zone, a status move is logged as an activity (before `also`) and
    /// entered in the stage history, and the version moves on (and its last activity with it)
    /// if anything changed.
    #[allow(clippy::too_many_arguments)]
    fn changed(
        &self,
        by: Mover<'_>,
        settings: &PipelineSettings,
        mut next: Opportunity,
        request: StageRequest,
        also: Option<Activity>,
        now: Timestamp,
        mut errors: FieldErrors,
    ) -> Result<Change> {
        let transition = Stage::transition(Some(&self.stage), request, &settings.default_probabilities(), now, &mut errors)?;
        next.stage = transition.stage;
        next.follow_up_day = next.follow_up_date.map(|at| settings.timezone.day_of(at));
        next.check_party(&mut errors);
        errors.into_result(())?;
        let changed_by = match by {
            Mover::Staff(actor) => Some(actor.staff_id),
            Mover::System => None,
        };
        let entered = transition.moved.map(|moved| StageEntry::of_move(self, moved, changed_by, now));
        let logged = transition.moved.and_then(|moved| {
            let from = moved.from?;
            let (from, to) = (from.as_str(), moved.to.as_str());
            Some(match by {
                Mover::Staff(actor) => Activity::logged(
                    actor,
                    self.id,
                    ActivityType::StatusChange,
                    format!("Status changed from {from} to {to} by {}", actor.name),
                    now,
                ),
                // The activity needs an author on the staff: the lead's creator, while the text
                // (and the history's null `changed_by`) says who really moved it.
                Mover::System => {
                    let days = settings.stages.of(self.stage.status()).and_then(|stage| stage.rot_after_days).unwrap_or_default();
                    let description = format!(
                        "Status changed from {from} to {to} by the system: no activity for {days} {}",
                        if days == 1 { "day" } else { "days" }
                    );
                    Activity::recorded(self.org_id, self.created_by, self.id, ActivityType::StatusChange, description, now)
                }
            })
        });
        if next != *self {
            next.version = self.version + 1;
            next.updated_at = now;
            next.last_activity_at = now;
        }
        Ok(Change { opportunity: next, activities: logged.into_iter().chain(also).collect(), entered })
    }

    /// Every opportunity is about somebody: an existing client or a named prospect.
    fn check_party(&self, errors: &mut FieldErrors) {
        if self.client_id.is_none() && self.prospect_name.is_none() {
            errors.add("prospect_name", "is required when there is no client_id");
        }
    }
}

fn check_value(errors: &mut FieldErrors, value: Option<Money>) -> Option<Money> {
    if value.is_some_and(Money::is_negative) {
        errors.add("estimated_value", "must be 0 or more");
    }
    value
}

/// The probability if it is one (0 to 100), else `None` and a field error.
fn check_probability(errors: &mut FieldErrors, probability: i64) -> Option<i32> {
    let valid = i32::try_from(probability).ok().filter(|p| (0..=100).contains(p));
    if valid.is_none() {
        errors.add("probability", "must be a whole number from 0 to 100");
    }
    valid
}

/// A text field of a partial update, checked; blank text clears it like `null`.
fn checked_text(errors: &mut FieldErrors, field: &str, patch: Patch<String>, max: usize) -> Patch<String> {
    if patch.is_absent() {
        return Patch::Absent;
    }
    text::optional(errors, field, patch.apply(None), max).map_or(Patch::Null, Patch::Value)
}

fn source(errors: &mut FieldErrors, value: Option<String>) -> Option<String> {
    text::optional(errors, "source", value, SOURCE_MAX).map(|s| s.to_lowercase())
}

/// The assigned staff member as embedded in an opportunity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StaffRef {
    pub id: Uuid,
    pub name: String,
    pub email: String,
}

/// An opportunity as listed: with its client, category, assignee and how much history it has.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpportunityView {
    #[serde(flatten)]
    pub opportunity: Opportunity,
    pub client: Option<ClientRef>,
    pub category: Option<CategoryRef>,
    pub assigned_staff: Option<StaffRef>,
    pub notes_count: i64,
    pub activities_count: i64,
    /// In a stage whose `rot_after_days` (pipeline settings) have passed since
    /// `last_activity_at`; never for won, lost or stale leads.
    pub rotting: bool,
}

impl OpportunityView {
    /// Sets `rotting` as of `now` in the organization of `settings`.
    pub fn rotting_at(mut self, settings: &PipelineSettings, now: Timestamp) -> OpportunityView {
        self.rotting = settings.is_rotting(&self.opportunity, now);
        self
    }
}

/// One opportunity with its latest history, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpportunityDetail {
    #[serde(flatten)]
    pub view: OpportunityView,
    /// The latest 50 notes, newest first; `notes_count` says how many there are.
    pub notes: Vec<Note>,
    /// The latest 50 activities, newest first; `activities_count` says how many there are.
    pub activities: Vec<Activity>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Conversion {
    pub client_id: Uuid,
    pub client: crate::client::Client,
    /// `false` when an existing client with the same e-mail was linked instead.
    pub created: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn actor() -> Actor {
        crate::auth::test_actor(Role::Member)
    }

    fn settings(actor: &Actor) -> PipelineSettings {
        PipelineSettings::standard(actor.org_id)
    }

    fn lead(actor: &Actor) -> Opportunity {
        let input = CreateOpportunity {
            title: Some(" Botox ".into()),
            prospect_name: Some("Jane".into()),
            prospect_email: Some("Jane@Example.com".into()),
            source: Some(" Website ".into()),
            ..Default::default()
        };
        Opportunity::created(&settings(actor), Creator::Staff(actor.staff_id), input, Timestamp::now()).unwrap().0.opportunity
    }

    #[test]
    fn new_leads_are_open_normalised_and_need_somebody() {
        let actor = actor();
        let lead = lead(&actor);
        assert_eq!((lead.title.as_str(), lead.stage.status(), lead.stage.probability()), ("Botox", Status::Open, DEFAULT_PROBABILITY));
        assert_eq!(lead.prospect_email.as_deref(), Some("jane@example.com"));
        assert_eq!(lead.source.as_deref(), Some("website"));
        let Err(Error::Validation(errors)) =
            Opportunity::created(&settings(&actor), Creator::Staff(actor.staff_id), CreateOpportunity::default(), Timestamp::now())
        else {
            panic!("expected validation errors")
        };
        let fields: Vec<_> = errors.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["prospect_name", "title"]);
    }

    #[test]
    fn closing_sets_probability_and_logs_the_move_once() {
        let actor = actor();
        let lead = lead(&actor);
        let won =
            lead.closed(&actor, &settings(&actor), CloseOpportunity { won: Some(true), ..Default::default() }, Timestamp::now()).unwrap();
        assert_eq!((won.opportunity.stage.status(), won.opportunity.stage.probability()), (Status::Won, 100));
        assert!(won.opportunity.stage.closed_at().is_some());
        assert_eq!(won.opportunity.version, lead.version + 1);
        assert_eq!(won.activities.len(), 1);
        assert_eq!(won.activities[0].description, "Status changed from open to won by Sam");
        assert_eq!(won.entered.as_ref().map(|entry| (entry.status, entry.changed_by)), Some((Status::Won, Some(actor.staff_id))));
        let again = won.opportunity.closed(
            &actor,
            &settings(&actor),
            CloseOpportunity { won: Some(false), ..Default::default() },
            Timestamp::now(),
        );
        assert!(matches!(again, Err(Error::AlreadyClosed { status: "won" })));
    }

    #[test]
    fn reopening_clears_the_closing_fields() {
        let actor = actor();
        let close = CloseOpportunity { won: Some(false), reason: Some("price".into()), ..Default::default() };
        let lost = lead(&actor).closed(&actor, &settings(&actor), close, Timestamp::now()).unwrap().opportunity;
        assert_eq!((lost.stage.probability(), lost.stage.closed_reason()), (0, Some("price")));
        let patch = UpdateOpportunity { status: Patch::Value(Status::Qualified), ..Default::default() };
        let (reopened, _) = lost.updated(&actor, &settings(&actor), patch, Timestamp::now()).unwrap();
        assert_eq!((reopened.opportunity.stage.closed_at(), reopened.opportunity.stage.closed_reason()), (None, None));
    }

    #[test]
    fn an_update_that_changes_nothing_keeps_the_version() {
        let actor = actor();
        let lead = lead(&actor);
        let patch = UpdateOpportunity { title: Patch::Value("Botox".into()), ..Default::default() };
        let (change, _) = lead.updated(&actor, &settings(&actor), patch, Timestamp::now()).unwrap();
        assert!(change.is_empty(&lead));
        assert_eq!(change.entered, None, "no status move, no history entry");
        assert_eq!(change.opportunity.version, lead.version);
    }

    #[test]
    fn the_organizations_settings_decide_defaults_and_the_follow_up_day() {
        let actor = actor();
        let mut settings = settings(&actor);
        settings.timezone = crate::calendar::TimeZone::named("America/Los_Angeles").expect("a zone");
        settings.stages.open.default_probability = 15;
        settings.stages.contacted.default_probability = 25;
        let late_evening = Timestamp::parse("2026-03-02T07:30:00Z").expect("an instant");
        let input = CreateOpportunity {
            title: Some("Botox".into()),
            prospect_name: Some("Jane".into()),
            follow_up_date: Some(late_evening),
            ..Default::default()
        };
        let lead = Opportunity::created(&settings, Creator::Staff(actor.staff_id), input, Timestamp::now()).unwrap().0.opportunity;
        assert_eq!(lead.stage.probability(), 15);
        assert_eq!(lead.follow_up_day, crate::calendar::Day::parse("2026-03-01"), "still 1 March in Los Angeles");

        let moved = UpdateOpportunity { status: Patch::Value(Status::Contacted), ..Default::default() };
        let (moved, _) = lead.updated(&actor, &settings, moved, Timestamp::now()).unwrap();
        assert_eq!(moved.opportunity.stage.probability(), 25, "a lead at its stage's default follows the stage");

        settings.timezone = crate::calendar::TimeZone::utc();
        let edit = UpdateOpportunity { title: Patch::Value("Botox and filler".into()), ..Default::default() };
        let (edited, _) = moved.opportunity.updated(&actor, &settings, edit, Timestamp::now()).unwrap();
        assert_eq!(edited.opportunity.follow_up_day, crate::calendar::Day::parse("2026-03-02"), "counted in the zone of the change");
    }

    #[test]
    fn a_merge_fills_only_empty_fields_and_keeps_the_stage() {
        let actor = actor();
        let kept = lead(&actor);
        let mut other = lead(&actor);
        other.title = "Fillers".into();
        other.prospect_email = Some("other@example.com".into());
        other.prospect_phone = Some("+1 555 010 2030".into());
        other.estimated_value = Some(Money::from_cents(50_000));
        other.assigned_to = Some(actor.staff_id);
        let contacted = UpdateOpportunity { status: Patch::Value(Status::Contacted), ..Default::default() };
        let other = other.updated(&actor, &settings(&actor), contacted, Timestamp::now()).unwrap().0.opportunity;

        let (merged, taken) = kept.merged(&actor, &settings(&actor), &other, Timestamp::now()).unwrap();
        let lead = &merged.opportunity;
        assert_eq!((lead.title.as_str(), lead.prospect_email.as_deref()), ("Botox", Some("jane@example.com")), "set fields stay");
        assert_eq!(lead.prospect_phone.as_deref(), Some("+1 555 010 2030"));
        assert_eq!(lead.estimated_value, Some(Money::from_cents(50_000)));
        assert_eq!((lead.stage.status(), merged.entered.as_ref()), (Status::Open, None), "the kept lead's stage stays");
        assert_eq!(taken.assigned_to, Some(actor.staff_id), "a taken reference is checked by the store");
        assert_eq!(lead.version, kept.version + 1);
        assert_eq!(merged.activities.len(), 1);
        assert!(merged.activities[0].description.starts_with("Merged the lead \"Fillers\""), "{}", merged.activities[0].description);

        let sale = CloseOpportunity { won: Some(true), transaction_id: Some(Uuid::now_v7()), ..Default::default() };
        let sold = other.closed(&actor, &settings(&actor), sale, Timestamp::now()).unwrap().opportunity;
        let refused = kept.merged(&actor, &settings(&actor), &sold, Timestamp::now());
        assert!(matches!(refused, Err(Error::Conflict(_))), "a linked sale is not dropped: {refused:?}");
        assert!(sold.merged(&actor, &settings(&actor), &kept, Timestamp::now()).is_ok(), "the sold lead may take the other in");
    }

    #[test]
    fn conversion_needs_a_prospect_and_no_client_yet() {
        let actor = actor();
        let mut lead = lead(&actor);
        assert_eq!(lead.prospect_as_client().unwrap().email.as_deref(), Some("jane@example.com"));
        lead.client_id = Some(Uuid::nil());
        assert!(matches!(lead.prospect_as_client(), Err(Error::AlreadyConverted { .. })));
    }
}
