//! The reports (issue 12), each computed in the database in one or two statements: the leads of
//! the window are found through `opportunities_by_created` (lost ones through
//! `opportunities_by_status`), their history and first answers through the per-lead indexes, and
//! medians and percentiles ranked with `ROW_NUMBER()` (nearest rank, see [`domain::report`]),
//! so nothing but the answer's few rows leaves the database.

use domain::opportunity::Status;
use domain::report::{FunnelCounts, LostReason, LostTotal, ReportScope, SourceResponseCounts, StageCounts, rank_sql};
use domain::{Money, Result};
use uuid::Uuid;

use super::rows::corrupt;
use super::{Dialect, RowReader, Run, Statement};

/// A stage's place in the pipeline, for "went on to a later stage": won comes after every
/// stage a lead is worked in; lost and stale are not progress.
const STAGE_RANK: &str = "CASE h.status WHEN 'open' THEN 1 WHEN 'contacted' THEN 2 WHEN 'qualified' THEN 3 \
                          WHEN 'proposal' THEN 4 WHEN 'won' THEN 5 END";

/// The leads of the scope, as a condition on `o`, its values bound to `statement`. `at` is the
/// column the window applies to.
fn scope_condition(statement: &mut Statement, org_id: Uuid, scope: &ReportScope, at: &str) -> String {
    let (org, start, end) = (statement.param(org_id), statement.param(scope.start), statement.param(scope.end));
    let mut condition = format!("o.org_id = {org} AND o.{at} >= {start} AND o.{at} < {end}");
    for (column, value) in [("assigned_to", scope.assigned_to), ("category_id", scope.category_id)] {
        if let Some(value) = value {
            condition.push_str(&format!(" AND o.{column} = {}", statement.param(value)));
        }
    }
    if let Some(source) = &scope.source {
        condition.push_str(&format!(" AND o.source = {}", statement.param(source.as_str())));
    }
    condition
}

pub(super) async fn funnel<R: Run>(run: &mut R, dialect: &Dialect, org_id: Uuid, scope: &ReportScope) -> Result<FunnelCounts> {
    let seconds = dialect.seconds_between;
    let mut statement = Statement::new("");
    let leads = scope_condition(&mut statement, org_id, scope, "created_at");
    let org = statement.param(org_id);
    let stay = seconds("e.entered_at", "e.left_at");
    let (median, n) = (rank_sql(50, "n"), "n");
    // Each history entry with the time its stage was left and the furthest stage reached after
    // it; a lead "advanced" from a stage when any of its entries there was followed by a later
    // stage. Stays still going on (no next entry) have no length and are not ranked.
    // The window's leads are an `IN` list rather than a join: joined, SQLite walked the whole
    // organization's history in index order (it suits the window functions' partitions) and
    // looked each entry's lead up, 3x slower at 100K leads than reading only the window's leads'
    // entries (docs/decisions.md, "Reports performance"). `medians` is MATERIALIZED because
    // PostgreSQL's generic plan (from a statement's sixth run on a connection) guesses one
    // entry, joins `medians` by nested loop and ranked the stays again for every lead: >10 s.
    statement.push(&format!(
        "WITH entries AS (
             SELECT h.opportunity_id, h.status, h.entered_at, {STAGE_RANK} AS stage_rank,
                    LEAD(h.entered_at) OVER (PARTITION BY h.opportunity_id ORDER BY h.entered_at, h.id) AS left_at,
                    MAX({STAGE_RANK}) OVER (PARTITION BY h.opportunity_id ORDER BY h.entered_at, h.id
                                            ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS later_rank
             FROM stage_history h
             WHERE h.org_id = {org} AND h.opportunity_id IN (SELECT o.id FROM opportunities o WHERE {leads})
         ),
         per_lead AS (
             SELECT status, MAX(CASE WHEN later_rank > stage_rank THEN 1 ELSE 0 END) AS advanced
             FROM entries WHERE stage_rank <= 4 GROUP BY opportunity_id, status
         ),
         stays AS (
             SELECT status, seconds, ROW_NUMBER() OVER (PARTITION BY status ORDER BY seconds) AS rn,
                    COUNT(*) OVER (PARTITION BY status) AS {n}
             FROM (SELECT e.status, {stay} AS seconds FROM entries e WHERE e.stage_rank <= 4 AND e.left_at IS NOT NULL) s
         ),
         medians AS MATERIALIZED (SELECT status, MIN(seconds) AS seconds FROM stays WHERE rn = {median} GROUP BY status)
         SELECT p.status, COUNT(*) AS entered, CAST(SUM(p.advanced) AS BIGINT) AS advanced, MIN(m.seconds) AS median_seconds
         FROM per_lead p LEFT JOIN medians m ON m.status = p.status
         GROUP BY p.status"
    ));
    let stages = run.fetch_all(statement).await?.iter().map(|row| stage_counts(row)).collect::<Result<Vec<_>>>()?;

    let mut statement = Statement::new("");
    let leads = scope_condition(&mut statement, org_id, scope, "created_at");
    let to_close = seconds("o.created_at", "o.closed_at");
    statement.push(&format!(
        "SELECT COUNT(*) FILTER (WHERE status = 'won') AS won, COUNT(*) FILTER (WHERE status = 'lost') AS lost,
                MIN(CASE WHEN rn = {median} THEN seconds END) AS median_seconds
         FROM (SELECT o.status, {to_close} AS seconds, ROW_NUMBER() OVER (ORDER BY {to_close}) AS rn, COUNT(*) OVER () AS {n}
               FROM opportunities o WHERE {leads} AND o.status IN ('won', 'lost')) closed"
    ));
    let closed = run.fetch_one(statement).await?;
    Ok(FunnelCounts {
        stages,
        won: closed.int("won")?,
        lost: closed.int("lost")?,
        median_seconds_to_close: closed.opt_int("median_seconds")?,
    })
}

