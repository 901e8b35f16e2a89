//! The use cases behind every write: each loads what it needs, applies the domain's rule and
//! saves the result inside one transaction, so a failed check leaves nothing half-written. A
//! transaction that loses a race with another one (a deadlock, a serialization failure, a unique
//! value the other just committed) is run again from the start by [`retrying`].

use std::time::Duration;

use domain::activity::{Activity, CreateActivity, CreateNote, EMBEDDED_LATEST, Note, UpdateActivity};
use domain::agenda::{self, Agenda, AgendaQuery, Boundaries, DueWindow, Truncated};
use domain::auth::{Actor, ApiToken, CreateStaff, CreateToken, IssuedToken, Role, Staff, TokenInfo, UpdateStaff};
use domain::calendar::{Day, TimeZone};
use domain::category::{self, Category, CreateCategory, Direction, UpdateCategory};
use domain::client::{Client, ClientRef, CreateClient, UpdateClient};
use domain::lead_form::{CreateLeadForm, LeadForm, Submission, UpdateLeadForm};
use domain::opportunity::{
    Change, CloseOpportunity, Conversion, CreateOpportunity, Creator, Opportunity, OpportunityDetail, OpportunityView, References,
    StageSpan, UpdateOpportunity,
};
use domain::query::{Page, StatsFilter};
use domain::report::{FunnelReport, LOST_REASONS_MAX, LostReasonsReport, ReportQuery, ReportScope, ResponseTimesReport};
use domain::settings::{PipelineSettings, UpdatePipelineSettings};
use domain::stats::PipelineTotals;
use domain::webhook::{self, CreateWebhook, CreatedWebhook, Delivery, Event, EventType, TargetPolicy, UpdateWebhook, Webhook};
use domain::{Error, FieldErrors, Input, Result, Timestamp, text};
use serde::Serialize;
use uuid::Uuid;

use crate::{Stays, Store, Tx, tokens};

mod duplicates;
mod import;

pub use self::duplicates::{merge_opportunities, possible_duplicates};
pub use self::import::import_opportunities;

/// An organization with its first owner and the owner's token (shown once).
#[derive(Debug, Serialize)]
pub struct CreatedOrganization {
    pub org_id: Uuid,
    pub staff_id: Uuid,
    pub token: String,
}

const ORGANIZATION_NAME_MAX: usize = 200;
const TOKEN_NAME_MAX: usize = 100;

pub struct NewOrganization {
    pub name: String,
    pub owner_name: String,
    pub owner_email: String,
    /// Use this secret instead of a random one (for scripted set-ups).
    pub token: Option<String>,
}

pub async fn create_organization(store: &dyn Store, new: NewOrganization) -> Result<CreatedOrganization> {
    retrying(|| async {
        let mut tx = store.begin().await?;
        let created = insert_organization(tx.as_mut(), &new).await?;
        tx.commit().await?;
        Ok(created)
    })
    .await
}

/// On an empty database, creates the "Default" organization and its owner; otherwise nothing.
/// Runs in one transaction, so two processes starting at once cannot both bootstrap.
pub async fn bootstrap(store: &dyn Store, token: Option<String>) -> Result<Option<CreatedOrganization>> {
    let new = NewOrganization { name: "Default".into(), owner_name: "Administrator".into(), owner_email: "admin@localhost".into(), token };
    retrying(|| async {
        let mut tx = store.begin().await?;
        if tx.any_organization().await? {
            return Ok(None);
        }
        let created = insert_organization(tx.as_mut(), &new).await?;
        tx.commit().await?;
        Ok(Some(created))
    })
    .await
}

async fn insert_organization(tx: &mut dyn Tx, new: &NewOrganization) -> Result<CreatedOrganization> {
    let now = Timestamp::now();
    let org_id = Uuid::now_v7();
    let mut errors = FieldErrors::default();
    let name = text::required(&mut errors, "name", Some(new.name.clone()), ORGANIZATION_NAME_MAX);
    errors.into_result(())?;
    tx.insert_organization(org_id, &name, now).await?;
    let owner_input = CreateStaff { name: Some(new.owner_name.clone()), email: Some(new.owner_email.clone()), role: Some(Role::Owner) };
    let owner = Staff::new(org_id, owner_input, now)?;
    tx.save_staff(&owner).await?;
    let token = new.token.clone().unwrap_or_else(tokens::generate);
    tx.insert_token(&ApiToken {
        id: Uuid::now_v7(),
        org_id,
        staff_id: owner.id,
        name: Some("first owner token".into()),
        hash: tokens::hash(&token),
        created_at: now,
    })
    .await?;
    Ok(CreatedOrganization { org_id, staff_id: owner.id, token })
}

// ---- categories -------------------------------------------------------------------------

pub async fn create_category(store: &dyn Store, actor: &Actor, input: Input<CreateCategory>) -> Result<Category> {
    actor.require_manager()?;
    let category = input.check(|fields| Category::new(actor.org_id, fields, Timestamp::now()))?;
    retrying(|| async {
        let mut tx = store.begin().await?;
        save_unique_category(tx.as_mut(), &category).await?;
        tx.commit().await
    })
    .await?;
    Ok(category)
}

