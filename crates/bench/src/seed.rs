//! `seed`: writes a large, plausible pipeline straight through the store's `Tx` API, in large
//! transactions, and returns the manifest that `run` needs.

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use domain::activity::{Activity, ActivityType, Note};
use domain::auth::{ApiToken, Role, Staff};
use domain::calendar::TimeZone;
use domain::category::{Category, CreateCategory};
use domain::client::Client;
use domain::opportunity::{Opportunity, Stage, StageEntry, Status};
use domain::{Money, Timestamp};
use serde::{Deserialize, Serialize};
use store::{Stays, Store, Tx};
use uuid::Uuid;

use crate::data;
use store::demo::rng::{Rng, mix};

const DAY_US: i64 = 86_400_000_000;
/// How far back the measured organization's leads were created.
const HISTORY_DAYS: i64 = 730;

/// Everything `run` needs to know about a seeded database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The measured organization.
    pub org_id: Uuid,
    /// Its owner's API token (stored hashed, like any token).
    pub token: String,
    /// Opportunities in the measured organization.
    pub opportunities: u64,
    pub notes: u64,
    pub activities: u64,
    pub clients: u64,
    /// Small organizations seeded beside it, and their opportunities each.
    pub other_organizations: u64,
    pub opportunities_per_other_organization: u64,
    /// Matches about a quarter of the measured organization's leads.
    pub common_search: String,
    /// One prospect's e-mail: matches exactly one lead.
    pub rare_search: String,
    pub staff_ids: Vec<Uuid>,
    pub category_ids: Vec<Uuid>,
    pub seed: u64,
    /// Wall time of the whole seed, and the measured organization's opportunities per second.
    pub seed_seconds: f64,
    pub opportunities_per_second: f64,
    /// A spread-out sample of the measured organization's opportunity ids.
    pub sample_ids: Vec<Uuid>,
}

#[derive(Debug, Clone)]
pub struct SeedPlan {
    pub opportunities: u64,
    pub organizations: u64,
    pub per_organization: u64,
    pub token: String,
    pub seed: u64,
    pub batch: u64,
    pub notes_mean: f64,
    pub activities_mean: f64,
    pub sample: u64,
    /// Progress lines on stderr.
    pub verbose: bool,
    /// Write each batch through a freshly opened store (a new database session) at this URL.
    /// On PostgreSQL a long-lived session was seen to slow down statement after statement
    /// (a note insert from 16 µs to 390 µs within 15,000 rows); a new one per batch seeds
    /// twice as fast.
    pub fresh_sessions: Option<String>,
}

/// One organization's fixed records, which every generated opportunity points at.
struct OrgContext {
    org_id: Uuid,
    /// (id, name)
    staff: Vec<(Uuid, String)>,
    categories: Vec<Uuid>,
    /// `prospect{i}@example.com` for the measured organization; its own domain for the others.
    email: fn(u64, u64) -> String,
    org_index: u64,
    now_us: i64,
    history_us: i64,
    /// Opportunities in this organization, to spread creation times.
    total: u64,
}

#[derive(Default)]
struct Written {
    opportunities: u64,
    notes: u64,
    activities: u64,
    clients: u64,
    samples: Vec<(u64, Uuid)>,
}

fn measured_email(_org: u64, i: u64) -> String {
    format!("prospect{i}@example.com")
}

fn other_email(org: u64, i: u64) -> String {
    format!("lead{i}@org{org}.example.net")
}

pub fn backend_name(url: &str) -> &'static str {
    if url.starts_with("sqlite:") { "sqlite" } else { "postgres" }
}