fn stage_counts(row: &dyn RowReader) -> Result<StageCounts> {
    Ok(StageCounts {
        status: Status::parse(&row.text("status")?).ok_or_else(|| corrupt("status"))?,
        entered: row.int("entered")?,
        advanced: row.int("advanced")?,
        median_seconds: row.opt_int("median_seconds")?,
    })
}

pub(super) async fn response_times<R: Run>(
    run: &mut R,
    dialect: &Dialect,
    org_id: Uuid,
    scope: &ReportScope,
) -> Result<Vec<SourceResponseCounts>> {
    let mut statement = Statement::new("");
    let leads = scope_condition(&mut statement, org_id, scope, "created_at");
    let answered_at = "(SELECT MIN(f.at) FROM (
                 SELECT MIN(a.created_at) AS at FROM activities a WHERE a.org_id = o.org_id AND a.opportunity_id = o.id
                     AND a.activity_type IN ('call', 'email', 'meeting')
                 UNION ALL
                 SELECT MIN(h.entered_at) FROM stage_history h WHERE h.org_id = o.org_id AND h.opportunity_id = o.id
                     AND h.status <> 'open'
             ) f)";
    let waited = (dialect.seconds_between)("o.created_at", answered_at);
    let (median, p90, binary_order) = (rank_sql(50, "n"), rank_sql(90, "n"), dialect.binary_order);
    // A lead's first answer: the earlier of its first call, e-mail or meeting and its first
    // move out of `open`, each one indexed look-up (`MIN` over both skips the one missing).
    // `waits` is MATERIALIZED because PostgreSQL otherwise inlines it and copies the look-ups
    // into every use of `seconds` (21 sub-plans; 3 s at 100K leads, most of it JIT-compiling
    // them) — see docs/decisions.md, "Reports performance". Unanswered leads rank after the
    // answered ones of their source (their own partition), and `n` counts only the answered.
    statement.push(&format!(
        "WITH waits AS MATERIALIZED (
             SELECT o.source, {waited} AS seconds FROM opportunities o WHERE {leads}
         )
         SELECT source, COUNT(*) AS created, COUNT(seconds) AS answered,
                MIN(CASE WHEN seconds IS NOT NULL AND rn = {median} THEN seconds END) AS median_seconds,
                MIN(CASE WHEN seconds IS NOT NULL AND rn = {p90} THEN seconds END) AS p90_seconds
         FROM (
             SELECT source, seconds, COUNT(seconds) OVER (PARTITION BY source) AS n,
                    ROW_NUMBER() OVER (PARTITION BY source, seconds IS NULL ORDER BY seconds) AS rn
             FROM waits
         ) ranked
         GROUP BY source
         ORDER BY created DESC, source IS NULL, source{binary_order}"
    ));
    let rows = run.fetch_all(statement).await?;
    rows.iter()
        .map(|row| {
            Ok(SourceResponseCounts {
                source: row.opt_text("source")?,
                created: row.int("created")?,
                answered: row.int("answered")?,
                median_seconds: row.opt_int("median_seconds")?,
                p90_seconds: row.opt_int("p90_seconds")?,
            })
        })
        .collect()
}

pub(super) async fn lost_reasons<R: Run>(
    run: &mut R,
    dialect: &Dialect,
    org_id: Uuid,
    scope: &ReportScope,
    limit: i64,
) -> Result<(Vec<LostReason>, LostTotal)> {
    let mut statement = Statement::new("");
    let leads = scope_condition(&mut statement, org_id, scope, "closed_at");
    let (limit, binary_order) = (statement.param(limit), dialect.binary_order);
    // Grouped by the reason trimmed and lowercased (blank counts as none); the totals over every
    // group ride along on each row, so one statement answers both.
    statement.push(&format!(
        "SELECT * FROM (
             SELECT MIN(TRIM(o.closed_reason){binary_order}) AS reason, COUNT(*) AS count,
                    CAST(COALESCE(SUM(o.estimated_value), 0) AS BIGINT) AS value_cents,
                    CAST(SUM(COUNT(*)) OVER () AS BIGINT) AS total_count,
                    CAST(SUM(COALESCE(SUM(o.estimated_value), 0)) OVER () AS BIGINT) AS total_cents
             FROM opportunities o WHERE {leads} AND o.status = 'lost'
             GROUP BY NULLIF(LOWER(TRIM(o.closed_reason)), '')
         ) reasons
         ORDER BY count DESC, reason IS NULL, reason{binary_order}
         LIMIT {limit}"
    ));
    let rows = run.fetch_all(statement).await?;
    let total = match rows.first() {
        Some(row) => LostTotal { count: row.int("total_count")?, estimated_value: Money::from_cents(row.int("total_cents")?) },
        None => LostTotal { count: 0, estimated_value: Money::from_cents(0) },
    };
    let reasons = rows
        .iter()
        .map(|row| {
            Ok(LostReason {
                reason: row.opt_text("reason")?.filter(|reason| !reason.is_empty()),
                count: row.int("count")?,
                estimated_value: Money::from_cents(row.int("value_cents")?),
            })
        })
        .collect::<Result<_>>()?;
    Ok((reasons, total))
}