pub async fn update_category(store: &dyn Store, actor: &Actor, id: Uuid, input: Input<UpdateCategory>) -> Result<Category> {
    actor.require_manager()?;
    retrying(|| async {
        let mut tx = store.begin().await?;
        let current = tx.category(actor.org_id, id).await?.ok_or(Error::NotFound("category"))?;
        let category = input.clone().check(|fields| current.updated(fields, Timestamp::now()))?;
        if category != current {
            save_unique_category(tx.as_mut(), &category).await?;
            tx.commit().await?;
        }
        Ok(category)
    })
    .await
}

/// Moves a category one place up or down the order every list shows. The organization's
/// categories are renumbered in one transaction, under lock, so two moves at once both count.
pub async fn move_category(store: &dyn Store, actor: &Actor, id: Uuid, direction: Direction) -> Result<()> {
    actor.require_manager()?;
    retrying(|| async {
        let mut tx = store.begin().await?;
        let ordered = tx.categories(actor.org_id).await?;
        let moved = category::moved(&ordered, id, direction, Timestamp::now())?;
        for category in &moved {
            tx.save_category(category).await?;
        }
        tx.commit().await
    })
    .await
}

async fn save_unique_category(tx: &mut dyn Tx, category: &Category) -> Result<()> {
    if let Some(existing) = tx.category_by_name(category.org_id, &category.name_key()).await?
        && existing.id != category.id
    {
        let message = format!("a category named \"{}\" already exists", existing.name);
        return Err(Error::Duplicate { message, existing_id: existing.id });
    }
    tx.save_category(category).await
}

// ---- opportunities ----------------------------------------------------------------------

/// The opportunity with its latest notes and activities ([`EMBEDDED_LATEST`] of each).
pub async fn opportunity(store: &dyn Store, actor: &Actor, id: Uuid) -> Result<OpportunityDetail> {
    let view = store.opportunity_view(actor.org_id, id).await?.ok_or(Error::NotFound("opportunity"))?;
    let latest = Page { limit: EMBEDDED_LATEST, offset: 0 };
    let notes = store.notes(actor.org_id, id, latest).await?;
    let activities = store.activities(actor.org_id, id, latest).await?;
    Ok(OpportunityDetail { view, notes, activities })
}

pub async fn create_opportunity(store: &dyn Store, actor: &Actor, input: Input<CreateOpportunity>) -> Result<OpportunityView> {
    let id = retrying(|| async {
        let mut tx = store.begin().await?;
        let settings = tx.pipeline_settings(actor.org_id).await?;
        let built = input.clone().check(|fields| Opportunity::created(&settings, Creator::Staff(actor.staff_id), fields, Timestamp::now()));
        let created = with_usable_references(tx.as_mut(), actor, built).await?;
        write_change(tx.as_mut(), None, &created).await?;
        tx.commit().await?;
        Ok(created.opportunity.id)
    })
    .await?;
    view(store, actor, id).await
}

pub async fn update_opportunity(
    store: &dyn Store,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i64>,
    input: Input<UpdateOpportunity>,
) -> Result<OpportunityView> {
    retrying(|| async {
        let mut tx = store.begin().await?;
        let settings = tx.pipeline_settings(actor.org_id).await?;
        let current = locked_opportunity(tx.as_mut(), actor, id, expected_version).await?;
        let built = input.clone().check(|fields| current.updated(actor, &settings, fields, Timestamp::now()));
        let change = with_usable_references(tx.as_mut(), actor, built).await?;
        save_change(tx, &current, change).await
    })
    .await?;
    view(store, actor, id).await
}

pub async fn close_opportunity(
    store: &dyn Store,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i64>,
    input: Input<CloseOpportunity>,
) -> Result<OpportunityView> {
    retrying(|| async {
        let mut tx = store.begin().await?;
        let settings = tx.pipeline_settings(actor.org_id).await?;
        let current = locked_opportunity(tx.as_mut(), actor, id, expected_version).await?;
        let change = input.clone().check(|fields| current.closed(actor, &settings, fields, Timestamp::now()))?;
        save_change(tx, &current, change).await
    })
    .await?;
    view(store, actor, id).await
}

pub async fn delete_opportunity(store: &dyn Store, actor: &Actor, id: Uuid, expected_version: Option<i64>) -> Result<()> {
    retrying(|| async {
        let mut tx = store.begin().await?;
        // The totals count the lead out by its follow-up's day, which must not be rewritten meanwhile.
        tx.pipeline_settings(actor.org_id).await?;
        locked_opportunity(tx.as_mut(), actor, id, expected_version).await?;
        announce(tx.as_mut(), actor.org_id, &[EventType::OpportunityDeleted], Record::Opportunity(id)).await?;
        tx.delete_opportunity(actor.org_id, id).await?;
        tx.commit().await
    })
    .await
}

