//! How an organization runs its pipeline (issue 12): the time zone its days are counted in, and
//! for each stage a lead is worked in, the probability a lead gets there when nobody chose one
//! and after how many days without a change it counts as rotting, and whether rotting leads are
//! moved to `stale`. Owners and admins change them; every change of a lead reads them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::calendar::TimeZone;
use crate::opportunity::{DEFAULT_PROBABILITY, DefaultProbabilities, Opportunity, Status};
use crate::{FieldErrors, Patch, Result, Timestamp};

/// The most days a stage may wait before a lead rots: ten years. Longer means never, which is
/// what `null` says.
pub const ROT_AFTER_DAYS_MAX: i64 = 3_650;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PipelineSettings {
    #[serde(skip)]
    pub org_id: Uuid,
    /// The IANA time zone the organization's days are counted in (what is due today, overdue,
    /// on a given date), daylight saving time included.
    pub timezone: TimeZone,
    pub stages: StageSettings,
    /// Whether leads that rot (see `rot_after_days`) are moved to `stale`.
    pub auto_stale: bool,
}

/// The settings of each stage a lead is worked in. Won and lost force their probability (100
/// and 0); a stale lead's default is the open stage's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct StageSettings {
    pub open: StageSetting,
    pub contacted: StageSetting,
    pub qualified: StageSetting,
    pub proposal: StageSetting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct StageSetting {
    /// The probability of a lead created in this stage without one, and of a lead moved here
    /// while its probability was still its old stage's default.
    #[schema(minimum = 0, maximum = 100)]
    pub default_probability: i32,
    /// Days without a change after which a lead in this stage rots; null: never.
    #[schema(minimum = 0, maximum = 3650)]
    pub rot_after_days: Option<i32>,
}

/// A partial change of the settings: only the given fields change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePipelineSettings {
    /// An IANA time zone name such as `America/Los_Angeles` or `UTC`.
    #[serde(default)]
    #[schema(value_type = String, max_length = 64)]
    pub timezone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = UpdateStageSettings)]
    pub stages: Patch<UpdateStageSettings>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub auto_stale: Patch<bool>,
}

/// The stages to change, each partially.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStageSettings {
    #[serde(default)]
    #[schema(value_type = UpdateStageSetting)]
    pub open: Patch<UpdateStageSetting>,
    #[serde(default)]
    #[schema(value_type = UpdateStageSetting)]
    pub contacted: Patch<UpdateStageSetting>,
    #[serde(default)]
    #[schema(value_type = UpdateStageSetting)]
    pub qualified: Patch<UpdateStageSetting>,
    #[serde(default)]
    #[schema(value_type = UpdateStageSetting)]
    pub proposal: Patch<UpdateStageSetting>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStageSetting {
    /// 0 to 100. Leads already in the stage keep theirs.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 0, maximum = 100)]
    pub default_probability: Patch<i64>,
    /// A whole number of days from 0 to 3650, or null for never.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 3650)]
    pub rot_after_days: Patch<i64>,
}

impl PipelineSettings {
    /// What a new organization starts with: UTC, every stage at the standard default
    /// probability, nothing rots.
    pub fn standard(org_id: Uuid) -> PipelineSettings {
        let stage = StageSetting { default_probability: DEFAULT_PROBABILITY, rot_after_days: None };
        PipelineSettings {
            org_id,
            timezone: TimeZone::utc(),
            stages: StageSettings { open: stage, contacted: stage, qualified: stage, proposal: stage },
            auto_stale: false,
        }
    }

    /// The probabilities the pipeline's one transition gives a lead nobody chose one for.
    pub fn default_probabilities(&self) -> DefaultProbabilities {
        let StageSettings { open, contacted, qualified, proposal } = self.stages;
        DefaultProbabilities::new(
            open.default_probability,
            contacted.default_probability,
            qualified.default_probability,
            proposal.default_probability,
        )
    }

    /// The settings with `input` applied, or every bad field (`stages.open.rot_after_days`, ...).
    pub fn updated(&self, input: UpdatePipelineSettings) -> Result<PipelineSettings> {
        let mut errors = FieldErrors::default();
        let mut next = self.clone();
        match input.timezone {
            Patch::Absent => {}
            Patch::Null => errors.add("timezone", "cannot be null; UTC is a time zone too"),
            Patch::Value(name) => match TimeZone::named(name.trim()) {
                Some(zone) => next.timezone = zone,
                None => errors.add("timezone", "must be a time zone of the IANA database, such as America/Los_Angeles or UTC"),
            },
        }
        match input.stages {
            Patch::Absent => {}
            Patch::Null => errors.add("stages", "cannot be null; send only the stages to change"),
            Patch::Value(stages) => {
                let StageSettings { open, contacted, qualified, proposal } = &mut next.stages;
                for (name, setting, change) in [
                    ("open", open, stages.open),
                    ("contacted", contacted, stages.contacted),
                    ("qualified", qualified, stages.qualified),
                    ("proposal", proposal, stages.proposal),
                ] {
                    setting.update(&mut errors, name, change);
                }
            }
        }
        match input.auto_stale {
            Patch::Absent => {}
            Patch::Null => errors.add("auto_stale", "cannot be null"),
            Patch::Value(auto_stale) => next.auto_stale = auto_stale,
        }
        errors.into_result(next)
    }
}

/// Microseconds in a day: a stage's `rot_after_days` counts whole 24-hour periods.
const DAY_MICROS: i64 = 86_400_000_000;

