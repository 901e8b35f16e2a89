//! The reports (issue 12), each computed in the database in a few statements: the leads of the
//! window are found through `opportunities_by_created` (lost ones through
//! `opportunities_by_status`) and read with the facts every write keeps on them
//! ([`super::report_facts`]); the funnel's stays are one range of `stage_history_by_lead_created`.
//! Medians and percentiles are each database's nearest-rank aggregate ([`Dialect::percentile`]),
//! so nothing but the answer's few rows leaves the database.

use domain::report::{FUNNEL_STAGES, FunnelCounts, LostReason, LostTotal, ReportScope, SourceResponseCounts, StageCounts, stage_bit};
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
    let (seconds, percentile) = (dialect.seconds_between, dialect.percentile);

    // Entered, advanced and closed: one pass over the window's leads, reading the stages each
    // reached and advanced from (docs/decisions.md, "Reports at a million leads").
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
        "SELECT {}, COUNT(*) FILTER (WHERE o.status = 'won') AS won, COUNT(*) FILTER (WHERE o.status = 'lost') AS lost,
                {} AS median_seconds_to_close
         FROM (SELECT o.stages_reached, o.stages_advanced, o.status,
                      CASE WHEN o.status IN ('won', 'lost') THEN {to_close} END AS to_close
               FROM opportunities o WHERE {leads}) o",
        counts.join(", "),
        percentile(50, "o.to_close"),
    ));
    let reached = run.fetch_one(statement).await?;

    // The medians of the stays that ended, per stage: the entries of the leads created in the
    // window, by the lead's creation each keeps; a scope narrower than the window also names
    // its leads.
    let mut statement = Statement::new("");
    let (org, start, end) = (statement.param(org_id), statement.param(scope.start), statement.param(scope.end));
    let narrowed = if scope.narrows_beyond_window() {
        format!(
            " AND h.opportunity_id IN (SELECT o.id FROM opportunities o WHERE {})",
            scope_condition(&mut statement, org_id, scope, "created_at")
        )
    } else {
        String::new()
    };
    let stay = seconds("h.entered_at", "h.left_at");
    let stages: Vec<String> = FUNNEL_STAGES.iter().map(|status| format!("'{}'", status.as_str())).collect();
    statement.push(&format!(
        "SELECT stays.status, {} AS median_seconds
         FROM (SELECT h.status, {stay} AS seconds FROM stage_history h
               WHERE h.org_id = {org} AND h.lead_created_at >= {start} AND h.lead_created_at < {end}
                 AND h.status IN ({}) AND h.left_at IS NOT NULL{narrowed}) stays
         GROUP BY stays.status",
        percentile(50, "stays.seconds"),
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
    Ok(FunnelCounts {
        stages,
        won: reached.int("won")?,
        lost: reached.int("lost")?,
        median_seconds_to_close: reached.opt_int("median_seconds_to_close")?,
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
    let (percentile, binary_order) = (dialect.percentile, dialect.binary_order);
    // A lead's first answer is kept on the lead (`first_response_at`); an unanswered lead's
    // wait is NULL, which the percentiles leave out.
    statement.push(&format!(
        "SELECT waits.source, COUNT(*) AS created, COUNT(waits.seconds) AS answered,
                {} AS median_seconds, {} AS p90_seconds
         FROM (SELECT o.source, {waited} AS seconds FROM opportunities o WHERE {leads}) waits
         GROUP BY waits.source
         ORDER BY created DESC, waits.source IS NULL, waits.source{binary_order}",
        percentile(50, "waits.seconds"),
        percentile(90, "waits.seconds"),
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
