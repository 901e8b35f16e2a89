//! Column lists and the mapping from result rows to domain types, for every backend.

use domain::activity::{Activity, ActivityType, Note};
use domain::auth::{Actor, Role, Staff, TokenInfo};
use domain::category::{Category, CategoryRef};
use domain::client::{Client, ClientRef};
use domain::lead_form::LeadForm;
use domain::opportunity::{Opportunity, OpportunityView, StaffRef, Stage, Status};
use domain::stats::StatusSourceTotals;
use domain::{Error, Money, Result};

use super::RowReader;

pub(super) const OPPORTUNITY_COLUMNS: &str = "o.org_id, o.id, o.client_id, o.prospect_name, o.prospect_email, o.prospect_phone,
    o.category_id, o.title, o.description, o.estimated_value, o.probability, o.status, o.source, o.assigned_to,
    o.follow_up_date, o.closed_at, o.closed_reason, o.transaction_id, o.created_by, o.created_at, o.updated_at, o.version";

/// What lists and the single view embed besides the opportunity's own columns.
const VIEW_COLUMNS: &str = "c.name AS client_name, c.email AS client_email, c.phone AS client_phone,
    cat.name AS category_name, cat.color AS category_color, s.name AS staff_name, s.email AS staff_email,
    (SELECT COUNT(*) FROM notes n WHERE n.org_id = o.org_id AND n.opportunity_id = o.id) AS notes_count,
    (SELECT COUNT(*) FROM activities a WHERE a.org_id = o.org_id AND a.opportunity_id = o.id) AS activities_count";

const VIEW_JOINS: &str = "LEFT JOIN clients c ON c.org_id = o.org_id AND c.id = o.client_id
    LEFT JOIN categories cat ON cat.org_id = o.org_id AND cat.id = o.category_id
    LEFT JOIN staff s ON s.org_id = o.org_id AND s.id = o.assigned_to";

/// One opportunity as viewed; `WHERE` follows.
pub(super) fn view_select() -> String {
    format!("SELECT {OPPORTUNITY_COLUMNS}, {VIEW_COLUMNS} FROM opportunities o {VIEW_JOINS}")
}

/// The opportunities `page` selects (a query of `org_id, id`), as viewed, after the `extra`
/// columns. Embedding and counting happen for the page's rows only, not for every row the
/// filter matches.
pub(super) fn view_of_page(page: &str, extra: &str) -> String {
    format!(
        "SELECT {extra}{OPPORTUNITY_COLUMNS}, {VIEW_COLUMNS}
         FROM ({page}) page JOIN opportunities o ON o.org_id = page.org_id AND o.id = page.id {VIEW_JOINS}"
    )
}

pub(super) const CLIENT_COLUMNS: &str = "org_id, id, name, email, phone, created_at, updated_at";
pub(super) const CATEGORY_COLUMNS: &str = "org_id, id, name, color, sort_order, is_active, created_at, updated_at";
pub(super) const STAFF_COLUMNS: &str = "org_id, id, name, email, role, is_active, created_at, updated_at";
pub(super) const LEAD_FORM_COLUMNS: &str =
    "org_id, id, form_key, name, category_id, assigned_to, allowed_origins, is_active, created_by, created_at, updated_at";
pub(super) const NOTE_COLUMNS: &str = "org_id, id, opportunity_id, content, created_by, created_at";
pub(super) const ACTIVITY_COLUMNS: &str =
    "org_id, id, opportunity_id, activity_type, description, outcome, scheduled_at, completed_at, created_by, created_at";

pub(crate) fn corrupt(column: &str) -> Error {
    Error::internal(std::io::Error::other(format!("unexpected value in column {column}")))
}

