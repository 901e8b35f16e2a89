//! A small, plausible med-spa for a newcomer to look around in (`opportunities serve --demo`):
//! a few staff, the clinic's treatment categories, a few hundred leads spread over every stage
//! with notes, calls and e-mails, some clients and a website form.
//!
//! Everything goes through the use cases, as the clinic's staff would enter it: the leads as one
//! spreadsheet import (dated over the last months, so the board and its history look lived in,
//! in one transaction), then the calls and e-mails logged on them and the conversions of won
//! leads. So every rule holds and every total agrees with a recount. The same seed gives the
//! same clinic; its dates are relative to the day it runs.

pub mod rng;
pub mod vocabulary;

use domain::activity::{ActivityType, CreateActivity};
use domain::auth::{Actor, CreateStaff, Role, Staff};
use domain::calendar::TimeZone;
use domain::category::CreateCategory;
use domain::lead_form::CreateLeadForm;
use domain::opportunity::{OpportunityView, Status};
use domain::query::{OpportunityFilter, QueryParams};
use domain::transfer::import::{ImportFile, ImportOptions, OnDuplicate};
use domain::{Error, Input, Money, Result, Timestamp};
use serde::Serialize;
use uuid::Uuid;

use self::rng::Rng;
use crate::Store;
use crate::service::{self, CreatedOrganization};

/// The seed of the clinic `serve --demo` creates.
pub const SEED: u64 = 0xC11_41C;
/// How many leads the clinic has.
pub const LEADS: u64 = 300;
/// How far back the leads were created.
const HISTORY_DAYS: i64 = 120;
const DAY_US: i64 = 86_400_000_000;
const HOUR_US: i64 = 3_600_000_000;

/// The clinic's staff besides the owner who started the server: (name, e-mail, role).
const STAFF: [(&str, &str, Role); 4] = [
    ("Dr. Maya Patel", "maya.patel@example.com", Role::Admin),
    ("Sam Rivera", "sam.rivera@example.com", Role::Member),
    ("Lena Brooks", "lena.brooks@example.com", Role::Member),
    ("Chris Ortega", "chris.ortega@example.com", Role::Member),
];

/// What the demo created, as `serve --demo` prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DemoReport {
    pub org_id: Uuid,
    /// The owner included.
    pub staff: u64,
    pub categories: u64,
    pub leads: u64,
    pub notes: u64,
    /// Calls, e-mails and meetings logged on the leads (stage changes are logged besides).
    pub activities: u64,
    pub clients: u64,
    pub lead_forms: u64,
}

/// Fills the organization `serve` has just created on an empty database with the demo clinic,
/// `created`'s owner entering it.
pub async fn fill(store: &dyn Store, created: &CreatedOrganization, seed: u64) -> Result<DemoReport> {
    let owner = store.staff(created.org_id, created.staff_id).await?.ok_or(Error::NotFound("staff member"))?;
    let owner_actor = actor_of(&owner);
    let mut staff = vec![owner];
    for (name, email, role) in STAFF {
        let input = CreateStaff { name: Some(name.into()), email: Some(email.into()), role: Some(role) };
        staff.push(service::create_staff(store, &owner_actor, Input::readable(input)).await?);
    }
    for (position, (name, color)) in (1..).zip(vocabulary::CATEGORIES) {
        let input = CreateCategory { name: Some(name.into()), color: Some(color.into()), sort_order: Some(position), is_active: None };
        service::create_category(store, &owner_actor, Input::readable(input)).await?;
    }
    let now = Timestamp::now();
    let plans: Vec<Lead> = (0..LEADS).map(|index| Lead::plan(seed, index, &staff, now)).collect();
    import(store, &owner_actor, &plans).await?;
    let mut report = DemoReport {
        org_id: created.org_id,
        staff: staff.len() as u64,
        categories: vocabulary::CATEGORIES.len() as u64,
        leads: plans.len() as u64,
        notes: plans.iter().filter(|plan| plan.has_note).count() as u64,
        ..DemoReport::default()
    };
    let imported = leads_oldest_first(store, &owner_actor).await?;
    for (plan, lead) in plans.into_iter().zip(&imported) {
        if lead.opportunity.title != plan.title {
            return Err(unexpected(format!("the demo's lead {} was imported as {}", plan.title, lead.opportunity.title)));
        }
        let actor =
            staff.iter().find(|member| Some(member.id) == lead.opportunity.assigned_to).map_or_else(|| owner_actor.clone(), actor_of);
        for activity in plan.activities {
            service::log_activity(store, &actor, lead.opportunity.id, Input::readable(activity)).await?;
            report.activities += 1;
        }
        if plan.becomes_client {
            service::convert_to_client(store, &actor, lead.opportunity.id, None).await?;
            report.clients += 1;
        }
    }
    let consultations = store.categories(created.org_id, false).await?.into_iter().find(|category| category.name == "Consultations");
    let form = CreateLeadForm {
        name: Some("Website contact form".into()),
        category_id: consultations.map(|category| category.id),
        assigned_to: staff.get(1).map(|member| member.id),
        allowed_origins: Some(vec!["https://clinic.example".into()]),
        thank_you_url: None,
    };
    service::create_lead_form(store, &owner_actor, Input::readable(form)).await?;
    report.lead_forms = 1;
    Ok(report)
}