impl PipelineSettings {
    /// For each stage a lead is worked in that rots, the instant a lead there must have had its
    /// last activity at or before to be rotting at `now`: what `?rotting=true` asks the database.
    pub fn rot_cutoffs(&self, now: Timestamp) -> Vec<(Status, Timestamp)> {
        [Status::Open, Status::Contacted, Status::Qualified, Status::Proposal]
            .into_iter()
            .filter_map(|status| {
                let days = self.stages.of(status)?.rot_after_days?;
                let cutoff = Timestamp::from_unix_micros(now.unix_micros().saturating_sub(i64::from(days) * DAY_MICROS))?;
                Some((status, cutoff))
            })
            .collect()
    }

    /// Whether the lead is rotting at `now`: in a stage it is worked in whose `rot_after_days`
    /// have passed since its last activity (exactly that many days included). Won, lost and
    /// stale leads never rot.
    pub fn is_rotting(&self, opportunity: &Opportunity, now: Timestamp) -> bool {
        let status = opportunity.stage.status();
        self.rot_cutoffs(now).iter().any(|&(stage, cutoff)| stage == status && opportunity.last_activity_at <= cutoff)
    }
}

impl StageSettings {
    /// The settings of a stage a lead is worked in; `None` for won, lost and stale.
    pub fn of(&self, status: Status) -> Option<&StageSetting> {
        match status {
            Status::Open => Some(&self.open),
            Status::Contacted => Some(&self.contacted),
            Status::Qualified => Some(&self.qualified),
            Status::Proposal => Some(&self.proposal),
            Status::Won | Status::Lost | Status::Stale => None,
        }
    }
}

impl StageSetting {
    fn update(&mut self, errors: &mut FieldErrors, stage: &str, change: Patch<UpdateStageSetting>) {
        let change = match change {
            Patch::Absent => return,
            Patch::Null => return errors.add(&format!("stages.{stage}"), "cannot be null; send only the fields to change"),
            Patch::Value(change) => change,
        };
        let field = |name: &str| format!("stages.{stage}.{name}");
        match change.default_probability {
            Patch::Absent => {}
            Patch::Null => errors.add(&field("default_probability"), "cannot be null"),
            Patch::Value(p) => match i32::try_from(p).ok().filter(|p| (0..=100).contains(p)) {
                Some(p) => self.default_probability = p,
                None => errors.add(&field("default_probability"), "must be a whole number from 0 to 100"),
            },
        }
        match change.rot_after_days {
            Patch::Absent => {}
            Patch::Null => self.rot_after_days = None,
            Patch::Value(days) if (0..=ROT_AFTER_DAYS_MAX).contains(&days) => self.rot_after_days = i32::try_from(days).ok(),
            Patch::Value(_) => errors
                .add(&field("rot_after_days"), format!("must be a whole number of days from 0 to {ROT_AFTER_DAYS_MAX}, or null for never")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Error;

    fn update(current: &PipelineSettings, body: serde_json::Value) -> Result<PipelineSettings> {
        current.updated(serde_json::from_value(body).expect("a body of the right shape"))
    }

    fn bad_fields(result: Result<PipelineSettings>) -> Vec<String> {
        match result {
            Err(Error::Validation(errors)) => errors.iter().map(|(field, _)| field.to_owned()).collect(),
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    #[test]
    fn only_the_given_fields_change() {
        let standard = PipelineSettings::standard(Uuid::nil());
        let body = json!({"timezone": "Pacific/Tongatapu", "stages": {"qualified": {"default_probability": 60, "rot_after_days": 14}}});
        let changed = update(&standard, body).expect("valid settings");
        assert_eq!(changed.timezone.name(), "Pacific/Tongatapu");
        assert_eq!(changed.stages.qualified, StageSetting { default_probability: 60, rot_after_days: Some(14) });
        assert_eq!((changed.stages.open, changed.auto_stale), (standard.stages.open, false));
        let never = update(&changed, json!({"stages": {"qualified": {"rot_after_days": null}}})).expect("null is never");
        assert_eq!(never.stages.qualified, StageSetting { default_probability: 60, rot_after_days: None });
        assert_eq!(never.default_probabilities().of(Status::Qualified), 60);
        assert_eq!(never.default_probabilities().of(Status::Stale), DEFAULT_PROBABILITY, "stale follows open");
    }

    #[test]
    fn every_bad_field_is_named() {
        let standard = PipelineSettings::standard(Uuid::nil());
        let body = json!({
            "timezone": "Mars/Olympus_Mons",
            "auto_stale": null,
            "stages": {"open": {"default_probability": 101}, "contacted": {"rot_after_days": -1}, "proposal": {"rot_after_days": 3651},
                       "qualified": {"default_probability": null}}
        });
        let mut expected = vec![
            "auto_stale",
            "stages.contacted.rot_after_days",
            "stages.open.default_probability",
            "stages.proposal.rot_after_days",
            "stages.qualified.default_probability",
            "timezone",
        ];
        expected.sort_unstable();
        assert_eq!(bad_fields(update(&standard, body)), expected);
        assert_eq!(bad_fields(update(&standard, json!({"timezone": null, "stages": null}))), ["stages", "timezone"]);
        assert_eq!(
            update(&standard, json!({"stages": {"open": {"rot_after_days": 0}}})).expect("0 days").stages.open.rot_after_days,
            Some(0)
        );
    }
}