fn parsed<T>(row: &impl RowReader, column: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T> {
    parse(&row.text(column)?).ok_or_else(|| corrupt(column))
}

pub(super) fn actor(row: &impl RowReader) -> Result<Actor> {
    Ok(Actor {
        org_id: row.uuid("org_id")?,
        staff_id: row.uuid("staff_id")?,
        name: row.text("name")?,
        role: parsed(row, "role", Role::parse)?,
        token_id: row.uuid("token_id")?,
        token_last_used_at: row.opt_timestamp("last_used_at")?,
    })
}

pub(super) fn token_info(row: &impl RowReader) -> Result<TokenInfo> {
    Ok(TokenInfo {
        id: row.uuid("id")?,
        staff_id: row.uuid("staff_id")?,
        name: row.opt_text("name")?,
        created_at: row.timestamp("created_at")?,
        last_used_at: row.opt_timestamp("last_used_at")?,
        revoked_at: row.opt_timestamp("revoked_at")?,
    })
}

pub(super) fn opportunity(row: &impl RowReader) -> Result<Opportunity> {
    Ok(Opportunity {
        id: row.uuid("id")?,
        org_id: row.uuid("org_id")?,
        client_id: row.opt_uuid("client_id")?,
        prospect_name: row.opt_text("prospect_name")?,
        prospect_email: row.opt_text("prospect_email")?,
        prospect_phone: row.opt_text("prospect_phone")?,
        category_id: row.opt_uuid("category_id")?,
        title: row.text("title")?,
        description: row.opt_text("description")?,
        estimated_value: row.opt_int("estimated_value")?.map(Money::from_cents),
        stage: Stage::from_storage(
            parsed(row, "status", Status::parse)?,
            row.int32("probability")?,
            row.opt_timestamp("closed_at")?,
            row.opt_text("closed_reason")?,
            row.opt_uuid("transaction_id")?,
        )
        .map_err(corrupt)?,
        source: row.opt_text("source")?,
        assigned_to: row.opt_uuid("assigned_to")?,
        follow_up_date: row.opt_timestamp("follow_up_date")?,
        created_by: row.uuid("created_by")?,
        created_at: row.timestamp("created_at")?,
        updated_at: row.timestamp("updated_at")?,
        version: row.int("version")?,
    })
}

pub(super) fn opportunity_view(row: &impl RowReader) -> Result<OpportunityView> {
    let opportunity = opportunity(row)?;
    let client = match (opportunity.client_id, row.opt_text("client_name")?) {
        (Some(id), Some(name)) => Some(ClientRef { id, name, email: row.opt_text("client_email")?, phone: row.opt_text("client_phone")? }),
        _ => None,
    };
    let category = match (opportunity.category_id, row.opt_text("category_name")?) {
        (Some(id), Some(name)) => Some(CategoryRef { id, name, color: row.text("category_color")? }),
        _ => None,
    };
    let assigned_staff = match (opportunity.assigned_to, row.opt_text("staff_name")?) {
        (Some(id), Some(name)) => Some(StaffRef { id, name, email: row.text("staff_email")? }),
        _ => None,
    };
    Ok(OpportunityView {
        opportunity,
        client,
        category,
        assigned_staff,
        notes_count: row.int("notes_count")?,
        activities_count: row.int("activities_count")?,
    })
}

pub(super) fn note(row: &impl RowReader) -> Result<Note> {
    Ok(Note {
        id: row.uuid("id")?,
        org_id: row.uuid("org_id")?,
        opportunity_id: row.uuid("opportunity_id")?,
        content: row.text("content")?,
        created_by: row.uuid("created_by")?,
        created_at: row.timestamp("created_at")?,
    })
}

pub(super) fn activity(row: &impl RowReader) -> Result<Activity> {
    Ok(Activity {
        id: row.uuid("id")?,
        org_id: row.uuid("org_id")?,
        opportunity_id: row.uuid("opportunity_id")?,
        activity_type: parsed(row, "activity_type", ActivityType::parse)?,
        description: row.text("description")?,
        outcome: row.opt_text("outcome")?,
        scheduled_at: row.opt_timestamp("scheduled_at")?,
        completed_at: row.opt_timestamp("completed_at")?,
        created_by: row.uuid("created_by")?,
        created_at: row.timestamp("created_at")?,
    })
}

pub(super) fn client(row: &impl RowReader) -> Result<Client> {
    Ok(Client {
        id: row.uuid("id")?,
        org_id: row.uuid("org_id")?,
        name: row.text("name")?,
        email: row.opt_text("email")?,
        phone: row.opt_text("phone")?,
        created_at: row.timestamp("created_at")?,
        updated_at: row.timestamp("updated_at")?,
    })
}

pub(super) fn category(row: &impl RowReader) -> Result<Category> {
    Ok(Category {
        id: row.uuid("id")?,
        org_id: row.uuid("org_id")?,
        name: row.text("name")?,
        color: row.text("color")?,
        sort_order: row.int32("sort_order")?,
        is_active: row.boolean("is_active")?,
        created_at: row.timestamp("created_at")?,
        updated_at: row.timestamp("updated_at")?,
    })
}

pub(super) fn staff(row: &impl RowReader) -> Result<Staff> {
    Ok(Staff {
        id: row.uuid("id")?,
        org_id: row.uuid("org_id")?,
        name: row.text("name")?,
        email: row.text("email")?,
        role: parsed(row, "role", Role::parse)?,
        is_active: row.boolean("is_active")?,
        created_at: row.timestamp("created_at")?,
        updated_at: row.timestamp("updated_at")?,
    })
}

pub(super) fn lead_form(row: &impl RowReader) -> Result<LeadForm> {
    Ok(LeadForm {
        id: row.uuid("id")?,
        org_id: row.uuid("org_id")?,
        form_key: row.text("form_key")?,
        name: row.text("name")?,
        category_id: row.opt_uuid("category_id")?,
        assigned_to: row.opt_uuid("assigned_to")?,
        allowed_origins: row.text("allowed_origins")?.lines().map(str::to_owned).collect(),
        is_active: row.boolean("is_active")?,
        created_by: row.uuid("created_by")?,
        created_at: row.timestamp("created_at")?,
        updated_at: row.timestamp("updated_at")?,
    })
}

pub(super) fn status_source_totals(row: &impl RowReader) -> Result<StatusSourceTotals> {
    Ok(StatusSourceTotals {
        status: parsed(row, "status", Status::parse)?,
        // The totals key "no source" as ''.
        source: row.opt_text("source")?.filter(|source| !source.is_empty()),
        count: row.int("count")?,
        value_cents: row.int("value_cents")?,
        weighted_cent_percents: row.int("weighted")?,
    })
}