/// Creates a client from the prospect (or links the existing client with the same e-mail) and
/// points the opportunity at it. Two leads of one person converted at once both link one
/// client: the one whose insert of the e-mail loses the race runs again and finds the other's.
pub async fn convert_to_client(store: &dyn Store, actor: &Actor, id: Uuid, expected_version: Option<i64>) -> Result<Conversion> {
    retrying(|| async {
        let now = Timestamp::now();
        let mut tx = store.begin().await?;
        let settings = tx.pipeline_settings(actor.org_id).await?;
        let current = locked_opportunity(tx.as_mut(), actor, id, expected_version).await?;
        let prospect = current.prospect_as_client()?;
        let existing = match prospect.email.as_deref() {
            Some(email) => tx.client_by_email(actor.org_id, email).await?,
            None => None,
        };
        let created = existing.is_none();
        let client = match existing {
            Some(client) => client,
            None => {
                let client = Client::new(actor.org_id, prospect, now)?;
                tx.save_client(&client).await?;
                announce(tx.as_mut(), actor.org_id, &[EventType::ClientCreated], Record::value(&client)?).await?;
                client
            }
        };
        let client_ref = ClientRef { id: client.id, name: client.name.clone(), email: client.email.clone(), phone: client.phone.clone() };
        save_change(tx, &current, current.converted(actor, &settings, &client_ref, created, now)?).await?;
        Ok(Conversion { client_id: client.id, client, created })
    })
    .await
}

pub async fn add_note(store: &dyn Store, actor: &Actor, opportunity_id: Uuid, input: Input<CreateNote>) -> Result<Note> {
    let note = input.check(|fields| Note::new(actor, opportunity_id, fields, Timestamp::now()))?;
    retrying(|| async {
        let mut tx = store.begin().await?;
        locked_opportunity(tx.as_mut(), actor, opportunity_id, None).await?;
        tx.insert_note(&note).await?;
        announce(tx.as_mut(), actor.org_id, &[EventType::NoteCreated], Record::value(&note)?).await?;
        tx.commit().await
    })
    .await?;
    Ok(note)
}

pub async fn log_activity(store: &dyn Store, actor: &Actor, opportunity_id: Uuid, input: Input<CreateActivity>) -> Result<Activity> {
    let activity = input.check(|fields| Activity::new(actor, opportunity_id, fields, Timestamp::now()))?;
    retrying(|| async {
        let mut tx = store.begin().await?;
        locked_opportunity(tx.as_mut(), actor, opportunity_id, None).await?;
        tx.insert_activity(&activity).await?;
        announce(tx.as_mut(), actor.org_id, &[EventType::ActivityCreated], Record::value(&activity)?).await?;
        tx.commit().await
    })
    .await?;
    Ok(activity)
}

/// Changes an activity of the opportunity: completes it, reschedules it, records its outcome.
/// Like logging one, it locks the lead (so it cannot be deleted meanwhile) but leaves the lead's
/// version alone: activities have no version of their own and need no `If-Match`.
pub async fn update_activity(
    store: &dyn Store,
    actor: &Actor,
    opportunity_id: Uuid,
    id: Uuid,
    input: Input<UpdateActivity>,
) -> Result<Activity> {
    retrying(|| async {
        let mut tx = store.begin().await?;
        locked_opportunity(tx.as_mut(), actor, opportunity_id, None).await?;
        let current = tx.activity(actor.org_id, opportunity_id, id).await?.ok_or(Error::NotFound("activity"))?;
        let activity = input.clone().check(|fields| current.updated(fields))?;
        if activity != current {
            tx.save_activity(&activity).await?;
            tx.commit().await?;
        }
        Ok(activity)
    })
    .await
}

/// What the staff member the query names has to do: follow-ups and scheduled activities,
/// overdue, today's and upcoming, by the days of the organization's time zone at `now`.
pub async fn agenda(store: &dyn Store, actor: &Actor, query: AgendaQuery, now: Timestamp) -> Result<Agenda> {
    let zone = time_zone(store, actor.org_id).await?;
    let bounds = Boundaries::at(now, &zone, query.days).ok_or(Error::parameter("days", "reaches beyond the year 9999"))?;
    // One more than a section shows, to know whether it was cut.
    let limit = i64::try_from(agenda::SECTION_MAX).unwrap_or(i64::MAX) + 1;
    let assignee = query.assignee();
    let section = |from, until| store.agenda(actor.org_id, assignee, DueWindow { from, until }, limit);
    let mut overdue = section(None, bounds.today).await?;
    let mut today = section(Some(bounds.today), bounds.tomorrow).await?;
    let mut upcoming = section(Some(bounds.tomorrow), bounds.until).await?;
    let truncated = Truncated { overdue: agenda::cut(&mut overdue), today: agenda::cut(&mut today), upcoming: agenda::cut(&mut upcoming) };
    Ok(Agenda {
        date: agenda::date_text(bounds.day),
        timezone: zone,
        upcoming_until: agenda::date_text(Day::from_number(bounds.day.number() + query.days)),
        overdue,
        today,
        upcoming,
        truncated,
    })
}

/// A page of the opportunity's notes, newest first, and how many it has.
pub async fn notes(store: &dyn Store, actor: &Actor, opportunity_id: Uuid, page: Page) -> Result<(Vec<Note>, i64)> {
    let notes = store.notes(actor.org_id, opportunity_id, page).await?;
    let view = view(store, actor, opportunity_id).await?;
    Ok((notes, view.notes_count))
}

/// A page of the opportunity's stage history, oldest first, and how many entries it has.
pub async fn stage_history(store: &dyn Store, actor: &Actor, opportunity_id: Uuid, page: Page) -> Result<(Vec<StageSpan>, i64)> {
    let (entries, total) = store.stage_history(actor.org_id, opportunity_id, page).await?;
    view(store, actor, opportunity_id).await?;
    let now = Timestamp::now();
    Ok((entries.iter().map(|entry| StageSpan::of(entry, now)).collect(), total))
}