/// The caller a staff member's own writes run as.
fn actor_of(staff: &Staff) -> Actor {
    Actor {
        org_id: staff.org_id,
        staff_id: staff.id,
        name: staff.name.clone(),
        role: staff.role,
        token_id: Uuid::nil(),
        token_last_used_at: None,
    }
}

/// One lead as planned: its row of the imported spreadsheet and what happens to it after.
struct Lead {
    title: String,
    /// The spreadsheet's cells, in [`COLUMNS`]' order.
    cells: Vec<String>,
    has_note: bool,
    activities: Vec<CreateActivity>,
    becomes_client: bool,
}

/// The spreadsheet's header, as a clinic's export might name its columns.
const COLUMNS: [&str; 16] = [
    "Title",
    "Name",
    "E-mail",
    "Phone",
    "Stage",
    "Probability",
    "Value",
    "Source",
    "Owner",
    "Category",
    "Follow-up",
    "Created",
    "Closed",
    "Reason",
    "Description",
    "Notes",
];

impl Lead {
    /// Lead `index` of [`LEADS`]: created `HISTORY_DAYS` ago for the first, recently for the
    /// last, so that the import's creation order is the plan's.
    fn plan(seed: u64, index: u64, staff: &[Staff], now: Timestamp) -> Lead {
        let mut rng = Rng::stream(seed, index);
        let now_us = now.unix_micros();
        let step = HISTORY_DAYS * DAY_US / LEADS as i64;
        let created_us = now_us - HISTORY_DAYS * DAY_US + index as i64 * step + rng.range(0, step / 2);
        let (treatment, category) = vocabulary::treatment(&mut rng);
        let source = *rng.weighted(&vocabulary::SOURCES);
        let name = vocabulary::person(&mut rng);
        let status = *rng.weighted(&vocabulary::STATUSES);
        let title = vocabulary::title(&mut rng, Some(source), treatment, &name);
        let email: Option<String> = rng.chance(0.8).then(|| format!("{}.{index}@example.com", name.to_lowercase().replace(' ', ".")));
        let phone = rng.chance(0.7).then(|| vocabulary::phone(&mut rng));
        let value = rng.chance(0.9).then(|| Money::from_cents(vocabulary::value_cents(&mut rng)));
        let owner = rng.weighted(&[(0_usize, 2), (1, 3), (2, 4), (3, 4), (4, 3)]);
        let closed_us = status
            .is_closed()
            .then(|| (created_us + rng.range(DAY_US, 30 * DAY_US)).min(now_us - rng.range(HOUR_US, 2 * DAY_US)).max(created_us));
        let follow_up_us = (!status.is_closed()).then(|| follow_up(&mut rng, now_us)).flatten();
        let at = |micros: i64| Timestamp::from_unix_micros(micros).map(|at| at.to_string()).unwrap_or_default();
        let note = rng.chance(0.5).then(|| vocabulary::note_text(&mut rng, treatment));
        let becomes_client = status == Status::Won && email.is_some() && rng.chance(0.7);
        let cells = vec![
            title.clone(),
            name.clone(),
            email.unwrap_or_default(),
            phone.unwrap_or_default(),
            status.as_str().to_owned(),
            if status.is_closed() { String::new() } else { vocabulary::probability(&mut rng, status).to_string() },
            value.map(|value| value.to_string()).unwrap_or_default(),
            source.to_owned(),
            staff.get(*owner).map(|member| member.email.clone()).unwrap_or_default(),
            vocabulary::CATEGORIES[category].0.to_owned(),
            follow_up_us.map(at).unwrap_or_default(),
            at(created_us),
            closed_us.map(at).unwrap_or_default(),
            if status == Status::Lost { vocabulary::lost_reason(&mut rng).to_owned() } else { String::new() },
            if rng.chance(0.8) { vocabulary::description(&mut rng, treatment) } else { String::new() },
            note.clone().unwrap_or_default(),
        ];
        let activities = activities(&mut rng, status, created_us, closed_us.unwrap_or(now_us), &name, treatment);
        Lead { title, cells, has_note: note.is_some(), activities, becomes_client }
    }
}

