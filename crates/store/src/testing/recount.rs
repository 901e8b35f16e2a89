//! The recount every storage test holds the database to: every total the triggers maintain
//! equals a recount of the opportunities, the word index holds what migration 0007 says,
//! each lead's latest stage history entry is its current status, and the facts each lead keeps
//! for the reports are what its history and activities say. The store's contract test runs
//! it after every write; the backup test runs it on a restored backup, and the organization
//! export, import and delete tests on both databases.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use domain::Timestamp;
use domain::calendar::TimeZone;
use domain::opportunity::Status;
use domain::report;
use domain::search;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, FromRow};
use uuid::Uuid;

/// A plain connection to the engine's database, for what no store method answers.
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    /// Every row `sql` returns, read into `T` the same way on both engines.
    pub async fn rows<T>(&self, sql: &str) -> Vec<T>
    where
        T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let rows = match self {
            Db::Sqlite(pool) => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await,
            Db::Postgres(pool) => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await,
        };
        rows.unwrap_or_else(|error| panic!("{error}\nin: {sql}"))
    }
}

// ---- the recount ------------------------------------------------------------------------

/// What the totals are about, as stored in `opportunities`.
#[derive(sqlx::FromRow)]
struct Lead {
    org_id: Uuid,
    id: Uuid,
    status: String,
    source: Option<String>,
    assigned_to: Option<Uuid>,
    category_id: Option<Uuid>,
    estimated_value: Option<i64>,
    probability: i32,
    /// Microseconds since the Unix epoch.
    follow_up: Option<i64>,
    follow_up_day: Option<i64>,
}

/// A group of `pipeline_totals`: organization, status, source, assignee, category, where
/// "none" is the empty source and the nil id (migration 0005).
type Group = (Uuid, String, String, Uuid, Uuid);
/// Count, value in cents, and value × probability.
type Sums = (i64, i64, i64);

/// Every table of totals, keyed as the table is, and the day each lead's follow-up is counted on.
#[derive(Default)]
struct Totals {
    days: BTreeMap<(Uuid, Uuid), i64>,
    pipeline: BTreeMap<Group, Sums>,
    follow_ups: BTreeMap<(Uuid, i64, Uuid, Uuid), i64>,
    pipeline_org: BTreeMap<(Uuid, String, String), Sums>,
    follow_ups_org: BTreeMap<(Uuid, i64), i64>,
}

/// Everything the database maintains that does not equal a recount, one line each.
pub async fn differences(db: &Db) -> Vec<String> {
    let leads = db.rows::<Lead>(&leads_query(db)).await;
    let zones: BTreeMap<Uuid, TimeZone> = db
        .rows::<(Uuid, String)>("SELECT org_id, timezone FROM pipeline_settings")
        .await
        .into_iter()
        .map(|(org_id, name)| (org_id, TimeZone::named(&name).expect("a zone of the database")))
        .collect();
    let recounted = recount(&leads, &zones);
    let stored = Totals { days: stored_days(&leads), ..stored(db).await };
    let mut out = Vec::new();
    compare("opportunities.follow_up_day", &recounted.days, &stored.days, &mut out);
    compare("pipeline_totals", &recounted.pipeline, &stored.pipeline, &mut out);
    compare("follow_up_totals", &recounted.follow_ups, &stored.follow_ups, &mut out);
    compare("pipeline_org_totals", &recounted.pipeline_org, &stored.pipeline_org, &mut out);
    compare("follow_up_org_totals", &recounted.follow_ups_org, &stored.follow_ups_org, &mut out);
    let (statuses, latest_entries) = stage_history(db).await;
    compare("stage_history", &statuses, &latest_entries, &mut out);
    let (expected, kept) = report_facts(db).await;
    compare("report facts", &expected, &kept, &mut out);
    match db {
        Db::Sqlite(pool) => compare("opportunity_words", &expected_words(pool).await, &indexed_words(pool).await, &mut out),
        Db::Postgres(_) => compare("search_words", &expected_search_words(db).await, &stored_search_words(db).await, &mut out),
    }
    out
}