/// A page of the opportunity's activities, newest first, and how many it has.
pub async fn activities(store: &dyn Store, actor: &Actor, opportunity_id: Uuid, page: Page) -> Result<(Vec<Activity>, i64)> {
    let activities = store.activities(actor.org_id, opportunity_id, page).await?;
    let view = view(store, actor, opportunity_id).await?;
    Ok((activities, view.activities_count))
}

/// The opportunity, locked until the transaction ends, if it is at the version the caller
/// expects (when it expects one).
async fn locked_opportunity(tx: &mut dyn Tx, actor: &Actor, id: Uuid, expected_version: Option<i64>) -> Result<Opportunity> {
    let opportunity = tx.opportunity(actor.org_id, id).await?.ok_or(Error::NotFound("opportunity"))?;
    opportunity.require_version(expected_version)?;
    Ok(opportunity)
}

/// Merges the domain's field errors with the store's verdict on the references, so that one
/// response names every bad field.
async fn with_usable_references<T>(tx: &mut dyn Tx, actor: &Actor, built: Result<(T, References)>) -> Result<T> {
    let (value, references, mut errors) = match built {
        Ok((value, references)) => (Some(value), references, Default::default()),
        Err(Error::Validation(errors)) => (None, References::default(), errors),
        Err(other) => return Err(other),
    };
    errors.merge(tx.unusable_references(actor.org_id, &references).await?);
    match value {
        Some(value) if errors.is_empty() => Ok(value),
        _ => Err(Error::Validation(errors)),
    }
}

async fn save_change(mut tx: Box<dyn Tx>, before: &Opportunity, change: Change) -> Result<()> {
    if change.is_empty(before) {
        return Ok(());
    }
    write_change(tx.as_mut(), Some(before), &change).await?;
    tx.commit().await
}

/// Writes everything a change of the opportunity as it was `before` (none: a new one)
/// produced, so that no status moves without its history entry, and nothing changes unheard
/// by the webhooks listening.
async fn write_change(tx: &mut dyn Tx, before: Option<&Opportunity>, change: &Change) -> Result<()> {
    let opportunity = &change.opportunity;
    tx.save_opportunity(before, opportunity).await?;
    for activity in &change.activities {
        tx.insert_activity(activity).await?;
    }
    if let Some(entry) = &change.entered {
        tx.insert_stage_entry(entry, if before.is_some() { Stays::Current } else { Stays::None }).await?;
    }
    let events = webhook::opportunity_events(before.map(|before| before.stage.status()), opportunity.stage.status());
    announce(tx, opportunity.org_id, &events, Record::Opportunity(opportunity.id)).await
}

async fn view(store: &dyn Store, actor: &Actor, id: Uuid) -> Result<OpportunityView> {
    store.opportunity_view(actor.org_id, id).await?.ok_or(Error::NotFound("opportunity"))
}

// ---- pipeline settings and the days they count -------------------------------------------

pub async fn pipeline_settings(store: &dyn Store, actor: &Actor) -> Result<PipelineSettings> {
    store.pipeline_settings(actor.org_id).await
}

/// Changes the organization's pipeline settings (owners and admins). A new time zone counts
/// every follow-up again by its day there, while no lead of the organization may change.
pub async fn update_pipeline_settings(store: &dyn Store, actor: &Actor, input: Input<UpdatePipelineSettings>) -> Result<PipelineSettings> {
    actor.require_manager()?;
    retrying(|| async {
        let mut tx = store.begin().await?;
        let current = tx.pipeline_settings_to_change(actor.org_id).await?;
        let settings = input.clone().check(|fields| current.updated(fields))?;
        if settings != current {
            if settings.timezone != current.timezone {
                tx.count_follow_ups_in(actor.org_id, &settings.timezone).await?;
            }
            tx.save_pipeline_settings(&settings).await?;
            tx.commit().await?;
        }
        Ok(settings)
    })
    .await
}

/// The time zone the organization counts its days in: what "today" is for it.
pub async fn time_zone(store: &dyn Store, org_id: Uuid) -> Result<TimeZone> {
    Ok(store.pipeline_settings(org_id).await?.timezone)
}

/// The organization's statistics, with the follow-ups due by the end of its today.
pub async fn stats(store: &dyn Store, org_id: Uuid, filter: &StatsFilter, now: Timestamp) -> Result<PipelineTotals> {
    let today = time_zone(store, org_id).await?.day_of(now);
    store.stats(org_id, filter, today).await
}

// ---- the stale sweep ---------------------------------------------------------------------

/// The most leads one sweep transaction moves, so that a big organization's sweep never holds
/// its locks for long.
const SWEEP_BATCH: i64 = 100;

/// One pass of the stale sweep: in every organization with `auto_stale` on, moves each lead
/// that has rotted by `now` to `stale`, as the system, through the pipeline's one transition
/// (history entry, `status_change` activity, webhook events). An organization another sweeper
/// is sweeping is skipped. Answers how many leads this pass moved.
pub async fn sweep(store: &dyn Store, now: Timestamp) -> Result<u64> {
    let mut moved = 0;
    for org_id in store.sweepable_organizations().await? {
        moved += sweep_organization(store, org_id, now).await?;
    }
    Ok(moved)
}

