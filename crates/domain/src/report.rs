//! Reports that tell a manager what to fix (issue 12): the funnel, response times per source and
//! lost reasons, over a window of the organization's days. The database counts and ranks; this
//! module holds what a report asks for, the shape of its answer and the arithmetic on top
//! (rates, seconds to days or minutes).
//!
//! Medians and percentiles are **nearest-rank**: the p-th percentile of n values sorted
//! ascending is the value at rank ⌈p·n/100⌉ (1-based), an actual value, so the median of an
//! even count is the lower middle one. Each database picks that rank in one aggregate over the
//! values: PostgreSQL from the sorted array ([`rank_sql`]), SQLite through a function the store
//! registers ([`nearest_rank`]), so they agree to the second.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::activity::ActivityType;
use crate::calendar::{Day, TimeZone};
use crate::opportunity::Status;
use crate::query::QueryParams;
use crate::{Error, FieldErrors, Money, Result, Timestamp};

/// The longest window a report may cover, in days: three years (a leap year included). Each
/// report reads every lead created in its window, so the bound caps the work one request asks.
pub const WINDOW_DAYS_MAX: i64 = 3 * 366;
/// The most lost reasons a report lists; the rest are counted in its `total`.
pub const LOST_REASONS_MAX: i64 = 100;

/// The stages of the funnel, in pipeline order: the ones a lead is worked in.
pub const FUNNEL_STAGES: [Status; 4] = [Status::Open, Status::Contacted, Status::Qualified, Status::Proposal];

/// What every report is asked for: the organization's days `from` to `to`, both included, and
/// the leads' filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    pub from: Day,
    pub to: Day,
    pub assigned_to: Option<Uuid>,
    pub category_id: Option<Uuid>,
    /// Lowercase, as sources are stored.
    pub source: Option<String>,
}

impl ReportQuery {
    /// `from` and `to` are required dates (`2026-03-01`), `from` ≤ `to`, at most
    /// [`WINDOW_DAYS_MAX`] days apart; every problem with them is one 422.
    pub fn parse(mut params: QueryParams) -> Result<Self> {
        let mut errors = FieldErrors::default();
        let mut day = |name: &str, params: &mut QueryParams| match params.one(name) {
            Ok(Some(text)) => Day::parse(&text).or_else(|| {
                errors.add(name, "must be a date written YYYY-MM-DD");
                None
            }),
            Ok(None) => {
                errors.add(name, "is required");
                None
            }
            Err(_) => {
                errors.add(name, "must be given once");
                None
            }
        };
        let from = day("from", &mut params);
        let to = day("to", &mut params);
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                errors.add("to", "must not be before `from`");
            } else if to.number() - from.number() + 1 > WINDOW_DAYS_MAX {
                errors.add("to", format!("must be at most {WINDOW_DAYS_MAX} days after `from`"));
            }
        }
        let assigned_to = params.uuid("assigned_to")?;
        let category_id = params.uuid("category_id")?;
        let source = params.one("source")?.map(|source| source.to_lowercase());
        params.finish()?;
        match (from, to) {
            (Some(from), Some(to)) if errors.is_empty() => Ok(ReportQuery { from, to, assigned_to, category_id, source }),
            _ => Err(Error::Validation(errors)),
        }
    }
}

/// What the store reads for a report: the leads created (for lost reasons: lost) from `start`
/// up to but not including `end`, with the query's filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportScope {
    pub start: Timestamp,
    pub end: Timestamp,
    pub assigned_to: Option<Uuid>,
    pub category_id: Option<Uuid>,
    pub source: Option<String>,
}

impl ReportScope {
    /// Whether the scope keeps fewer leads than all those created in its window.
    pub fn narrows_beyond_window(&self) -> bool {
        self.assigned_to.is_some() || self.category_id.is_some() || self.source.is_some()
    }
}

