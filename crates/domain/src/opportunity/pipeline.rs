//! The pipeline's rules, and the one transition every change of an opportunity goes through.
//!
//! The rules tie five fields together: a `won` lead has probability 100 and a `closed_at`, and
//! may link the sale it became (`transaction_id`); a `lost` lead has probability 0, a
//! `closed_at` and no sale; a lead in any other stage (`open` to `proposal`, `stale`) has no
//! `closed_at`, no close reason and no sale. Those fields live in [`Stage`], whose only makers
//! are [`Stage::transition`] and [`Stage::from_storage`] (which checks them), so no path can
//! leave an opportunity breaking a rule.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Status;
use crate::{Error, FieldErrors, Patch, Result, Timestamp};

/// Where an opportunity stands in the pipeline: its status and the fields the rules tie to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Stage {
    status: Status,
    /// 0 to 100; always 100 when won and 0 when lost.
    probability: i32,
    /// When it was won or lost; null in every other stage.
    closed_at: Option<Timestamp>,
    /// Why it was won or lost; null in every other stage.
    closed_reason: Option<String>,
    /// The sale this opportunity turned into; only a won one has one.
    transaction_id: Option<Uuid>,
}

/// What a change asks of the pipeline's fields; each part left out follows from the rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageRequest {
    /// The stage to move to; `None` stays where it is (a new lead starts `open`).
    pub status: Option<Status>,
    /// A probability someone chose, already checked to be 0 to 100.
    pub probability: Option<i32>,
    /// Already checked text; blank text arrives as `Null`.
    pub closed_reason: Patch<String>,
    pub transaction_id: Patch<Uuid>,
}

/// What a transition did: the new stage, and the status move it made if it made one (what the
/// activity log records, and what a stage history would).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub stage: Stage,
    pub moved: Option<StatusMove>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusMove {
    /// `None` when a new lead enters the pipeline.
    pub from: Option<Status>,
    pub to: Status,
}

/// The probability a lead has in each stage when nobody chose one: a new lead starts with its
/// stage's, and a stage move carries a lead still at the old stage's default to the new one's
/// (a probability someone chose stays). Each organization sets them in its pipeline settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultProbabilities {
    open: i32,
    contacted: i32,
    qualified: i32,
    proposal: i32,
}

impl DefaultProbabilities {
    /// Each already checked to be 0 to 100.
    pub const fn new(open: i32, contacted: i32, qualified: i32, proposal: i32) -> Self {
        DefaultProbabilities { open, contacted, qualified, proposal }
    }

    /// In a closed stage this is what the rules force, so reopening a lead resets its
    /// probability to the new stage's default unless the same change chooses one. A stale lead
    /// has gone quiet and must be won back from the start: its default is the open stage's.
    pub fn of(&self, status: Status) -> i32 {
        forced_probability(status).unwrap_or(match status {
            Status::Contacted => self.contacted,
            Status::Qualified => self.qualified,
            Status::Proposal => self.proposal,
            Status::Open | Status::Stale | Status::Won | Status::Lost => self.open,
        })
    }
}

/// The probability a closed stage forces.
fn forced_probability(status: Status) -> Option<i32> {
    match status {
        Status::Won => Some(100),
        Status::Lost => Some(0),
        _ => None,
    }
}