async fn sweep_organization(store: &dyn Store, org_id: Uuid, now: Timestamp) -> Result<u64> {
    let mut moved = 0;
    loop {
        let (batch_moved, found) = retrying(|| async {
            let mut tx = store.begin().await?;
            let settings = match tx.pipeline_settings_to_sweep(org_id).await? {
                Some(settings) if settings.auto_stale => settings,
                // Another sweeper holds the organization, or its settings changed meanwhile.
                _ => return Ok((0, 0)),
            };
            let rotted = tx.rotted_leads(org_id, &settings.rot_cutoffs(now), SWEEP_BATCH).await?;
            let mut batch_moved = 0;
            for &id in &rotted {
                // Locked and read again: a note, an activity or a change committed since the
                // search keeps the lead where it is.
                let Some(current) = tx.opportunity(org_id, id).await? else { continue };
                if let Some(change) = current.swept(&settings, now)? {
                    write_change(tx.as_mut(), Some(&current), &change).await?;
                    batch_moved += 1;
                }
            }
            tx.commit().await?;
            Ok((batch_moved, rotted.len()))
        })
        .await?;
        moved += batch_moved;
        if i64::try_from(found).unwrap_or(i64::MAX) < SWEEP_BATCH {
            return Ok(moved);
        }
    }
}

// ---- reports (any role) ------------------------------------------------------------------

/// The scope of a report's days in the organization's time zone.
async fn report_scope(store: &dyn Store, org_id: Uuid, query: &ReportQuery) -> Result<ReportScope> {
    query.scope(&time_zone(store, org_id).await?)
}

pub async fn funnel_report(store: &dyn Store, actor: &Actor, query: &ReportQuery) -> Result<FunnelReport> {
    let scope = report_scope(store, actor.org_id, query).await?;
    Ok(FunnelReport::new(query, store.funnel_report(actor.org_id, &scope).await?))
}

pub async fn response_times_report(store: &dyn Store, actor: &Actor, query: &ReportQuery) -> Result<ResponseTimesReport> {
    let scope = report_scope(store, actor.org_id, query).await?;
    Ok(ResponseTimesReport::new(query, store.response_times_report(actor.org_id, &scope).await?))
}

pub async fn lost_reasons_report(store: &dyn Store, actor: &Actor, query: &ReportQuery) -> Result<LostReasonsReport> {
    let scope = report_scope(store, actor.org_id, query).await?;
    let (reasons, total) = store.lost_reasons_report(actor.org_id, &scope, LOST_REASONS_MAX).await?;
    Ok(LostReasonsReport::new(query, reasons, total))
}

// ---- clients ----------------------------------------------------------------------------

pub async fn create_client(store: &dyn Store, actor: &Actor, input: Input<CreateClient>) -> Result<Client> {
    let client = input.check(|fields| Client::new(actor.org_id, fields, Timestamp::now()))?;
    retrying(|| async {
        let mut tx = store.begin().await?;
        save_unique_client(tx.as_mut(), &client).await?;
        announce(tx.as_mut(), client.org_id, &[EventType::ClientCreated], Record::value(&client)?).await?;
        tx.commit().await
    })
    .await?;
    Ok(client)
}

pub async fn update_client(store: &dyn Store, actor: &Actor, id: Uuid, input: Input<UpdateClient>) -> Result<Client> {
    retrying(|| async {
        let mut tx = store.begin().await?;
        let current = tx.client(actor.org_id, id).await?.ok_or(Error::NotFound("client"))?;
        let client = input.clone().check(|fields| current.updated(fields, Timestamp::now()))?;
        if client != current {
            save_unique_client(tx.as_mut(), &client).await?;
            tx.commit().await?;
        }
        Ok(client)
    })
    .await
}

async fn save_unique_client(tx: &mut dyn Tx, client: &Client) -> Result<()> {
    if let Some(email) = &client.email
        && let Some(existing) = tx.client_by_email(client.org_id, email).await?
        && existing.id != client.id
    {
        let message = format!("the client {} already has the e-mail {email}", existing.name);
        return Err(Error::Duplicate { message, existing_id: existing.id });
    }
    tx.save_client(client).await
}

// ---- staff and tokens -------------------------------------------------------------------

pub async fn create_staff(store: &dyn Store, actor: &Actor, input: Input<CreateStaff>) -> Result<Staff> {
    actor.require_manager()?;
    let staff = input.check(|fields| Staff::new(actor.org_id, fields, Timestamp::now()))?;
    actor.require_may_change_staff(&staff, Some(staff.role))?;
    retrying(|| async {
        let mut tx = store.begin().await?;
        save_unique_staff(tx.as_mut(), &staff).await?;
        tx.commit().await
    })
    .await?;
    Ok(staff)
}