pub async fn seed(store: Arc<dyn Store>, backend: &str, plan: &SeedPlan) -> Result<Manifest, String> {
    let started = Instant::now();
    let now = Timestamp::now();
    let n = plan.opportunities.max(1);

    // The measured organization, its owner (with the known token), staff and categories.
    let mut tx = store.begin().await.map_err(|error| error.describe())?;
    if tx.any_organization().await.map_err(|error| error.describe())? {
        return Err("the database already holds organizations: seed an empty database (a new SQLite file, or dropdb + createdb)".into());
    }
    let ctx =
        organization(tx.as_mut(), "Bench Med Spa", 0, 8, CATEGORIES_ALL, Some(&plan.token), measured_email, now, HISTORY_DAYS, n).await?;
    tx.commit().await.map_err(|error| error.describe())?;

    // Its opportunities, one transaction per batch. (Concurrent batches would deadlock on the
    // per-organization totals that triggers keep, and SQLite has a single writer anyway.)
    let mut written = Written::default();
    let mut done = 0;
    for b in 0..n.div_ceil(plan.batch.max(1)) {
        let range = b * plan.batch..((b + 1) * plan.batch).min(n);
        let count = range.end - range.start;
        let batch_store = match &plan.fresh_sessions {
            Some(url) => {
                let options =
                    store::OpenOptions { pool_size: 1, statement_timeout: std::time::Duration::from_secs(600), ..Default::default() };
                store::open(url, &options).await.map_err(|error| error.describe())?
            }
            None => store.clone(),
        };
        let mut tx = batch_store.begin().await.map_err(|error| error.describe())?;
        written.add(write_opportunities(tx.as_mut(), &ctx, range, plan).await?);
        tx.commit().await.map_err(|error| error.describe())?;
        done += count;
        if plan.verbose {
            let rate = done as f64 / started.elapsed().as_secs_f64();
            eprintln!("seeded {done}/{n} opportunities ({rate:.0}/s)");
        }
    }
    let measured_seconds = started.elapsed().as_secs_f64();

    // The small organizations beside it, 25 to a transaction.
    let orgs: Vec<u64> = (1..=plan.organizations).collect();
    for chunk in orgs.chunks(25) {
        let mut tx = store.begin().await.map_err(|error| error.describe())?;
        for &k in chunk {
            let ctx = organization(tx.as_mut(), &format!("Studio {k}"), k, 2, 2, None, other_email, now, 365, plan.per_organization.max(1))
                .await?;
            write_opportunities(tx.as_mut(), &ctx, 0..plan.per_organization, plan).await?;
        }
        tx.commit().await.map_err(|error| error.describe())?;
    }
    if plan.verbose && plan.organizations > 0 {
        eprintln!("seeded {} small organizations of {} opportunities", plan.organizations, plan.per_organization);
    }

    written.samples.sort_by_key(|(i, _)| *i);
    let rare = mix(plan.seed ^ 0xA11CE) % n;
    Ok(Manifest {
        backend: backend.to_owned(),
        org_id: ctx.org_id,
        token: plan.token.clone(),
        opportunities: n,
        notes: written.notes,
        activities: written.activities,
        clients: written.clients,
        other_organizations: plan.organizations,
        opportunities_per_other_organization: plan.per_organization,
        common_search: data::COMMON_SEARCH.to_owned(),
        rare_search: measured_email(0, rare),
        staff_ids: ctx.staff.iter().map(|(id, _)| *id).collect(),
        category_ids: ctx.categories.clone(),
        seed: plan.seed,
        seed_seconds: round2(started.elapsed().as_secs_f64()),
        opportunities_per_second: round2(n as f64 / measured_seconds),
        sample_ids: written.samples.into_iter().map(|(_, id)| id).collect(),
    })
}

const CATEGORIES_ALL: usize = data::CATEGORIES.len();