/// A follow-up for a lead still in play: overdue, today, in the next two weeks, or none.
fn follow_up(rng: &mut Rng, now_us: i64) -> Option<i64> {
    let start_of_today = now_us - now_us.rem_euclid(DAY_US);
    match rng.below(20) {
        0..4 => Some(start_of_today - rng.range(1, 7) * DAY_US + rng.range(9, 17) * HOUR_US),
        4..7 => Some(start_of_today + rng.range(9, 17) * HOUR_US),
        7..17 => Some(start_of_today + rng.range(1, 14) * DAY_US + rng.range(9, 17) * HOUR_US),
        _ => None,
    }
}

/// The calls, e-mails and meetings between a lead's creation and its close (or now): more the
/// further it went.
fn activities(rng: &mut Rng, status: Status, from_us: i64, until_us: i64, name: &str, treatment: &str) -> Vec<CreateActivity> {
    let count = match status {
        Status::Open => rng.below(2),
        Status::Contacted | Status::Stale => 1 + rng.below(2),
        Status::Qualified | Status::Lost => 1 + rng.below(3),
        Status::Proposal | Status::Won => 2 + rng.below(3),
    };
    let first = name.split(' ').next().unwrap_or(name);
    (0..count)
        .map(|_| {
            let kind = *rng.weighted(&[(ActivityType::Call, 5), (ActivityType::Email, 3), (ActivityType::Meeting, 1)]);
            let (description, outcome) = match kind {
                ActivityType::Call => (format!("Called {first} about {treatment}"), Some(vocabulary::call_outcome(rng).to_owned())),
                ActivityType::Email => (format!("Sent {first} prices and before/after photos for {treatment}"), None),
                _ => (format!("Consultation with {first} for {treatment}"), Some("Treatment plan agreed".to_owned())),
            };
            let done_at = Timestamp::from_unix_micros(rng.range(from_us, until_us.max(from_us)));
            CreateActivity { activity_type: Some(kind), description: Some(description), outcome, scheduled_at: None, completed_at: done_at }
        })
        .collect()
}

/// Imports the planned leads as one spreadsheet, in one transaction.
async fn import(store: &dyn Store, owner: &Actor, plans: &[Lead]) -> Result<()> {
    let mut sheet = csv::Writer::from_writer(Vec::new());
    let rows = std::iter::once(COLUMNS.map(str::to_owned).to_vec()).chain(plans.iter().map(|plan| plan.cells.clone()));
    for row in rows {
        sheet.write_record(&row).map_err(Error::internal)?;
    }
    let bytes = sheet.into_inner().map_err(Error::internal)?;
    let file = ImportFile::read(&bytes)?;
    let options = ImportOptions { dry_run: false, on_duplicate: OnDuplicate::Create };
    let report = service::import_opportunities(store, owner, &file, options).await?;
    if report.failed > 0 || report.created != plans.len() as u64 {
        return Err(unexpected(format!("the demo's spreadsheet did not import cleanly: {:?}", report.errors)));
    }
    Ok(())
}

/// A demo that does not come out as planned: a bug, reported as one.
fn unexpected(message: String) -> Error {
    Error::internal(std::io::Error::other(message))
}

/// Every lead of the organization, oldest first.
async fn leads_oldest_first(store: &dyn Store, owner: &Actor) -> Result<Vec<OpportunityView>> {
    let mut leads = Vec::new();
    loop {
        let pairs = [("sort", "created_at".to_owned()), ("limit", "200".to_owned()), ("offset", leads.len().to_string())];
        let params = QueryParams::new(pairs.into_iter().map(|(name, value)| (name.to_owned(), value)).collect())?;
        let (page, _) = store.opportunities(owner.org_id, &OpportunityFilter::parse(params, &TimeZone::utc(), Timestamp::now())?).await?;
        let done = page.len() < 200;
        leads.extend(page);
        if done {
            return Ok(leads);
        }
    }
}
