//! The agenda's reads: the follow-ups and the scheduled activities due in a window, each kind
//! one statement that walks an index in due order (migration 0021) and stops at the limit.

use domain::Result;
use domain::agenda::{AgendaItem, AgendaKind, AgendaOpportunity, DueWindow};
use domain::opportunity::Status;
use uuid::Uuid;

use super::reads::all;
use super::rows::parsed;
use super::tables::ACTIVITIES;
use super::{RowReader, Run, Statement};

/// The lead's brief and the item's due time, under names no activity column has.
const LEAD_COLUMNS: &str = "o.id AS lead_id, o.title AS lead_title, o.status AS lead_status, COALESCE(c.name, o.prospect_name) AS lead_name, o.assigned_to AS lead_assigned_to";
const CLIENT_JOIN: &str = "LEFT JOIN clients c ON c.org_id = o.org_id AND c.id = o.client_id";

pub(super) async fn agenda<R: Run>(
    run: &mut R,
    org_id: Uuid,
    assignee: Option<Uuid>,
    window: DueWindow,
    limit: i64,
) -> Result<Vec<AgendaItem>> {
    // The conditions name the partial indexes' predicates word for word, so both engines use them.
    let follow_ups = Statement::new(format!(
        "SELECT {LEAD_COLUMNS}, o.follow_up_date AS due_at FROM opportunities o {CLIENT_JOIN}
         WHERE o.org_id = $1 AND o.follow_up_date IS NOT NULL AND o.status NOT IN ('won', 'lost')"
    ));
    let follow_ups = due_in(follow_ups.bind(org_id), "o.follow_up_date", "o.id", assignee, window, limit);
    let activities = Statement::new(format!(
        "SELECT {}, {LEAD_COLUMNS}, a.scheduled_at AS due_at FROM activities a
         JOIN opportunities o ON o.org_id = a.org_id AND o.id = a.opportunity_id {CLIENT_JOIN}
         WHERE a.org_id = $1 AND a.scheduled_at IS NOT NULL AND a.completed_at IS NULL",
        ACTIVITIES.select_list("a.")
    ));
    let activities = due_in(activities.bind(org_id), "a.scheduled_at", "a.id", assignee, window, limit);
    let mut items = all(run, follow_ups, follow_up).await?;
    items.extend(all(run, activities, activity).await?);
    items.sort_by_key(|item| (item.due_at, item.kind == AgendaKind::Activity, item.opportunity.id));
    items.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(items)
}

/// Appends the window, the assignee and the order to a statement whose `WHERE` is open.
fn due_in(mut statement: Statement, due: &str, id: &str, assignee: Option<Uuid>, window: DueWindow, limit: i64) -> Statement {
    if let Some(assignee) = assignee {
        statement.push(" AND o.assigned_to = ").push_bind(assignee);
    }
    if let Some(from) = window.from {
        statement.push(&format!(" AND {due} >= ")).push_bind(from);
    }
    statement.push(&format!(" AND {due} < ")).push_bind(window.until);
    statement.push(&format!(" ORDER BY {due}, {id} LIMIT ")).push_bind(limit);
    statement
}

fn lead(row: &dyn RowReader) -> Result<AgendaOpportunity> {
    Ok(AgendaOpportunity {
        id: row.uuid("lead_id")?,
        title: row.text("lead_title")?,
        status: parsed(row, "lead_status", Status::parse)?,
        name: row.opt_text("lead_name")?,
        assigned_to: row.opt_uuid("lead_assigned_to")?,
    })
}

fn follow_up(row: &dyn RowReader) -> Result<AgendaItem> {
    Ok(AgendaItem { kind: AgendaKind::FollowUp, due_at: row.timestamp("due_at")?, opportunity: lead(row)?, activity: None })
}

fn activity(row: &dyn RowReader) -> Result<AgendaItem> {
    let activity = (ACTIVITIES.read)(row)?;
    Ok(AgendaItem { kind: AgendaKind::Activity, due_at: row.timestamp("due_at")?, opportunity: lead(row)?, activity: Some(activity) })
}