impl ReportQuery {
    /// The scope of the query's days in `zone`: from the first instant of `from` to the first of
    /// the day after `to`.
    pub fn scope(&self, zone: &TimeZone) -> Result<ReportScope> {
        let start = zone.start_of(self.from);
        let end = zone.start_of(Day::from_number(self.to.number() + 1));
        let (Some(start), Some(end)) = (start, end) else {
            let mut errors = FieldErrors::default();
            errors.add("from", "must be a date between the years 1 and 9999");
            return Err(Error::Validation(errors));
        };
        Ok(ReportScope { start, end, assigned_to: self.assigned_to, category_id: self.category_id, source: self.source.clone() })
    }
}

/// The rank of the `percent`-th percentile (1 to 100) of `n` values: ⌈percent·n/100⌉.
fn rank(percent: u8, n: usize) -> usize {
    (n * usize::from(percent)).div_ceil(100)
}

/// The SQL for [`rank`], in integer arithmetic, which PostgreSQL does alike.
pub fn rank_sql(percent: u8, n: &str) -> String {
    format!("(({n}) * {percent} + 99) / 100")
}

/// The `percent`-th percentile (1 to 100) of `values`, nearest-rank; `None` when there are none.
/// Reorders `values` (a selection, not a sort).
pub fn nearest_rank(values: &mut [i64], percent: u8) -> Option<i64> {
    let index = rank(percent.clamp(1, 100), values.len()).checked_sub(1)?;
    Some(*values.select_nth_unstable(index).1)
}

/// One stage of the funnel as the database counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageCounts {
    pub status: Status,
    /// Leads that entered the stage.
    pub entered: i64,
    /// Of those, the leads that later entered a later stage or were won.
    pub advanced: i64,
    /// The median of the completed stays in the stage, in seconds.
    pub median_seconds: Option<i64>,
}

/// What the database counts for the funnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelCounts {
    pub stages: Vec<StageCounts>,
    pub won: i64,
    pub lost: i64,
    pub median_seconds_to_close: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FunnelStage {
    pub status: Status,
    /// Leads created in the window that entered this stage.
    pub entered: i64,
    /// Of those, the leads that afterwards entered a later stage or were won.
    pub advanced: i64,
    /// `advanced / entered` in percent, one decimal; null when none entered.
    pub conversion_rate: Option<f64>,
    /// The median (nearest-rank) of the stays in this stage that have ended, in days (two
    /// decimals); null when none has ended.
    pub median_days_in_stage: Option<f64>,
}

/// `GET /reports/funnel`: the leads created in the window, through the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FunnelReport {
    pub from: String,
    pub to: String,
    /// `open`, `contacted`, `qualified`, `proposal`, in that order.
    pub stages: Vec<FunnelStage>,
    /// Leads created in the window that are won now.
    pub won: i64,
    pub lost: i64,
    /// `won / (won + lost)` in percent, one decimal; null when none is closed.
    pub win_rate: Option<f64>,
    /// The median (nearest-rank) of the days from creation to close of the won and lost ones.
    pub median_days_to_close: Option<f64>,
}

impl FunnelReport {
    pub fn new(query: &ReportQuery, counts: FunnelCounts) -> Self {
        let stages = FUNNEL_STAGES
            .iter()
            .map(|&status| {
                let found = counts.stages.iter().find(|stage| stage.status == status);
                let (entered, advanced, median) = found.map_or((0, 0, None), |s| (s.entered, s.advanced, s.median_seconds));
                FunnelStage {
                    status,
                    entered,
                    advanced,
                    conversion_rate: percent(advanced, entered),
                    median_days_in_stage: median.map(days),
                }
            })
            .collect();
        FunnelReport {
            from: date_text(query.from),
            to: date_text(query.to),
            stages,
            won: counts.won,
            lost: counts.lost,
            win_rate: percent(counts.won, counts.won + counts.lost),
            median_days_to_close: counts.median_seconds_to_close.map(days),
        }
    }
}