/// Each lead's status, and the status of its latest stage history entry (none without one):
/// every path that moves a lead must append the entry in the same transaction.
async fn stage_history(db: &Db) -> (BTreeMap<(Uuid, Uuid), Option<String>>, BTreeMap<(Uuid, Uuid), Option<String>>) {
    let query = "SELECT o.org_id, o.id, o.status,
                        (SELECT h.status FROM stage_history h WHERE h.org_id = o.org_id AND h.opportunity_id = o.id
                         ORDER BY h.entered_at DESC, h.id DESC LIMIT 1) AS latest
                 FROM opportunities o";
    let rows = db.rows::<(Uuid, Uuid, String, Option<String>)>(query).await;
    let statuses = rows.iter().map(|(org, id, status, _)| ((*org, *id), Some(status.clone()))).collect();
    let latest = rows.into_iter().map(|(org, id, _, latest)| ((org, id), latest)).collect();
    (statuses, latest)
}

/// What a lead keeps for the reports: the stages reached and advanced from (bits), when it was
/// first answered, and for each stay in its history when it ended and when the lead was
/// created, in microseconds.
#[derive(Debug, PartialEq)]
struct ReportFacts {
    reached: i64,
    advanced: i64,
    first_response: Option<i64>,
    stays: Vec<(Option<i64>, i64)>,
}

/// A history entry: the stage, when it was entered, and as stored when the stay ended and when
/// its lead was created.
type Stay = (Status, i64, Option<i64>, i64);

/// Each lead's report facts as its history and activities say (by the domain's rules, not the
/// store's SQL), and as the writes kept them.
async fn report_facts(db: &Db) -> (BTreeMap<(Uuid, Uuid), ReportFacts>, BTreeMap<(Uuid, Uuid), ReportFacts>) {
    let (first, created) = (micros(db, "first_response_at"), micros(db, "created_at"));
    let (entered, left, lead_created) = (micros(db, "entered_at"), micros(db, "left_at"), micros(db, "lead_created_at"));
    let leads = db
        .rows::<(Uuid, Uuid, i64, i64, Option<i64>, i64)>(&format!(
            "SELECT org_id, id, stages_reached, stages_advanced, {first}, {created} FROM opportunities"
        ))
        .await;
    let entries = db
        .rows::<(Uuid, Uuid, String, i64, Option<i64>, i64)>(&format!(
            "SELECT org_id, opportunity_id, status, {entered}, {left}, {lead_created} FROM stage_history
             ORDER BY org_id, opportunity_id, entered_at, id"
        ))
        .await;
    let answers = db
        .rows::<(Uuid, Uuid, Option<i64>)>(&format!(
            "SELECT org_id, opportunity_id, MIN({}) FROM activities WHERE activity_type IN {} GROUP BY org_id, opportunity_id",
            micros(db, "created_at"),
            report::answering_activities_sql()
        ))
        .await;
    let mut expected: BTreeMap<(Uuid, Uuid), ReportFacts> = BTreeMap::new();
    let mut kept = BTreeMap::new();
    let mut created_at = BTreeMap::new();
    for (org, id, reached, advanced, first_response, created) in leads {
        expected.insert((org, id), ReportFacts { reached: 0, advanced: 0, first_response: None, stays: Vec::new() });
        kept.insert((org, id), ReportFacts { reached, advanced, first_response, stays: Vec::new() });
        created_at.insert((org, id), created);
    }
    let mut history: BTreeMap<(Uuid, Uuid), Vec<Stay>> = BTreeMap::new();
    for (org, id, status, entered_at, left_at, lead_created_at) in entries {
        let status = Status::parse(&status).expect("a stored status");
        history.entry((org, id)).or_default().push((status, entered_at, left_at, lead_created_at));
    }
    for (lead, entries) in &history {
        let (Some(expected), Some(kept), Some(&created)) = (expected.get_mut(lead), kept.get_mut(lead), created_at.get(lead)) else {
            continue;
        };
        for (i, &(status, entered_at, left_at, lead_created_at)) in entries.iter().enumerate() {
            let bit = report::stage_bit(status);
            expected.reached |= bit;
            if entries[i + 1..].iter().any(|&(later, ..)| report::stage_bit(later) > bit && bit != 0) {
                expected.advanced |= bit;
            }
            if report::move_answers(status) {
                expected.first_response = Some(expected.first_response.map_or(entered_at, |at| at.min(entered_at)));
            }
            expected.stays.push((entries.get(i + 1).map(|next| next.1), created));
            kept.stays.push((left_at, lead_created_at));
        }
    }
    for (org, id, at) in answers {
        if let (Some(expected), Some(at)) = (expected.get_mut(&(org, id)), at) {
            expected.first_response = Some(expected.first_response.map_or(at, |first| first.min(at)));
        }
    }
    (expected, kept)
}

