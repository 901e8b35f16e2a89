//! The follow-up agenda: what a staff member has to do, by the organization's days. Two kinds
//! of items are due: the follow-up date of a lead not won or lost, and an activity scheduled but
//! not yet completed. Each is overdue (due before today began), today's, or upcoming (due in the
//! `days` days after today), all counted in the organization's time zone.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::activity::Activity;
use crate::auth::Actor;
use crate::calendar::{Day, TimeZone};
use crate::opportunity::Status;
use crate::query::QueryParams;
use crate::{FieldErrors, Result, Timestamp};

/// How many days after today `upcoming` covers unless `days` says otherwise.
pub const DEFAULT_DAYS: i64 = 7;
/// The longest look ahead: a quarter, which keeps the `upcoming` window a bounded read.
pub const DAYS_MAX: i64 = 90;
/// At most this many items per section, the earliest due: one request stays bounded however
/// many leads are overdue. A section cut short says so in `truncated`.
pub const SECTION_MAX: usize = 500;

/// Whose agenda: `staff_id=me` (the default), a staff member's id, or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    Staff(Uuid),
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgendaQuery {
    pub whose: Whose,
    pub days: i64,
}

impl AgendaQuery {
    /// Reads `staff_id` and `days`. Members may only ask for their own agenda (403 otherwise);
    /// owners and admins for anyone's, or everyone's.
    pub fn parse(mut params: QueryParams, actor: &Actor) -> Result<Self> {
        let mut errors = FieldErrors::default();
        let whose = match params.one("staff_id")?.as_deref() {
            None | Some("me") => Some(Whose::Staff(actor.staff_id)),
            Some("all") => Some(Whose::All),
            Some(text) => match Uuid::parse_str(text) {
                Ok(id) => Some(Whose::Staff(id)),
                Err(_) => {
                    errors.add("staff_id", "must be me, all or a staff member's id");
                    None
                }
            },
        };
        let days = match params.one("days")? {
            None => DEFAULT_DAYS,
            Some(text) => match text.parse::<i64>() {
                Ok(days) if (1..=DAYS_MAX).contains(&days) => days,
                _ => {
                    errors.add("days", format!("must be a whole number from 1 to {DAYS_MAX}"));
                    DEFAULT_DAYS
                }
            },
        };
        params.finish()?;
        let query = errors.into_result(AgendaQuery { whose: whose.unwrap_or(Whose::All), days })?;
        if query.whose != Whose::Staff(actor.staff_id) {
            actor.require_manager()?;
        }
        Ok(query)
    }

    /// The lead assignee the items belong to; `None` for every lead.
    pub fn assignee(&self) -> Option<Uuid> {
        match self.whose {
            Whose::Staff(id) => Some(id),
            Whose::All => None,
        }
    }
}

/// The instants that split the agenda, from the organization's days: today starts at `today`,
/// tomorrow at `tomorrow`, and `upcoming` ends before `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boundaries {
    pub day: Day,
    pub today: Timestamp,
    pub tomorrow: Timestamp,
    pub until: Timestamp,
}

impl Boundaries {
    /// `None` only for instants beyond the years 1 to 9999.
    pub fn at(now: Timestamp, zone: &TimeZone, days: i64) -> Option<Boundaries> {
        let day = zone.day_of(now);
        let start = |offset: i64| zone.start_of(Day::from_number(day.number() + offset));
        Some(Boundaries { day, today: start(0)?, tomorrow: start(1)?, until: start(1 + days)? })
    }
}

/// Due items from `from` (the earliest when `None`) up to, not including, `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueWindow {
    pub from: Option<Timestamp>,
    pub until: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgendaKind {
    /// The lead's `follow_up_date`.
    FollowUp,
    /// An activity's `scheduled_at`.
    Activity,
}

/// The lead an item is about, in brief.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AgendaOpportunity {
    pub id: Uuid,
    pub title: String,
    pub status: Status,
    /// The client's name when the lead has a client, else the prospect's.
    pub name: Option<String>,
    pub assigned_to: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AgendaItem {
    pub kind: AgendaKind,
    pub due_at: Timestamp,
    pub opportunity: AgendaOpportunity,
    /// The scheduled activity, for `kind` `activity`; null for a follow-up.
    pub activity: Option<Activity>,
}

/// Which sections were cut at 500 items (more are due than shown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Truncated {
    pub overdue: bool,
    pub today: bool,
    pub upcoming: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Agenda {
    /// Today's date in the organization's time zone.
    #[schema(value_type = String, format = Date)]
    pub date: String,
    /// The organization's time zone, which the days are counted in.
    #[schema(value_type = String)]
    pub timezone: TimeZone,
    /// The last day `upcoming` covers.
    #[schema(value_type = String, format = Date)]
    pub upcoming_until: String,
    /// Due before today began, earliest first (at most 500).
    pub overdue: Vec<AgendaItem>,
    /// Due today, earliest first (at most 500).
    pub today: Vec<AgendaItem>,
    /// Due in the `days` days after today, earliest first (at most 500).
    pub upcoming: Vec<AgendaItem>,
    pub truncated: Truncated,
}

/// Keeps the first [`SECTION_MAX`] items; true if there were more.
pub fn cut(items: &mut Vec<AgendaItem>) -> bool {
    let more = items.len() > SECTION_MAX;
    items.truncate(SECTION_MAX);
    more
}

/// The day as written in the API, `2026-03-01`.
pub fn date_text(day: Day) -> String {
    day.date().map(|date| date.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Role, test_actor};
    use crate::error::Error;

    fn parse(query: &[(&str, &str)], role: Role) -> (Actor, Result<AgendaQuery>) {
        let actor = test_actor(role);
        let params = QueryParams::new(query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap();
        let parsed = AgendaQuery::parse(params, &actor);
        (actor, parsed)
    }

    #[test]
    fn members_see_their_own_agenda_only() {
        let (actor, query) = parse(&[], Role::Member);
        assert_eq!(query.unwrap(), AgendaQuery { whose: Whose::Staff(actor.staff_id), days: DEFAULT_DAYS });
        assert!(matches!(parse(&[("staff_id", "all")], Role::Member).1, Err(Error::Forbidden(_))));
        let other = Uuid::now_v7().to_string();
        assert!(matches!(parse(&[("staff_id", &other)], Role::Member).1, Err(Error::Forbidden(_))));
        assert_eq!(parse(&[("staff_id", "all")], Role::Admin).1.unwrap().whose, Whose::All);
    }

    #[test]
    fn days_are_bounded() {
        for days in ["0", "91", "-1", "x"] {
            assert!(matches!(parse(&[("days", days)], Role::Owner).1, Err(Error::Validation(_))), "{days}");
        }
        assert_eq!(parse(&[("days", "90")], Role::Owner).1.unwrap().days, 90);
    }

    #[test]
    fn the_day_starts_at_local_midnight() {
        let zone = TimeZone::named("Pacific/Auckland").unwrap();
        // 2026-01-15 10:30 UTC is 23:30 on the 15th in Auckland (UTC+13 in summer).
        let now = Timestamp::parse("2026-01-15T10:30:00Z").unwrap();
        let bounds = Boundaries::at(now, &zone, 7).unwrap();
        assert_eq!(date_text(bounds.day), "2026-01-15");
        assert_eq!(bounds.today, Timestamp::parse("2026-01-14T11:00:00Z").unwrap());
        assert_eq!(bounds.tomorrow, Timestamp::parse("2026-01-15T11:00:00Z").unwrap());
        assert_eq!(bounds.until, Timestamp::parse("2026-01-22T11:00:00Z").unwrap());
    }
}
