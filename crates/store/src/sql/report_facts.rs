//! What every lead keeps for the reports ([`domain::report`]): when each of its stays in a stage
//! ended, the stages it reached and those it advanced from, and when it was first answered.
//! Appending to the history and logging an activity keep them in the same transaction; a merge
//! and an import, which bring whole histories at once, recompute them from what the lead holds,
//! as migration 0024 did for the leads before it.

use domain::Timestamp;
use domain::activity::ActivityType;
use domain::opportunity::StageEntry;
use domain::report::{activity_answers, answering_activities_sql, move_answers, stage_bit, stage_bit_sql, stages_before};
use uuid::Uuid;

use super::Statement;
use super::list::push_in;

/// Ends the lead's current stay where `entry` begins; run before `entry` is inserted.
pub(super) fn end_current_stay(entry: &StageEntry) -> Statement {
    Statement::new("UPDATE stage_history SET left_at = $1 WHERE org_id = $2 AND opportunity_id = $3 AND left_at IS NULL")
        .bind(entry.entered_at)
        .bind(entry.org_id)
        .bind(entry.opportunity_id)
}

/// The lead's facts once `entry` is appended: the stage is reached, every stage reached before
/// it that ranks lower is advanced from (SET reads the row as it was), and a move out of `open`
/// answers the lead.
pub(super) fn stage_entered(entry: &StageEntry) -> Statement {
    let mut statement = Statement::new("");
    let before = statement.param(stages_before(entry.status));
    let bit = statement.param(stage_bit(entry.status));
    let answered = if move_answers(entry.status) { first_response(&mut statement, entry.entered_at) } else { String::new() };
    let (org, id) = (statement.param(entry.org_id), statement.param(entry.opportunity_id));
    statement.push(&format!(
        "UPDATE opportunities SET stages_advanced = stages_advanced | (stages_reached & {before}),
                                  stages_reached = stages_reached | {bit}{answered}
         WHERE org_id = {org} AND id = {id}"
    ));
    statement
}

/// Moves the lead's last activity on to `at` (never back) for a note or activity written then;
/// an activity that answers the lead may also be its first answer.
pub(super) fn activity_logged(org_id: Uuid, opportunity_id: Uuid, at: Timestamp, activity_type: Option<ActivityType>) -> Statement {
    let mut statement = Statement::new("");
    let at_param = statement.param(at);
    let (answered, or_earlier) = if activity_type.is_some_and(activity_answers) {
        (first_response(&mut statement, at), format!(" OR first_response_at IS NULL OR first_response_at > {at_param}"))
    } else {
        (String::new(), String::new())
    };
    let (org, id) = (statement.param(org_id), statement.param(opportunity_id));
    statement.push(&format!(
        "UPDATE opportunities SET last_activity_at = CASE WHEN last_activity_at < {at_param} THEN {at_param} ELSE last_activity_at END{answered}
         WHERE org_id = {org} AND id = {id} AND (last_activity_at < {at_param}{or_earlier})"
    ));
    statement
}

/// `, first_response_at = ` the earlier of itself and `at`.
fn first_response(statement: &mut Statement, at: Timestamp) -> String {
    let at = statement.param(at);
    format!(", first_response_at = CASE WHEN first_response_at IS NULL OR first_response_at > {at} THEN {at} ELSE first_response_at END")
}

/// The facts of the leads `ids`, recomputed from their whole history and activities: after a
/// merge interleaves two histories (and the other lead's entries become this one's), after an
/// import. The stays first, then the leads.
pub(super) fn recomputed(org_id: Uuid, ids: &[Uuid]) -> [Statement; 2] {
    let mut stays = Statement::new("");
    let org = stays.param(org_id);
    stays.push(&format!(
        "UPDATE stage_history SET
             left_at = (
                 SELECT n.entered_at FROM stage_history n
                 WHERE n.org_id = stage_history.org_id AND n.opportunity_id = stage_history.opportunity_id
                   AND (n.entered_at, n.id) > (stage_history.entered_at, stage_history.id)
                 ORDER BY n.entered_at, n.id LIMIT 1),
             lead_created_at = (
                 SELECT o.created_at FROM opportunities o WHERE o.org_id = stage_history.org_id AND o.id = stage_history.opportunity_id)
         WHERE org_id = {org}"
    ));
    push_in(&mut stays, "opportunity_id", ids.iter().copied());

    let (bit, later_bit, answering) = (stage_bit_sql("h.status"), stage_bit_sql("f.status"), answering_activities_sql());
    let history = "FROM stage_history h WHERE h.org_id = opportunities.org_id AND h.opportunity_id = opportunities.id";
    let mut leads = Statement::new("");
    let org = leads.param(org_id);
    leads.push(&format!(
        "UPDATE opportunities SET
             stages_reached = (SELECT COALESCE(SUM(DISTINCT {bit}), 0) {history}),
             stages_advanced = (SELECT COALESCE(SUM(DISTINCT {bit}), 0) {history}
                 AND EXISTS (SELECT 1 FROM stage_history f
                             WHERE f.org_id = h.org_id AND f.opportunity_id = h.opportunity_id
                               AND (f.entered_at, f.id) > (h.entered_at, h.id) AND {later_bit} > {bit})),
             first_response_at = (SELECT MIN(answers.at) FROM (
                 SELECT MIN(a.created_at) AS at FROM activities a
                 WHERE a.org_id = opportunities.org_id AND a.opportunity_id = opportunities.id AND a.activity_type IN {answering}
                 UNION ALL
                 SELECT MIN(h.entered_at) {history} AND h.status <> 'open') answers)
         WHERE org_id = {org}"
    ));
    push_in(&mut leads, "id", ids.iter().copied());
    [stays, leads]
}