/// The instant in `column` as microseconds since the Unix epoch, on either engine.
fn micros(db: &Db, column: &str) -> String {
    match db {
        Db::Sqlite(_) => column.to_owned(),
        Db::Postgres(_) => format!("CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"),
    }
}

fn leads_query(db: &Db) -> String {
    let follow_up = match db {
        Db::Sqlite(_) => "follow_up_date",
        Db::Postgres(_) => "(extract(epoch FROM follow_up_date) * 1000000)::bigint",
    };
    format!(
        "SELECT org_id, id, status, source, assigned_to, category_id, estimated_value, probability, {follow_up} AS follow_up,
                follow_up_day FROM opportunities"
    )
}

/// The totals as the statistics define them: follow-ups by the domain's day in the
/// organization's time zone, which the stats read with.
fn recount(leads: &[Lead], zones: &BTreeMap<Uuid, TimeZone>) -> Totals {
    let mut totals = Totals::default();
    for lead in leads {
        let zone = &zones[&lead.org_id];
        let day = lead.follow_up.map(|micros| zone.day_of(Timestamp::from_unix_micros(micros).expect("a stored instant")).number());
        if let Some(day) = day {
            totals.days.insert((lead.org_id, lead.id), day);
        }
        let (assignee, category) = (lead.assigned_to.unwrap_or_default(), lead.category_id.unwrap_or_default());
        let source = lead.source.clone().unwrap_or_default();
        let value = lead.estimated_value.unwrap_or(0);
        let sums = (1, value, value * i64::from(lead.probability));
        add(totals.pipeline.entry((lead.org_id, lead.status.clone(), source.clone(), assignee, category)).or_default(), sums);
        add(totals.pipeline_org.entry((lead.org_id, lead.status.clone(), source)).or_default(), sums);
        let closed = Status::parse(&lead.status).is_some_and(Status::is_closed);
        if let Some(day) = day.filter(|_| !closed) {
            *totals.follow_ups.entry((lead.org_id, day, assignee, category)).or_default() += 1;
            *totals.follow_ups_org.entry((lead.org_id, day)).or_default() += 1;
        }
    }
    totals
}

fn add(sums: &mut Sums, more: Sums) {
    *sums = (sums.0 + more.0, sums.1 + more.1, sums.2 + more.2);
}

/// Each lead's follow-up day as stored.
fn stored_days(leads: &[Lead]) -> BTreeMap<(Uuid, Uuid), i64> {
    leads.iter().filter_map(|lead| Some(((lead.org_id, lead.id), lead.follow_up_day?))).collect()
}

/// The totals tables as they are.
async fn stored(db: &Db) -> Totals {
    let pipeline = "SELECT org_id, status, source, assigned_to, category_id, count, value_cents, weighted FROM pipeline_totals";
    let follow_ups = "SELECT org_id, day, assigned_to, category_id, count FROM follow_up_totals";
    let pipeline_org = "SELECT org_id, status, source, count, value_cents, weighted FROM pipeline_org_totals";
    let follow_ups_org = "SELECT org_id, day, count FROM follow_up_org_totals";
    Totals {
        pipeline: non_empty(db.rows::<(Uuid, String, String, Uuid, Uuid, i64, i64, i64)>(pipeline).await, |(o, s, src, a, c, n, v, w)| {
            ((o, s, src, a, c), (n, v, w))
        }),
        follow_ups: non_empty(db.rows::<(Uuid, i64, Uuid, Uuid, i64)>(follow_ups).await, |(o, day, a, c, n)| ((o, day, a, c), n)),
        pipeline_org: non_empty(db.rows::<(Uuid, String, String, i64, i64, i64)>(pipeline_org).await, |(o, s, src, n, v, w)| {
            ((o, s, src), (n, v, w))
        }),
        follow_ups_org: non_empty(db.rows::<(Uuid, i64, i64)>(follow_ups_org).await, |(o, day, n)| ((o, day), n)),
        ..Totals::default()
    }
}

