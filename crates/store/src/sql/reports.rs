//! The reports (issue 12), each computed in the database in a few statements: the leads of the
//! window are found through `opportunities_by_created` (lost ones through
//! `opportunities_by_status`) and read with the facts every write keeps on them
//! ([`super::report_facts`]); the funnel's stays come from the window's leads' history entries
//! through the per-lead index. Medians and percentiles are ranked with `ROW_NUMBER()` (nearest
//! rank, see [`domain::report`]), so nothing but the answer's few rows leaves the database.

use domain::report::{
    FUNNEL_STAGES, FunnelCounts, LostReason, LostTotal, ReportScope, SourceResponseCounts, StageCounts, rank_sql, stage_bit,
};
use domain::{Money, Result};
use uuid::Uuid;

use super::{Dialect, RowReader, Run, Statement};

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
    let (median, n) = (rank_sql(50, "n"), "n");

    // Entered and advanced: one pass over the window's leads, reading the stages each reached
    // and advanced from (docs/decisions.md, "Reports at a million leads").
    let mut statement = Statement::new("");
    let leads = scope_condition(&mut statement, org_id, scope, "created_at");
    let counts: Vec<String> = FUNNEL_STAGES
        .iter()
        .map(|&status| {
            let (name, bit) = (status.as_str(), stage_bit(status));
            format!(
                "COUNT(*) FILTER (WHERE (o.stages_reached & {bit}) <> 0) AS {name}_entered,
                 COUNT(*) FILTER (WHERE (o.stages_advanced & {bit}) <> 0) AS {name}_advanced"
            )
        })
        .collect();
    let to_close = seconds("o.created_at", "o.closed_at");
    statement.push(&format!(
        "SELECT {}, COUNT(*) FILTER (WHERE o.status = 'won') AS won, COUNT(*) FILTER (WHERE o.status = 'lost') AS lost
         FROM opportunities o WHERE {leads}",
        counts.join(", ")
    ));
    let reached = run.fetch_one(statement).await?;

    // The medians of the stays that ended, per stage: only the window's leads' entries are read
    // (an `IN` list, not a join: joined, SQLite walked the organization's whole history).
    let mut statement = Statement::new("");
    let leads = scope_condition(&mut statement, org_id, scope, "created_at");
    let org = statement.param(org_id);
    let stay = seconds("h.entered_at", "h.left_at");
    let stages: Vec<String> = FUNNEL_STAGES.iter().map(|status| format!("'{}'", status.as_str())).collect();
    statement.push(&format!(
        "SELECT status, MIN(CASE WHEN rn = {median} THEN seconds END) AS median_seconds
         FROM (SELECT h.status, {stay} AS seconds, ROW_NUMBER() OVER (PARTITION BY h.status ORDER BY {stay}) AS rn,
                      COUNT(*) OVER (PARTITION BY h.status) AS {n}
               FROM stage_history h
               WHERE h.org_id = {org} AND h.opportunity_id IN (SELECT o.id FROM opportunities o WHERE {leads})
                 AND h.status IN ({}) AND h.left_at IS NOT NULL) stays
         GROUP BY status",
        stages.join(", ")
    ));
    let medians = run.fetch_all(statement).await?;
    let mut stages = Vec::with_capacity(FUNNEL_STAGES.len());
    for status in FUNNEL_STAGES {
        let name = status.as_str();
        let median = medians.iter().find(|row| row.text("status").is_ok_and(|text| text == name));
        stages.push(StageCounts {
            status,
            entered: reached.int(&format!("{name}_entered"))?,
            advanced: reached.int(&format!("{name}_advanced"))?,
            median_seconds: median.map(|row| row.opt_int("median_seconds")).transpose()?.flatten(),
        });
    }

    let mut statement = Statement::new("");
    let leads = scope_condition(&mut statement, org_id, scope, "created_at");
    statement.push(&format!(
        "SELECT MIN(CASE WHEN rn = {median} THEN seconds END) AS median_seconds
         FROM (SELECT {to_close} AS seconds, ROW_NUMBER() OVER (ORDER BY {to_close}) AS rn, COUNT(*) OVER () AS {n}
               FROM opportunities o WHERE {leads} AND o.status IN ('won', 'lost')) closed"
    ));
    let closed = run.fetch_one(statement).await?;
    Ok(FunnelCounts {
        stages,
        won: reached.int("won")?,
        lost: reached.int("lost")?,
        median_seconds_to_close: closed.opt_int("median_seconds")?,
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
    let waited = (dialect.seconds_between)("o.created_at", "o.first_response_at");
    let (median, p90, binary_order) = (rank_sql(50, "n"), rank_sql(90, "n"), dialect.binary_order);
    // A lead's first answer is kept on the lead (`first_response_at`). `waits` stays
    // MATERIALIZED so that PostgreSQL computes each wait once rather than in every use of
    // `seconds` (docs/decisions.md, "Reports performance"). Unanswered leads rank after the
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