/// Deactivating a member revokes their tokens and ends their browser sessions in the same transaction, so that reactivating
/// them later does not bring back tokens that may have leaked while they were gone.
pub async fn update_staff(store: &dyn Store, actor: &Actor, id: Uuid, input: Input<UpdateStaff>) -> Result<Staff> {
    retrying(|| async {
        let mut tx = store.begin().await?;
        // The owners' rows first, in one order for every transaction: two owners stepping down at
        // once each locked their own row and then waited for the other's.
        let owners = tx.active_owners(actor.org_id).await?;
        let current = tx.staff(actor.org_id, id).await?.ok_or(Error::NotFound("staff member"))?;
        actor.require_may_change_staff(&current, input.fields().role.value().copied())?;
        let staff = input.clone().check(|fields| current.updated(fields, Timestamp::now()))?;
        if current.is_active_owner() && !staff.is_active_owner() && owners <= 1 {
            return Err(Error::Conflict("the organization must keep at least one active owner".into()));
        }
        if staff != current {
            tx.save_staff(&staff).await?;
            if current.is_active && !staff.is_active {
                tx.revoke_tokens_of(actor.org_id, id, staff.updated_at).await?;
                tx.delete_web_sessions_of(actor.org_id, id).await?;
            }
            tx.commit().await?;
        }
        Ok(staff)
    })
    .await
}

async fn save_unique_staff(tx: &mut dyn Tx, staff: &Staff) -> Result<()> {
    if let Some(existing) = tx.staff_by_email(staff.org_id, &staff.email).await? {
        let message = format!("the staff member {} already has the e-mail {}", existing.name, existing.email);
        return Err(Error::Duplicate { message, existing_id: existing.id });
    }
    tx.save_staff(staff).await
}

pub async fn issue_token(store: &dyn Store, actor: &Actor, staff_id: Uuid, input: Input<CreateToken>) -> Result<IssuedToken> {
    retrying(|| async {
        let mut tx = store.begin().await?;
        let holder = tx.staff(actor.org_id, staff_id).await?.ok_or(Error::NotFound("staff member"))?;
        actor.require_may_manage_tokens_of(&holder)?;
        if !holder.is_active {
            return Err(Error::Conflict("the staff member is deactivated; reactivate them first".into()));
        }
        let name = input.clone().check(|fields| {
            let mut errors = FieldErrors::default();
            let name = text::optional(&mut errors, "name", fields.name, TOKEN_NAME_MAX);
            errors.into_result(name)
        })?;
        let secret = tokens::generate();
        let token = ApiToken {
            id: Uuid::now_v7(),
            org_id: actor.org_id,
            staff_id,
            name,
            hash: tokens::hash(&secret),
            created_at: Timestamp::now(),
        };
        tx.insert_token(&token).await?;
        tx.commit().await?;
        Ok(IssuedToken { id: token.id, staff_id, name: token.name, token: secret, created_at: token.created_at })
    })
    .await
}

pub async fn tokens(store: &dyn Store, actor: &Actor, staff_id: Uuid) -> Result<Vec<TokenInfo>> {
    let holder = store.staff(actor.org_id, staff_id).await?.ok_or(Error::NotFound("staff member"))?;
    actor.require_may_manage_tokens_of(&holder)?;
    store.tokens(actor.org_id, staff_id).await
}

pub async fn revoke_token(store: &dyn Store, actor: &Actor, token_id: Uuid) -> Result<()> {
    retrying(|| async {
        let mut tx = store.begin().await?;
        let holder_id = tx.token_holder(actor.org_id, token_id).await?.ok_or(Error::NotFound("token"))?;
        let holder = tx.staff(actor.org_id, holder_id).await?.ok_or(Error::NotFound("token"))?;
        actor.require_may_manage_tokens_of(&holder)?;
        tx.revoke_token(actor.org_id, token_id, Timestamp::now()).await?;
        tx.commit().await
    })
    .await
}

// ---- idempotency keys -------------------------------------------------------------------

/// How long an `Idempotency-Key` is remembered: twice the 24 hours clients are promised.
pub const IDEMPOTENCY_RETENTION: time::Duration = time::Duration::hours(48);

pub async fn purge_expired_idempotency_keys(store: &dyn Store) -> Result<u64> {
    let before = Timestamp::from_datetime(Timestamp::now().datetime() - IDEMPOTENCY_RETENTION);
    store.purge_idempotency_keys(before).await
}

// ---- website lead forms -----------------------------------------------------------------

/// Every lead form of the organization (owners and admins).
pub async fn lead_forms(store: &dyn Store, actor: &Actor) -> Result<Vec<LeadForm>> {
    actor.require_manager()?;
    store.lead_forms(actor.org_id).await
}

pub async fn create_lead_form(store: &dyn Store, actor: &Actor, input: Input<CreateLeadForm>) -> Result<LeadForm> {
    actor.require_manager()?;
    retrying(|| async {
        let built = input.clone().check(|fields| LeadForm::new(actor, fields, tokens::generate_form_key(), Timestamp::now()));
        let mut tx = store.begin().await?;
        let form = with_usable_references(tx.as_mut(), actor, built).await?;
        tx.save_lead_form(&form).await?;
        tx.commit().await?;
        Ok(form)
    })
    .await
}