impl Stage {
    /// The one transition: the stage that `request` leads to from `from` (`None` for a new lead)
    /// at `now`. A part of the request the rules refuse is named in `errors` (and left out of
    /// the returned stage, which obeys the rules either way). Moving a won lead out of `won`
    /// while its sale is still linked is a conflict: the request must unlink it
    /// (`transaction_id: null`), so that no sale is dropped unnoticed.
    pub fn transition(
        from: Option<&Stage>,
        request: StageRequest,
        defaults: &DefaultProbabilities,
        now: Timestamp,
        errors: &mut FieldErrors,
    ) -> Result<Transition> {
        let to = request.status.or(from.map(Stage::status)).unwrap_or(Status::Open);
        let stays = from.filter(|stage| stage.status == to);
        if let Some(sale) = from.and_then(|stage| stage.transaction_id)
            && stays.is_none()
            && request.transaction_id.is_absent()
        {
            return Err(Error::Conflict(format!(
                "this opportunity is linked to the sale {sale}; to move it out of won, unlink the sale in the same request \
                 (\"transaction_id\": null)"
            )));
        }
        let stage = Stage {
            status: to,
            probability: probability(from, to, request.probability, defaults, errors),
            closed_at: if to.is_closed() { Some(stays.and_then(|stage| stage.closed_at).unwrap_or(now)) } else { None },
            closed_reason: closed_reason(stays, to, request.closed_reason, errors),
            transaction_id: transaction_id(stays, to, request.transaction_id, errors),
        };
        let moved = stays.is_none().then_some(StatusMove { from: from.map(Stage::status), to });
        Ok(Transition { stage, moved })
    }

    /// A stage as stored, or the column that breaks a rule. Every stage this service writes
    /// obeys them, and migration 0013 repaired the rows older versions wrote.
    pub fn from_storage(
        status: Status,
        probability: i32,
        closed_at: Option<Timestamp>,
        closed_reason: Option<String>,
        transaction_id: Option<Uuid>,
    ) -> std::result::Result<Stage, &'static str> {
        let stage = Stage { status, probability, closed_at, closed_reason, transaction_id };
        match stage.broken_rule() {
            Some(column) => Err(column),
            None => Ok(stage),
        }
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn probability(&self) -> i32 {
        self.probability
    }

    pub fn closed_at(&self) -> Option<Timestamp> {
        self.closed_at
    }

    pub fn closed_reason(&self) -> Option<&str> {
        self.closed_reason.as_deref()
    }

    pub fn transaction_id(&self) -> Option<Uuid> {
        self.transaction_id
    }

    /// The first field that breaks a rule, if any.
    fn broken_rule(&self) -> Option<&'static str> {
        let closed = self.status.is_closed();
        if !(0..=100).contains(&self.probability) || forced_probability(self.status).is_some_and(|p| p != self.probability) {
            Some("probability")
        } else if self.closed_at.is_some() != closed {
            Some("closed_at")
        } else if self.closed_reason.is_some() && !closed {
            Some("closed_reason")
        } else if self.transaction_id.is_some() && self.status != Status::Won {
            Some("transaction_id")
        } else {
            None
        }
    }
}

/// A closed stage forces its probability, and a chosen one that differs is refused rather than
/// silently replaced. Otherwise a chosen probability wins; a probability nobody chose (still
/// the old stage's default) follows the stage.
fn probability(from: Option<&Stage>, to: Status, chosen: Option<i32>, defaults: &DefaultProbabilities, errors: &mut FieldErrors) -> i32 {
    if let Some(forced) = forced_probability(to) {
        if chosen.is_some_and(|p| p != forced) {
            let message = format!("is always {forced} for a {} opportunity; move it to an open stage to choose another", to.as_str());
            errors.add("probability", message);
        }
        return forced;
    }
    match (chosen, from) {
        (Some(probability), _) => probability,
        (None, Some(stage)) if stage.status == to || stage.probability != defaults.of(stage.status) => stage.probability,
        (None, _) => defaults.of(to),
    }
}

/// Only a closed lead has a reason. Closing anew (won after lost, say) starts without the old
/// one, which explained the other outcome.
fn closed_reason(stays: Option<&Stage>, to: Status, request: Patch<String>, errors: &mut FieldErrors) -> Option<String> {
    if to.is_closed() {
        return request.apply(stays.and_then(|stage| stage.closed_reason.clone()));
    }
    if request.value().is_some() {
        errors.add("closed_reason", "only a won or lost opportunity has a close reason");
    }
    None
}