/// One source's response times as the database counts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceResponseCounts {
    pub source: Option<String>,
    pub created: i64,
    pub answered: i64,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SourceResponseTimes {
    /// Null for the leads with no source.
    pub source: Option<String>,
    /// Leads created in the window.
    pub created: i64,
    /// Of those, the ones with a call, e-mail or meeting activity or a move out of `open`.
    pub answered: i64,
    /// The median (nearest-rank) of the minutes from creation to the first answer, one decimal.
    pub median_minutes: Option<f64>,
    /// The 90th percentile (nearest-rank) of the same.
    pub p90_minutes: Option<f64>,
}

impl From<SourceResponseCounts> for SourceResponseTimes {
    fn from(counts: SourceResponseCounts) -> Self {
        SourceResponseTimes {
            source: counts.source,
            created: counts.created,
            answered: counts.answered,
            median_minutes: counts.median_seconds.map(minutes),
            p90_minutes: counts.p90_seconds.map(minutes),
        }
    }
}

/// `GET /reports/response-times`: how fast new leads are answered, per source, the sources with
/// the most leads first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ResponseTimesReport {
    pub from: String,
    pub to: String,
    pub sources: Vec<SourceResponseTimes>,
}

impl ResponseTimesReport {
    pub fn new(query: &ReportQuery, sources: Vec<SourceResponseCounts>) -> Self {
        ResponseTimesReport { from: date_text(query.from), to: date_text(query.to), sources: sources.into_iter().map(Into::into).collect() }
    }
}

/// Lost leads that share a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LostReason {
    /// The reason trimmed, as first written in code-point order among the spellings that
    /// differ only in case; null for leads lost without a reason.
    pub reason: Option<String>,
    pub count: i64,
    /// The sum of their estimated values.
    #[schema(schema_with = crate::money::total_schema)]
    pub estimated_value: Money,
}

/// `GET /reports/lost-reasons`: the leads lost (closed as lost) in the window, by reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LostReasonsReport {
    pub from: String,
    pub to: String,
    /// The most frequent first, at most 100.
    pub reasons: Vec<LostReason>,
    /// Every lost lead of the window, listed or not.
    pub total: LostTotal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LostTotal {
    pub count: i64,
    #[schema(schema_with = crate::money::total_schema)]
    pub estimated_value: Money,
}

impl LostReasonsReport {
    pub fn new(query: &ReportQuery, reasons: Vec<LostReason>, total: LostTotal) -> Self {
        LostReasonsReport { from: date_text(query.from), to: date_text(query.to), reasons, total }
    }
}

// ---- what every lead keeps for the reports ---------------------------------------------------
//
// The funnel and the response times read, per lead of the window, a few facts that every write
// keeps up to date (docs/decisions.md, "Reports at a million leads"): the stages the lead has
// reached and those it advanced from, as bits, and when it was first answered. A report is then
// one pass over the window's leads, with no look-up into their history or activities.

/// A stage's place in the pipeline, for "went on to a later stage": won comes after every stage
/// a lead is worked in; lost and stale are not progress.
fn stage_rank(status: Status) -> Option<u32> {
    match status {
        Status::Open => Some(0),
        Status::Contacted => Some(1),
        Status::Qualified => Some(2),
        Status::Proposal => Some(3),
        Status::Won => Some(4),
        Status::Lost | Status::Stale => None,
    }
}

/// The bit of `status` in a lead's `stages_reached` and `stages_advanced`; 0 for lost and stale.
pub fn stage_bit(status: Status) -> i64 {
    stage_rank(status).map_or(0, |rank| 1 << rank)
}

/// The bits of the stages before `status`: entering it advances the lead from each of them it
/// has reached. None for lost and stale.
pub fn stages_before(status: Status) -> i64 {
    stage_rank(status).map_or(0, |rank| (1 << rank) - 1)
}

/// Whether entering `status` answers a lead: any move out of `open` does.
pub fn move_answers(status: Status) -> bool {
    status != Status::Open
}

/// Whether logging an activity of this type answers a lead: a call, an e-mail or a meeting.
pub fn activity_answers(activity_type: ActivityType) -> bool {
    matches!(activity_type, ActivityType::Call | ActivityType::Email | ActivityType::Meeting)
}