#[allow(clippy::too_many_arguments)]
async fn organization(
    tx: &mut dyn Tx,
    name: &str,
    org_index: u64,
    staff_count: usize,
    category_count: usize,
    token: Option<&str>,
    email: fn(u64, u64) -> String,
    now: Timestamp,
    history_days: i64,
    total: u64,
) -> Result<OrgContext, String> {
    let org_id = Uuid::now_v7();
    tx.insert_organization(org_id, name, now).await.map_err(|error| error.describe())?;
    let domain = if org_index == 0 { "bench.example".to_owned() } else { format!("org{org_index}.example.net") };
    let mut staff = Vec::new();
    for s in 0..staff_count {
        let (role, person) = match s {
            0 => (Role::Owner, "Olivia Owner".to_owned()),
            1 => (Role::Admin, "Adam Admin".to_owned()),
            _ => (Role::Member, format!("{} {}", data::FIRST_NAMES[s * 3 % 32], data::LAST_NAMES[s * 5 % 32])),
        };
        let member = Staff {
            id: Uuid::now_v7(),
            org_id,
            name: person.clone(),
            email: format!("staff{s}@{domain}"),
            role,
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        tx.save_staff(&member).await.map_err(|error| error.describe())?;
        staff.push((member.id, person));
    }
    if let Some(token) = token {
        let api_token = ApiToken {
            id: Uuid::now_v7(),
            org_id,
            staff_id: staff[0].0,
            name: Some("benchmark".into()),
            hash: store::tokens::hash(token),
            created_at: now,
        };
        tx.insert_token(&api_token).await.map_err(|error| error.describe())?;
    }
    let mut categories = Vec::new();
    for (i, (category_name, color)) in data::CATEGORIES.iter().take(category_count).enumerate() {
        let input = CreateCategory {
            name: Some((*category_name).into()),
            color: Some((*color).into()),
            sort_order: Some(i as i32),
            is_active: None,
        };
        let category = Category::new(org_id, input, now).map_err(|error| error.describe())?;
        tx.save_category(&category).await.map_err(|error| error.describe())?;
        categories.push(category.id);
    }
    Ok(OrgContext { org_id, staff, categories, email, org_index, now_us: now.unix_micros(), history_us: history_days * DAY_US, total })
}

impl Written {
    fn add(&mut self, other: Written) {
        self.opportunities += other.opportunities;
        self.notes += other.notes;
        self.activities += other.activities;
        self.clients += other.clients;
        self.samples.extend(other.samples);
    }
}

/// Whether opportunity `i` of `n` is in the manifest's sample: one per stride, at a
/// pseudo-random place in it.
fn is_sample(seed: u64, i: u64, n: u64, sample: u64) -> bool {
    if sample == 0 {
        return false;
    }
    let stride = (n / sample).max(1);
    i / stride < sample && i % stride == mix(seed ^ (i / stride)) % stride
}

async fn write_opportunities(tx: &mut dyn Tx, ctx: &OrgContext, range: Range<u64>, plan: &SeedPlan) -> Result<Written, String> {
    let mut written = Written::default();
    let step = ctx.history_us / ctx.total.max(1) as i64;
    for i in range {
        let mut rng = Rng::stream(plan.seed, (ctx.org_index << 40) ^ i);
        // Created in order over the history, so that ids and creation times agree.
        let created = ctx.now_us - ctx.history_us + i as i64 * step + rng.range(0, step.max(1) - 1);
        let age = ctx.now_us - created;
        let updated = created + rng.range(0, age.min(30 * DAY_US));
        let (treatment, category) = data::treatment(&mut rng);
        let source = if rng.chance(0.03) { None } else { Some(*rng.weighted(&data::SOURCES)) };
        let name = data::person(&mut rng);
        let status = *rng.weighted(&data::STATUSES);
        let closed = status.is_closed().then_some(updated);
        let follow_up = match status {
            Status::Won | Status::Lost => rng.chance(0.2).then(|| created + rng.range(1, 14) * DAY_US),
            Status::Stale => rng.chance(0.5).then(|| ctx.now_us - rng.range(1, 60) * DAY_US),
            _ => rng.chance(0.85).then(|| ctx.now_us + rng.range(-60 * DAY_US, 60 * DAY_US)),
        };
        // Drawn in the order the fields were before the pipeline's fields became a `Stage`, so a
        // seed still gives the same data.
        let id = data::uuid_at(&mut rng, created);
        let prospect_phone = rng.chance(0.7).then(|| data::phone(&mut rng));
        let category_id = rng.chance(0.85).then(|| ctx.categories[category % ctx.categories.len()]);
        let title = data::title(&mut rng, source, treatment, &name);
        let description = rng.chance(0.8).then(|| data::description(&mut rng, treatment));
        let estimated_value = rng.chance(0.92).then(|| Money::from_cents(data::value_cents(&mut rng)));
        let probability = data::probability(&mut rng, status);
        let assigned_to = rng.chance(0.8).then(|| rng.pick(&ctx.staff).0);
        let closed_reason = (status == Status::Lost && rng.chance(0.6)).then(|| data::lost_reason(&mut rng).to_owned());
        let closed_at = closed.and_then(Timestamp::from_unix_micros);
        let stage = Stage::from_storage(status, probability, closed_at, closed_reason, None)
            .map_err(|column| format!("the seed broke a pipeline rule in {column}"))?;
        let mut opportunity = Opportunity {
            id,
            org_id: ctx.org_id,
            client_id: None,
            prospect_email: Some((ctx.email)(ctx.org_index, i)),
            prospect_phone,
            category_id,
            title,
            description,
            estimated_value,
            stage,
            source: source.map(str::to_owned),
            assigned_to,
            follow_up_date: follow_up.and_then(Timestamp::from_unix_micros),
            // Seeded organizations keep the standard settings: their days are UTC's.
            follow_up_day: follow_up.and_then(Timestamp::from_unix_micros).map(|at| TimeZone::utc().day_of(at)),
            created_by: rng.pick(&ctx.staff).0,
            created_at: ts(created),
            updated_at: ts(updated),
            last_activity_at: ts(updated),
            version: rng.range(1, 6),
            prospect_name: Some(name),
        };
        if status == Status::Won && rng.chance(0.5) {
            let client = Client {
                id: data::uuid_at(&mut rng, updated),
                org_id: ctx.org_id,
                name: opportunity.prospect_name.clone().unwrap_or_default(),
                email: opportunity.prospect_email.clone(),
                phone: opportunity.prospect_phone.clone(),
                created_at: ts(updated),
                updated_at: ts(updated),
            };
            tx.save_client(&client).await.map_err(|error| error.describe())?;
            opportunity.client_id = Some(client.id);
            written.clients += 1;
        }
        tx.save_opportunity(None, &opportunity).await.map_err(|error| error.describe())?;
        written.opportunities += 1;
        for (k, entry) in stage_path(plan.seed, ctx, i, &opportunity, updated).iter().enumerate() {
            let after = if k == 0 { Stays::None } else { Stays::Current };
            tx.insert_stage_entry(entry, after).await.map_err(|error| error.describe())?;
        }
        if ctx.org_index == 0 && is_sample(plan.seed, i, ctx.total, plan.sample) {
            written.samples.push((i, opportunity.id));
        }

        for _ in 0..rng.count_with_mean(plan.notes_mean) {
            let at = created + rng.range(0, age);
            let note = Note {
                id: data::uuid_at(&mut rng, at),
                org_id: ctx.org_id,
                opportunity_id: opportunity.id,
                content: data::note_text(&mut rng, treatment),
                created_by: rng.pick(&ctx.staff).0,
                created_at: ts(at),
            };
            tx.insert_note(&note).await.map_err(|error| error.describe())?;
            written.notes += 1;
        }
        for _ in 0..rng.count_with_mean(plan.activities_mean) {
            let at = created + rng.range(0, age);
            let (staff_id, staff_name) = rng.pick(&ctx.staff).clone();
            let activity_type = *rng.weighted(&[
                (ActivityType::Call, 30),
                (ActivityType::Email, 25),
                (ActivityType::Meeting, 10),
                (ActivityType::Note, 5),
                (ActivityType::StatusChange, 20),
                (ActivityType::Task, 10),
            ]);
            let first = opportunity.prospect_name.as_deref().and_then(|n| n.split(' ').next()).unwrap_or("the prospect");
            let (description, outcome, scheduled) = match activity_type {
                ActivityType::Call => (format!("Called {first} about {treatment}"), Some(data::call_outcome(&mut rng).to_owned()), None),
                ActivityType::Email => (format!("Sent pricing for {treatment}"), None, None),
                ActivityType::Meeting => {
                    (format!("In-clinic consultation for {treatment}"), Some("Interested, wants to think it over".to_owned()), None)
                }
                ActivityType::Note => (format!("Reviewed {first}'s intake form"), None, None),
                ActivityType::StatusChange => (format!("Status changed from open to {} by {staff_name}", status.as_str()), None, None),
                _ => (format!("Follow up with {first} about {treatment}"), None, Some(at + rng.range(1, 7) * DAY_US)),
            };
            let activity = Activity {
                id: data::uuid_at(&mut rng, at),
                org_id: ctx.org_id,
                opportunity_id: opportunity.id,
                activity_type,
                description,
                outcome,
                scheduled_at: scheduled.and_then(Timestamp::from_unix_micros),
                completed_at: (activity_type != ActivityType::Task).then(|| ts(at)),
                created_by: staff_id,
                created_at: ts(at),
            };
            tx.insert_activity(&activity).await.map_err(|error| error.describe())?;
            written.activities += 1;
        }
    }
    Ok(written)
}

/// The stage history that led the lead to its status, for the funnel report to have something
/// to count: open at creation, then each open stage in pipeline order up to a random one, then
/// the lead's status (if it is not that stage) at `last`, its last change. Drawn from a stream of
/// its own so that the rest of the seeded data stays what it was before history was seeded.
fn stage_path(seed: u64, ctx: &OrgContext, i: u64, opportunity: &Opportunity, last: i64) -> Vec<StageEntry> {
    const OPEN_STAGES: [Status; 4] = [Status::Open, Status::Contacted, Status::Qualified, Status::Proposal];
    let mut rng = Rng::stream(seed ^ 0x5747_4745_4849_5354, (ctx.org_index << 40) ^ i);
    let status = opportunity.stage.status();
    let reached = match OPEN_STAGES.iter().position(|s| *s == status) {
        Some(index) => index,
        None => rng.range(0, 3) as usize,
    };
    let mut statuses = OPEN_STAGES[..=reached].to_vec();
    if !OPEN_STAGES.contains(&status) {
        statuses.push(status);
    }
    let created = opportunity.created_at.unix_micros();
    let span = (last - created).max(statuses.len() as i64);
    let step = span / statuses.len() as i64;
    let count = statuses.len();
    statuses
        .into_iter()
        .enumerate()
        .map(|(k, status)| {
            // Open at creation, the status it is in now at its last change (a close's closed_at).
            let at = match k {
                0 => created,
                k if k + 1 == count => last.max(created + k as i64),
                k => created + step * k as i64 + rng.range(0, step.max(1) - 1),
            };
            StageEntry {
                id: data::uuid_at(&mut rng, at),
                org_id: ctx.org_id,
                opportunity_id: opportunity.id,
                status,
                entered_at: ts(at),
                changed_by: (k > 0).then(|| rng.pick(&ctx.staff).0),
                left_at: None,
                lead_created_at: opportunity.created_at,
            }
        })
        .collect()
}

fn ts(unix_micros: i64) -> Timestamp {
    Timestamp::from_unix_micros(unix_micros).unwrap_or_else(Timestamp::now)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_spread_and_about_the_requested_number() {
        for (n, sample) in [(20_000u64, 1_000u64), (2_000, 1_000), (500, 1_000), (1_000_000, 1_000)] {
            let count = (0..n).filter(|&i| is_sample(42, i, n, sample)).count() as u64;
            assert_eq!(count, sample.min(n), "n={n}");
        }
    }
}
