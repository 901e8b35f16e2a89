//! Pipeline statistics: the seed's counts and values, plus win rates overall and per source.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::Money;
use crate::opportunity::Status;

/// Totals over the opportunities that share one status and one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSourceTotals {
    pub status: Status,
    pub source: Option<String>,
    pub count: i64,
    pub value_cents: i64,
    /// Σ value in cents × probability in percent, exact.
    pub weighted_cent_percents: i64,
}

/// What the store counts, and all that the statistics are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineTotals {
    pub by_status_and_source: Vec<StatusSourceTotals>,
    /// Leads not won or lost with a follow-up due by the end of today in the organization's
    /// time zone.
    pub follow_ups_due: i64,
}

/// One stage's totals, over every source or over one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageTotals {
    pub status: Status,
    pub count: i64,
    pub value: Money,
    /// Σ estimated_value × probability / 100, rounded to the cent.
    pub weighted_value: Money,
}

impl PipelineTotals {
    /// Each stage's totals in pipeline order, zeros included; only the leads of `source`
    /// (lowercase, as stored) when one is given.
    pub fn per_stage(&self, source: Option<&str>) -> Vec<StageTotals> {
        Status::ALL
            .iter()
            .map(|&status| {
                let rows = self
                    .by_status_and_source
                    .iter()
                    .filter(|row| row.status == status && source.is_none_or(|source| row.source.as_deref() == Some(source)));
                let (count, cents, weighted) = rows.fold((0, 0i128, 0i128), |(count, cents, weighted), row| {
                    (count + row.count, cents + i128::from(row.value_cents), weighted + i128::from(row.weighted_cent_percents))
                });
                StageTotals {
                    status,
                    count,
                    value: Money::from_cents(i64::try_from(cents).unwrap_or(i64::MAX)),
                    weighted_value: Money::from_weighted_sum(weighted),
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineStats {
    /// Every status, zeros included.
    pub counts: StatusCounts,
    pub total: i64,
    /// Σ estimated_value over open, contacted, qualified and proposal.
    #[schema(schema_with = crate::money::total_schema)]
    pub total_value: Money,
    /// Σ estimated_value × probability / 100 over the same stages, rounded to the cent.
    #[schema(schema_with = crate::money::total_schema)]
    pub weighted_value: Money,
    /// Opportunities not won or lost whose follow_up_date is by the end of today in the
    /// organization's time zone (pipeline settings).
    pub needs_follow_up: i64,
    /// won / (won + lost); null while nothing is closed.
    pub win_rate: Option<f64>,
    /// Conversion per lead source, most leads first.
    pub by_source: Vec<SourceStats>,
}

/// How many opportunities are in each stage, in pipeline order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusCounts {
    pub open: i64,
    pub contacted: i64,
    pub qualified: i64,
    pub proposal: i64,
    pub won: i64,
    pub lost: i64,
    pub stale: i64,
}

impl StatusCounts {
    fn total(&self) -> i64 {
        self.open + self.contacted + self.qualified + self.proposal + self.won + self.lost + self.stale
    }

    fn get_mut(&mut self, status: Status) -> &mut i64 {
        match status {
            Status::Open => &mut self.open,
            Status::Contacted => &mut self.contacted,
            Status::Qualified => &mut self.qualified,
            Status::Proposal => &mut self.proposal,
            Status::Won => &mut self.won,
            Status::Lost => &mut self.lost,
            Status::Stale => &mut self.stale,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceStats {
    /// null for opportunities with no source.
    pub source: Option<String>,
    pub total: i64,
    pub won: i64,
    pub lost: i64,
    pub win_rate: Option<f64>,
    /// Σ estimated_value of the won ones.
    #[schema(schema_with = crate::money::total_schema)]
    pub won_value: Money,
}

impl PipelineStats {
    pub fn from_totals(totals: &PipelineTotals) -> Self {
        let rows = &totals.by_status_and_source;
        let mut counts = StatusCounts::default();
        let mut sources: BTreeMap<Option<&str>, SourceTally> = BTreeMap::new();
        let (mut total_value, mut weighted) = (0i128, 0i128);
        for row in rows {
            *counts.get_mut(row.status) += row.count;
            if row.status.is_in_pipeline() {
                total_value += i128::from(row.value_cents);
                weighted += i128::from(row.weighted_cent_percents);
            }
            sources.entry(row.source.as_deref()).or_default().add(row);
        }
        let mut by_source: Vec<SourceStats> = sources.into_iter().map(|(source, tally)| tally.stats(source)).collect();
        by_source.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.source.cmp(&b.source)));
        PipelineStats {
            total: counts.total(),
            win_rate: win_rate(counts.won, counts.lost),
            counts,
            total_value: Money::from_cents(i64::try_from(total_value).unwrap_or(i64::MAX)),
            weighted_value: Money::from_weighted_sum(weighted),
            needs_follow_up: totals.follow_ups_due,
            by_source,
        }
    }
}

#[derive(Default)]
struct SourceTally {
    total: i64,
    won: i64,
    lost: i64,
    won_cents: i64,
}

impl SourceTally {
    fn add(&mut self, row: &StatusSourceTotals) {
        self.total += row.count;
        match row.status {
            Status::Won => {
                self.won += row.count;
                self.won_cents += row.value_cents;
            }
            Status::Lost => self.lost += row.count,
            _ => {}
        }
    }

    fn stats(self, source: Option<&str>) -> SourceStats {
        SourceStats {
            source: source.map(str::to_owned),
            total: self.total,
            won: self.won,
            lost: self.lost,
            win_rate: win_rate(self.won, self.lost),
            won_value: Money::from_cents(self.won_cents),
        }
    }
}

fn win_rate(won: i64, lost: i64) -> Option<f64> {
    let closed = won + lost;
    (closed > 0).then(|| won as f64 / closed as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: Status, source: Option<&str>, count: i64, value: i64, weighted: i64) -> StatusSourceTotals {
        StatusSourceTotals { status, source: source.map(str::to_owned), count, value_cents: value, weighted_cent_percents: weighted }
    }

    #[test]
    fn counts_values_and_rates_follow_the_seed() {
        let stats = PipelineStats::from_totals(&PipelineTotals {
            by_status_and_source: vec![
                row(Status::Open, Some("website"), 2, 100_000, 100_000 * 50),
                row(Status::Proposal, Some("referral"), 1, 50_000, 50_000 * 80),
                row(Status::Won, Some("website"), 3, 90_000, 90_000 * 100),
                row(Status::Lost, None, 1, 10_000, 0),
                row(Status::Stale, Some("website"), 1, 7_000, 7_000 * 10),
            ],
            follow_ups_due: 2,
        });
        assert_eq!((stats.counts.open, stats.counts.contacted), (2, 0));
        assert_eq!(stats.total, 8);
        assert_eq!(stats.total_value, Money::from_cents(150_000));
        assert_eq!(stats.weighted_value, Money::from_cents(50_000 + 40_000));
        assert_eq!(stats.needs_follow_up, 2);
        assert_eq!(stats.win_rate, Some(0.75));
        let website = &stats.by_source[0];
        assert_eq!((website.source.as_deref(), website.total, website.won, website.lost), (Some("website"), 6, 3, 0));
        assert_eq!((website.win_rate, website.won_value), (Some(1.0), Money::from_cents(90_000)));
    }

    #[test]
    fn stage_totals_add_up_every_source_or_one() {
        let totals = PipelineTotals {
            by_status_and_source: vec![
                row(Status::Open, Some("website"), 2, 100_000, 100_000 * 50),
                row(Status::Open, None, 1, 1_001, 1_001 * 50),
                row(Status::Won, Some("website"), 3, 90_000, 90_000 * 100),
            ],
            follow_ups_due: 0,
        };
        let all = totals.per_stage(None);
        assert_eq!(all.iter().map(|stage| stage.status).collect::<Vec<_>>(), Status::ALL);
        assert_eq!((all[0].count, all[0].value, all[0].weighted_value), (3, Money::from_cents(101_001), Money::from_cents(50_501)));
        assert_eq!((all[1].count, all[1].value), (0, Money::from_cents(0)));
        let website = totals.per_stage(Some("website"));
        assert_eq!((website[0].count, website[0].value), (2, Money::from_cents(100_000)));
        assert_eq!(website[4].count, 3);
        assert!(totals.per_stage(Some("phone")).iter().all(|stage| stage.count == 0));
    }

    #[test]
    fn an_empty_pipeline_has_every_status_and_no_win_rate() {
        let stats = PipelineStats::from_totals(&PipelineTotals::default());
        assert_eq!((stats.total, stats.win_rate), (0, None));
        let json = serde_json::to_value(&stats).unwrap();
        let text = serde_json::to_string(&stats.counts).unwrap();
        assert_eq!(text, r#"{"open":0,"contacted":0,"qualified":0,"proposal":0,"won":0,"lost":0,"stale":0}"#);
        for key in ["counts", "total", "totalValue", "weightedValue", "needsFollowUp", "winRate", "bySource"] {
            assert!(json.get(key).is_some(), "{key}");
        }
    }
}