pub async fn update_lead_form(store: &dyn Store, actor: &Actor, id: Uuid, input: Input<UpdateLeadForm>) -> Result<LeadForm> {
    actor.require_manager()?;
    retrying(|| async {
        let mut tx = store.begin().await?;
        let current = tx.lead_form(actor.org_id, id).await?.ok_or(Error::NotFound("lead form"))?;
        let built = input.clone().check(|fields| current.updated(fields, Timestamp::now()));
        let form = with_usable_references(tx.as_mut(), actor, built).await?;
        if form != current {
            tx.save_lead_form(&form).await?;
            tx.commit().await?;
        }
        Ok(form)
    })
    .await
}

/// A visitor's submission, checked and ready to save as a website lead. Only
/// [`website_lead`] makes one, so nothing unchecked is saved.
pub struct WebsiteLead {
    org_id: Uuid,
    creator: Creator,
    inquiry: CreateOpportunity,
    received_at: Timestamp,
}

/// Checks a visitor's submission: the website lead it makes, or `None` for a bot's (a filled
/// honeypot), which is accepted and dropped. Separate from saving, so that the caller can count
/// against a form's budget only what would become a lead.
pub fn website_lead(form: &LeadForm, input: Input<Submission>) -> Result<Option<WebsiteLead>> {
    let now = Timestamp::now();
    let is_from_a_bot = input.fields().is_from_a_bot();
    let inquiry = input.check(|submission| form.inquiry(submission, now))?;
    if is_from_a_bot {
        return Ok(None);
    }
    let lead = WebsiteLead { org_id: form.org_id, creator: Creator::Form { created_by: form.created_by }, inquiry, received_at: now };
    // The organization's settings give the lead its probability and its follow-up's day, never
    // a reason to refuse it: checked with the standard ones here, made with its own when saved.
    lead.made_with(&PipelineSettings::standard(lead.org_id))?;
    Ok(Some(lead))
}

impl WebsiteLead {
    fn made_with(&self, settings: &PipelineSettings) -> Result<(Change, References)> {
        Opportunity::created(settings, self.creator, self.inquiry.clone(), self.received_at)
    }
}

/// Saves a website lead. A category or assignee that has since been deactivated is left off
/// rather than losing the inquiry.
pub async fn save_website_lead(store: &dyn Store, lead: WebsiteLead) -> Result<()> {
    retrying(|| async {
        let mut tx = store.begin().await?;
        let settings = tx.pipeline_settings(lead.org_id).await?;
        let (mut created, references) = lead.made_with(&settings)?;
        let opportunity = &mut created.opportunity;
        let unusable = tx.unusable_references(opportunity.org_id, &references).await?;
        for (field, _) in unusable.iter() {
            match field {
                "category_id" => opportunity.category_id = None,
                "assigned_to" => opportunity.assigned_to = None,
                _ => {}
            }
        }
        write_change(tx.as_mut(), None, &created).await?;
        tx.commit().await
    })
    .await
}

// ---- webhooks ------------------------------------------------------------------------------

/// The record an event is about.
enum Record {
    /// Read as the API shows it, inside the transaction, only if a webhook listens.
    Opportunity(Uuid),
    /// Already as the API shows it.
    Value(serde_json::Value),
}

impl Record {
    fn value(record: &impl Serialize) -> Result<Record> {
        serde_json::to_value(record).map(Record::Value).map_err(Error::internal)
    }
}

/// Writes the events to the outbox in the caller's transaction, each with a delivery to every
/// webhook of the organization that listens to it: they commit or roll back with the change.
async fn announce(tx: &mut dyn Tx, org_id: Uuid, events: &[EventType], record: Record) -> Result<()> {
    let webhooks = tx.webhooks(org_id).await?;
    let heard: Vec<(EventType, Vec<Uuid>)> = events
        .iter()
        .map(|&kind| (kind, webhooks.iter().filter(|webhook| webhook.listens_to(kind)).map(|webhook| webhook.id).collect::<Vec<_>>()))
        .filter(|(_, listeners)| !listeners.is_empty())
        .collect();
    if heard.is_empty() {
        return Ok(());
    }
    let data = match record {
        Record::Value(value) => value,
        Record::Opportunity(id) => {
            let view = tx.opportunity_view(org_id, id).await?.ok_or(Error::NotFound("opportunity"))?;
            serde_json::to_value(view).map_err(Error::internal)?
        }
    };
    let now = Timestamp::now();
    for (kind, listeners) in heard {
        tx.insert_event(org_id, &Event::new(kind, data.clone(), now), &listeners).await?;
    }
    Ok(())
}

pub async fn create_webhook(store: &dyn Store, actor: &Actor, policy: TargetPolicy, input: Input<CreateWebhook>) -> Result<CreatedWebhook> {
    actor.require_manager()?;
    let secret = tokens::generate_webhook_secret();
    let webhook = input.check(|fields| Webhook::new(actor.org_id, fields, secret.clone(), policy, Timestamp::now()))?;
    retrying(|| async {
        let mut tx = store.begin().await?;
        if tx.webhooks(actor.org_id).await?.len() >= webhook::WEBHOOKS_MAX {
            let message = format!("an organization may have at most {} webhooks; delete one first", webhook::WEBHOOKS_MAX);
            return Err(Error::Conflict(message));
        }
        tx.save_webhook(&webhook).await?;
        tx.commit().await
    })
    .await?;
    Ok(CreatedWebhook { webhook, secret })
}

pub async fn webhooks(store: &dyn Store, actor: &Actor) -> Result<Vec<Webhook>> {
    actor.require_manager()?;
    store.webhooks(actor.org_id).await
}