/// Rows as (key, totals), less those of groups that are now empty: the triggers keep those, at
/// zero, rather than delete them.
fn non_empty<R, K: Ord, V: Default + PartialEq>(rows: Vec<R>, split: impl Fn(R) -> (K, V)) -> BTreeMap<K, V> {
    rows.into_iter().map(split).filter(|(_, totals)| *totals != V::default()).collect()
}

/// One token of SQLite's word index: (row, column, position) and the word there.
type Words = BTreeMap<(i64, String, i64), String>;

/// What migration 0007 says the index holds for each lead: its organization's id as one token
/// in `org`, and the words of its searched fields, in order, in `words`, split and lowercased
/// the way searches are.
async fn expected_words(pool: &SqlitePool) -> Words {
    type Row = (i64, Uuid, String, Option<String>, Option<String>, Option<String>, Option<String>);
    let sql = "SELECT rowid, org_id, title, description, prospect_name, prospect_email, prospect_phone FROM opportunities";
    let rows: Vec<Row> = sqlx::query_as(sql).fetch_all(pool).await.expect("read the leads");
    let mut words = Words::new();
    for (row, org_id, title, description, name, email, phone) in rows {
        words.insert((row, "org".into(), 0), org_id.simple().to_string());
        let text = [Some(title), description, name, email, phone].into_iter().flatten().collect::<Vec<_>>().join("\n");
        for (position, word) in (0..).zip(search::words_of(&text)) {
            words.insert((row, "words".into(), position), word);
        }
    }
    words
}

/// A lead's words in PostgreSQL's `search_words`: (organization, lead) and the set of its words.
type LeadWords = BTreeMap<(Uuid, Uuid), BTreeSet<String>>;

/// What migration 0027 says `search_words` holds for each lead: each word of its searched
/// fields once, split and lowercased the way searches are, cut at 64 characters. A lead without
/// words has no entry.
async fn expected_search_words(db: &Db) -> LeadWords {
    type Row = (Uuid, Uuid, String, Option<String>, Option<String>, Option<String>, Option<String>);
    let sql = "SELECT org_id, id, title, description, prospect_name, prospect_email, prospect_phone FROM opportunities";
    let mut leads = LeadWords::new();
    for (org_id, id, title, description, name, email, phone) in db.rows::<Row>(sql).await {
        let text = [Some(title), description, name, email, phone].into_iter().flatten().collect::<Vec<_>>().join("\n");
        let words: BTreeSet<String> = search::words_of(&text).map(|word| word.chars().take(64).collect()).collect();
        if !words.is_empty() {
            leads.insert((org_id, id), words);
        }
    }
    leads
}

async fn stored_search_words(db: &Db) -> LeadWords {
    let mut leads = LeadWords::new();
    for (org_id, id, word) in db.rows::<(Uuid, Uuid, String)>("SELECT org_id, opportunity_id, word FROM search_words").await {
        leads.entry((org_id, id)).or_default().insert(word);
    }
    leads
}

/// What the index holds, read through an `fts5vocab` table over it.
async fn indexed_words(pool: &SqlitePool) -> Words {
    let vocabulary = "CREATE VIRTUAL TABLE IF NOT EXISTS temp.words_vocabulary USING fts5vocab(main, opportunity_words, instance)";
    sqlx::query(vocabulary).execute(pool).await.expect("a view of the word index");
    let sql = "SELECT doc, col, \"offset\", term FROM temp.words_vocabulary";
    let rows: Vec<(i64, String, i64, String)> = sqlx::query_as(sql).fetch_all(pool).await.expect("read the word index");
    rows.into_iter().map(|(row, column, position, term)| ((row, column, position), term)).collect()
}

fn compare<K: Ord + Debug, V: PartialEq + Debug>(table: &str, recounted: &BTreeMap<K, V>, stored: &BTreeMap<K, V>, out: &mut Vec<String>) {
    for key in recounted.keys().chain(stored.keys()).collect::<BTreeSet<_>>() {
        let (expected, actual) = (recounted.get(key), stored.get(key));
        if expected != actual {
            out.push(format!("{table} {key:?}: recount {expected:?}, stored {actual:?}"));
        }
    }
}