/// SQL: the [`stage_bit`] of the status held in `column`, NULL for lost and stale.
pub fn stage_bit_sql(column: &str) -> String {
    let cases: String = Status::ALL
        .iter()
        .filter(|&&status| stage_bit(status) != 0)
        .map(|&status| format!(" WHEN '{}' THEN {}", status.as_str(), stage_bit(status)))
        .collect();
    format!("CASE {column}{cases} END")
}

/// SQL: the activity types that answer a lead, as a list for `IN`.
pub fn answering_activities_sql() -> String {
    let types: Vec<String> = ActivityType::ALL.iter().filter(|&&t| activity_answers(t)).map(|t| format!("'{}'", t.as_str())).collect();
    format!("({})", types.join(", "))
}

/// `part / whole` in percent, rounded to one decimal.
fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

fn days(seconds: i64) -> f64 {
    (seconds as f64 / 864.0).round() / 100.0
}

fn minutes(seconds: i64) -> f64 {
    (seconds as f64 / 6.0).round() / 10.0
}

fn date_text(day: Day) -> String {
    day.date().map_or_else(String::new, |date| date.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Result<ReportQuery> {
        ReportQuery::parse(QueryParams::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())?)
    }

    #[test]
    fn a_window_is_two_ordered_dates_at_most_three_years_apart() {
        let ok = query(&[("from", "2026-01-01"), ("to", "2026-01-31"), ("source", "Website")]).unwrap();
        assert_eq!((ok.to.number() - ok.from.number(), ok.source.as_deref()), (30, Some("website")));
        assert!(query(&[("from", "2023-01-01"), ("to", "2025-12-31")]).is_ok());
        for bad in [
            vec![("from", "2026-02-01"), ("to", "2026-01-31")],
            vec![("from", "2020-01-01"), ("to", "2026-01-31")],
            vec![("from", "2026-13-01"), ("to", "2026-01-31")],
            vec![("to", "2026-01-31")],
        ] {
            assert!(matches!(query(&bad), Err(Error::Validation(_))), "{bad:?}");
        }
    }

    #[test]
    fn rates_and_durations_round_for_reading() {
        assert_eq!((percent(1, 3), percent(0, 0)), (Some(33.3), None));
        assert_eq!((days(86_400 * 3 / 2), minutes(90)), (1.5, 1.5));
    }

    #[test]
    fn the_nearest_rank_is_the_ceiling() {
        // n = 1..4 → median ranks 1, 1, 2, 2; p90 of 10 is rank 9, of 11 rank 10.
        assert_eq!([1, 2, 3, 4].map(|n| rank(50, n)), [1, 1, 2, 2]);
        assert_eq!((rank(90, 10), rank(90, 11), rank(90, 70)), (9, 10, 63));
        assert_eq!(rank_sql(90, "n"), "((n) * 90 + 99) / 100");
        assert_eq!(nearest_rank(&mut [40, 10, 30, 20], 50), Some(20));
        assert_eq!(nearest_rank(&mut [5, 1, 9, 7, 3, 2, 8, 6, 4, 10], 90), Some(9));
        assert_eq!(nearest_rank(&mut [], 50), None);
    }

    #[test]
    fn each_stage_of_progress_has_its_own_bit_and_lost_or_stale_none() {
        let bits: Vec<i64> = Status::ALL.iter().map(|&s| stage_bit(s)).filter(|&bit| bit != 0).collect();
        assert_eq!(bits, [1, 2, 4, 8, 16]);
        assert_eq!((stages_before(Status::Won), stages_before(Status::Open), stages_before(Status::Lost)), (15, 0, 0));
        assert_eq!(
            stage_bit_sql("s"),
            "CASE s WHEN 'open' THEN 1 WHEN 'contacted' THEN 2 WHEN 'qualified' THEN 4 WHEN 'proposal' THEN 8 WHEN 'won' THEN 16 END"
        );
        assert_eq!(answering_activities_sql(), "('call', 'email', 'meeting')");
    }
}