/// Only a won lead links to a sale; one that stays won keeps its link unless the request
/// changes it.
fn transaction_id(stays: Option<&Stage>, to: Status, request: Patch<Uuid>, errors: &mut FieldErrors) -> Option<Uuid> {
    if to == Status::Won {
        return request.apply(stays.and_then(|stage| stage.transaction_id));
    }
    if request.value().is_some() {
        errors.add("transaction_id", "only a won opportunity links to a transaction");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One part of a request: the table asks for each on its own, and for nothing.
    #[derive(Debug, Clone, Copy)]
    enum Ask {
        Nothing,
        Probability(i32),
        Reason(Option<&'static str>),
        Sale(Option<Uuid>),
    }

    const SALE: Uuid = Uuid::from_u128(1);
    const OTHER_SALE: Uuid = Uuid::from_u128(2);

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_unix_micros(micros).expect("a valid instant")
    }

    /// Defaults that differ from stage to stage, so that a move that keeps the old stage's
    /// default by mistake shows.
    const DEFAULTS: DefaultProbabilities = DefaultProbabilities::new(10, 20, 50, 70);

    /// Every kind of stage a change can start from: each working stage at its default and at a
    /// chosen probability, won with and without a reason and a sale, lost with a reason.
    fn starting_stages() -> Vec<Stage> {
        let mut stages = Vec::new();
        for status in [Status::Open, Status::Contacted, Status::Qualified, Status::Proposal, Status::Stale] {
            for probability in [DEFAULTS.of(status), 35] {
                stages.push(Stage::from_storage(status, probability, None, None, None).expect("a valid working stage"));
            }
        }
        stages.push(Stage::from_storage(Status::Won, 100, Some(at(1)), Some("signed".into()), Some(SALE)).expect("won with a sale"));
        stages.push(Stage::from_storage(Status::Won, 100, Some(at(1)), None, None).expect("won without a sale"));
        stages.push(Stage::from_storage(Status::Lost, 0, Some(at(1)), Some("price".into()), None).expect("lost with a reason"));
        stages
    }

    fn request(to: Option<Status>, ask: Ask) -> StageRequest {
        let mut request = StageRequest { status: to, ..StageRequest::default() };
        match ask {
            Ask::Nothing => {}
            Ask::Probability(p) => request.probability = Some(p),
            Ask::Reason(reason) => request.closed_reason = reason.map_or(Patch::Null, |r| Patch::Value(r.to_owned())),
            Ask::Sale(sale) => request.transaction_id = sale.map_or(Patch::Null, Patch::Value),
        }
        request
    }

    /// The rules as `docs/decisions.md` states them: what a request is refused for.
    fn expected_refusal(from: Option<&Stage>, to: Status, ask: Ask) -> Option<&'static str> {
        let leaves_a_sale = from.is_some_and(|s| s.transaction_id.is_some()) && to != Status::Won;
        match ask {
            Ask::Sale(Some(_)) if to != Status::Won => Some("transaction_id"),
            Ask::Sale(_) => None,
            _ if leaves_a_sale => Some("conflict"),
            Ask::Probability(p) if to == Status::Won && p != 100 => Some("probability"),
            Ask::Probability(p) if to == Status::Lost && p != 0 => Some("probability"),
            Ask::Reason(Some(_)) if !to.is_closed() => Some("closed_reason"),
            _ => None,
        }
    }

    /// A probability nobody chose: the rules' in a closed stage, else the stage's default (the
    /// open stage's for a stale lead).
    fn default_of(status: Status) -> i32 {
        match status {
            Status::Won => 100,
            Status::Lost => 0,
            Status::Open | Status::Stale => 10,
            Status::Contacted => 20,
            Status::Qualified => 50,
            Status::Proposal => 70,
        }
    }

    /// What an accepted request must leave in each field.
    fn check_accepted(from: Option<&Stage>, to: Status, ask: Ask, transition: &Transition, now: Timestamp) {
        let stage = &transition.stage;
        let case = format!("{from:?} -> {to:?} asking {ask:?}: {stage:?}");
        let stays = from.filter(|s| s.status == to);
        assert_eq!(stage.broken_rule(), None, "{case}");
        assert_eq!(stage.status, to, "{case}");
        assert_eq!(transition.moved, stays.is_none().then_some(StatusMove { from: from.map(|s| s.status), to }), "{case}");

        let probability = match (ask, to, from) {
            (_, Status::Won, _) => 100,
            (_, Status::Lost, _) => 0,
            (Ask::Probability(p), _, _) => p,
            (_, _, Some(s)) if stays.is_some() || s.probability != default_of(s.status) => s.probability,
            _ => default_of(to),
        };
        assert_eq!(stage.probability, probability, "probability: {case}");

        let closed_at = to.is_closed().then(|| stays.and_then(|s| s.closed_at).unwrap_or(now));
        assert_eq!(stage.closed_at, closed_at, "closed_at: {case}");

        let reason = match ask {
            Ask::Reason(reason) if to.is_closed() => reason.map(str::to_owned),
            _ => stays.and_then(|s| s.closed_reason.clone()),
        };
        assert_eq!(stage.closed_reason, reason, "closed_reason: {case}");

        let sale = match ask {
            Ask::Sale(sale) => sale,
            _ => stays.and_then(|s| s.transaction_id),
        };
        assert_eq!(stage.transaction_id, sale, "transaction_id: {case}");
    }

    #[test]
    fn every_move_with_every_field_obeys_the_rules_or_is_refused() {
        let now = at(1_000);
        let asks = [
            Ask::Nothing,
            Ask::Probability(0),
            Ask::Probability(55),
            Ask::Probability(100),
            Ask::Reason(Some("why")),
            Ask::Reason(None),
            Ask::Sale(Some(OTHER_SALE)),
            Ask::Sale(None),
        ];
        let stages = starting_stages();
        let froms = std::iter::once(None).chain(stages.iter().map(Some));
        let mut cases = 0;
        for from in froms {
            for to in std::iter::once(None).chain(Status::ALL.map(Some)) {
                for ask in asks {
                    let target = to.or(from.map(|s| s.status)).unwrap_or(Status::Open);
                    let mut errors = FieldErrors::default();
                    let result = Stage::transition(from, request(to, ask), &DEFAULTS, now, &mut errors);
                    let case = format!("{from:?} -> {to:?} asking {ask:?}");
                    match (expected_refusal(from, target, ask), result) {
                        (Some("conflict"), Err(Error::Conflict(message))) => assert!(message.contains(&SALE.to_string()), "{case}"),
                        (Some(field), Ok(transition)) => {
                            assert_eq!(errors.iter().map(|(f, _)| f).collect::<Vec<_>>(), [field], "{case}");
                            assert_eq!(transition.stage.broken_rule(), None, "a refused request still leaves a valid stage: {case}");
                        }
                        (None, Ok(transition)) => {
                            assert!(errors.is_empty(), "{case}: {errors:?}");
                            check_accepted(from, target, ask, &transition, now);
                        }
                        (expected, result) => panic!("{case}: expected {expected:?}, got {result:?} with {errors:?}"),
                    }
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, 14 * 8 * 8, "every starting stage, every target (or none), every field");
    }

    #[test]
    fn a_stored_stage_is_checked_against_the_rules() {
        let closed = Some(at(1));
        let broken = [
            (Status::Won, 5, closed, None, None, "probability"),
            (Status::Lost, 10, closed, None, None, "probability"),
            (Status::Open, 101, None, None, None, "probability"),
            (Status::Won, 100, None, None, None, "closed_at"),
            (Status::Stale, 10, closed, None, None, "closed_at"),
            (Status::Open, 10, None, Some("x".to_owned()), None, "closed_reason"),
            (Status::Lost, 0, closed, None, Some(SALE), "transaction_id"),
            (Status::Proposal, 60, None, None, Some(SALE), "transaction_id"),
        ];
        for (status, probability, closed_at, reason, sale, column) in broken {
            assert_eq!(Stage::from_storage(status, probability, closed_at, reason, sale), Err(column), "{status:?}");
        }
    }
}