pub async fn update_webhook(
    store: &dyn Store,
    actor: &Actor,
    id: Uuid,
    policy: TargetPolicy,
    input: Input<UpdateWebhook>,
) -> Result<Webhook> {
    actor.require_manager()?;
    retrying(|| async {
        let mut tx = store.begin().await?;
        let current = tx.webhook(actor.org_id, id).await?.ok_or(Error::NotFound("webhook"))?;
        let webhook = input.clone().check(|fields| current.updated(fields, policy, Timestamp::now()))?;
        if webhook != current {
            tx.save_webhook(&webhook).await?;
            tx.commit().await?;
        }
        Ok(webhook)
    })
    .await
}

pub async fn delete_webhook(store: &dyn Store, actor: &Actor, id: Uuid) -> Result<()> {
    actor.require_manager()?;
    retrying(|| async {
        let mut tx = store.begin().await?;
        tx.webhook(actor.org_id, id).await?.ok_or(Error::NotFound("webhook"))?;
        tx.delete_webhook(actor.org_id, id).await?;
        tx.commit().await
    })
    .await
}

/// A page of the webhook's deliveries, newest first, and how many it has.
pub async fn deliveries(store: &dyn Store, actor: &Actor, webhook_id: Uuid, page: Page) -> Result<(Vec<Delivery>, i64)> {
    actor.require_manager()?;
    store.webhook(actor.org_id, webhook_id).await?.ok_or(Error::NotFound("webhook"))?;
    store.deliveries(actor.org_id, webhook_id, page).await
}

/// Sends a delivery again, as soon as a worker is free, with a new day of retries.
pub async fn redeliver(store: &dyn Store, actor: &Actor, webhook_id: Uuid, delivery_id: Uuid) -> Result<()> {
    actor.require_manager()?;
    retrying(|| async {
        let mut tx = store.begin().await?;
        if !tx.redeliver(actor.org_id, webhook_id, delivery_id, Timestamp::now()).await? {
            return Err(Error::NotFound("delivery"));
        }
        tx.commit().await
    })
    .await
}

/// How long delivered and given-up events are kept, for the deliveries log.
pub const WEBHOOK_EVENT_RETENTION: time::Duration = time::Duration::days(7);

pub async fn purge_old_webhook_events(store: &dyn Store) -> Result<u64> {
    let before = Timestamp::from_datetime(Timestamp::now().datetime() - WEBHOOK_EVENT_RETENTION);
    store.purge_webhook_events(before).await
}

// ---- running a transaction again -----------------------------------------------------------

/// How many times a use case's transaction is tried before [`Error::Contention`] reaches the
/// caller as a 409. Each retry follows a race that the other side has just won, so a second
/// attempt almost always succeeds; five covers a burst of writers to the same rows.
const ATTEMPTS: u32 = 5;

/// The pause before the first retry; it doubles for each one after, and each pause is drawn
/// at random up to that bound, so that two writers that collided do not collide again.
const FIRST_PAUSE: Duration = Duration::from_millis(4);

/// Runs `attempt`, one whole transaction of a use case, until it does not lose a race with
/// another transaction ([`Error::Contention`]) or [`ATTEMPTS`] are used up. An attempt that
/// fails rolls back entirely (its transaction is dropped), so running it again is safe. Each
/// attempt is a new future borrowing the use case's inputs, which is why the use cases check a
/// clone of their input inside it: checking consumes what it checks.
pub(crate) async fn retrying<T, F: Future<Output = Result<T>>>(mut attempt: impl FnMut() -> F) -> Result<T> {
    let mut pause = FIRST_PAUSE;
    for retry in 1..ATTEMPTS {
        match attempt().await {
            Err(Error::Contention) => {
                tracing::debug!(retry, "a write lost a race with another transaction; running it again");
                tokio::time::sleep(pause.mul_f64(rand::random::<f64>())).await;
                pause *= 2;
            }
            finished => return finished,
        }
    }
    attempt().await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Counts its attempts and loses a race on the first `losing` ones.
    async fn attempts_until(losing: u32, error: fn() -> Error) -> (u32, Result<&'static str>) {
        let count = AtomicU32::new(0);
        let outcome = retrying(|| async { if count.fetch_add(1, Ordering::SeqCst) < losing { Err(error()) } else { Ok("done") } }).await;
        (count.load(Ordering::SeqCst), outcome)
    }

    #[tokio::test]
    async fn a_lost_race_runs_again_a_bounded_number_of_times() {
        let (count, outcome) = attempts_until(2, || crate::tests::mapped("40P01")).await;
        assert_eq!((count, outcome.ok()), (3, Some("done")), "two deadlocks, then success");

        let (count, outcome) = attempts_until(u32::MAX, || crate::tests::mapped("40P01")).await;
        assert_eq!(count, ATTEMPTS, "gives up after the last attempt");
        assert!(matches!(outcome, Err(Error::Contention)), "{outcome:?}");

        let (count, outcome) = attempts_until(u32::MAX, || Error::NotFound("opportunity")).await;
        assert_eq!(count, 1, "any other failure is final");
        assert!(matches!(outcome, Err(Error::NotFound(_))), "{outcome:?}");
    }
}
