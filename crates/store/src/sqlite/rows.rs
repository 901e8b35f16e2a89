//! Column lists and the mapping from SQLite rows to domain types.

use domain::activity::{Activity, ActivityType, Note};
use domain::auth::{Role, Staff};
use domain::category::{Category, CategoryRef};
use domain::client::{Client, ClientRef};
use domain::opportunity::{Opportunity, OpportunityView, StaffRef, Status};
use domain::stats::StatusSourceTotals;
use domain::{Error, Money, Result, Timestamp};
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row, Sqlite, Type};


use crate::DbResult;

macro_rules! opportunity_columns {
    () => {
        "o.org_id, o.id, o.client_id, o.prospect_name, o.prospect_email, o.prospect_phone, o.category_id, o.title,
         o.description, o.estimated_value, o.probability, o.status, o.source, o.assigned_to, o.follow_up_date,
         o.closed_at, o.closed_reason, o.transaction_id, o.created_by, o.created_at, o.updated_at, o.version"
    };
}

/// An opportunity with what lists and the single view embed.
macro_rules! view_select {
    () => {
        concat!(
            "SELECT ",
            opportunity_columns!(),
            ", c.name AS client_name, c.email AS client_email, c.phone AS client_phone,
             cat.name AS category_name, cat.color AS category_color,
             s.name AS staff_name, s.email AS staff_email,
             (SELECT COUNT(*) FROM notes n WHERE n.org_id = o.org_id AND n.opportunity_id = o.id) AS notes_count,
             (SELECT COUNT(*) FROM activities a WHERE a.org_id = o.org_id AND a.opportunity_id = o.id) AS activities_count
             FROM opportunities o
             LEFT JOIN clients c ON c.org_id = o.org_id AND c.id = o.client_id
             LEFT JOIN categories cat ON cat.org_id = o.org_id AND cat.id = o.category_id
             LEFT JOIN staff s ON s.org_id = o.org_id AND s.id = o.assigned_to"
        )
    };
}

macro_rules! client_columns {
    () => {
        "org_id, id, name, email, phone, created_at, updated_at"
    };
}

macro_rules! category_columns {
    () => {
        "org_id, id, name, color, sort_order, is_active, created_at, updated_at"
    };
}

macro_rules! staff_columns {
    () => {
        "org_id, id, name, email, role, is_active, created_at, updated_at"
    };
}

pub(super) use {category_columns, client_columns, opportunity_columns, staff_columns, view_select};

pub(super) const VIEW_SELECT: &str = view_select!();

pub(super) fn get<'r, T: Decode<'r, Sqlite> + Type<Sqlite>>(row: &'r SqliteRow, column: &str) -> Result<T> {
    row.try_get(column).db()
}

pub(super) fn corrupt(column: &str) -> Error {
    Error::internal(std::io::Error::other(format!("unexpected value in column {column}")))
}

fn timestamp(row: &SqliteRow, column: &str) -> Result<Timestamp> {
    Timestamp::from_unix_micros(get(row, column)?).ok_or_else(|| corrupt(column))
}

fn optional_timestamp(row: &SqliteRow, column: &str) -> Result<Option<Timestamp>> {
    get::<Option<i64>>(row, column)?.map(|m| Timestamp::from_unix_micros(m).ok_or_else(|| corrupt(column))).transpose()
}

pub(super) fn micros(at: Option<Timestamp>) -> Option<i64> {
    at.map(Timestamp::unix_micros)
}

pub(super) fn opportunity(row: &SqliteRow) -> Result<Opportunity> {
    Ok(Opportunity {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        client_id: get(row, "client_id")?,
        prospect_name: get(row, "prospect_name")?,
        prospect_email: get(row, "prospect_email")?,
        prospect_phone: get(row, "prospect_phone")?,
        category_id: get(row, "category_id")?,
        title: get(row, "title")?,
        description: get(row, "description")?,
        estimated_value: get::<Option<i64>>(row, "estimated_value")?.map(Money::from_cents),
        probability: get(row, "probability")?,
        status: status(row)?,
        source: get(row, "source")?,
        assigned_to: get(row, "assigned_to")?,
        follow_up_date: optional_timestamp(row, "follow_up_date")?,
        closed_at: optional_timestamp(row, "closed_at")?,
        closed_reason: get(row, "closed_reason")?,
        transaction_id: get(row, "transaction_id")?,
        created_by: get(row, "created_by")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
        version: get(row, "version")?,
    })
}

fn status(row: &SqliteRow) -> Result<Status> {
    Status::parse(&get::<String>(row, "status")?).ok_or_else(|| corrupt("status"))
}

pub(super) fn opportunity_view(row: &SqliteRow) -> Result<OpportunityView> {
    let opportunity = opportunity(row)?;
    let client = match (opportunity.client_id, get::<Option<String>>(row, "client_name")?) {
        (Some(id), Some(name)) => Some(ClientRef { id, name, email: get(row, "client_email")?, phone: get(row, "client_phone")? }),
        _ => None,
    };
    let category = match (opportunity.category_id, get::<Option<String>>(row, "category_name")?) {
        (Some(id), Some(name)) => Some(CategoryRef { id, name, color: get(row, "category_color")? }),
        _ => None,
    };
    let assigned_staff = match (opportunity.assigned_to, get::<Option<String>>(row, "staff_name")?) {
        (Some(id), Some(name)) => Some(StaffRef { id, name, email: get(row, "staff_email")? }),
        _ => None,
    };
    Ok(OpportunityView {
        opportunity,
        client,
        category,
        assigned_staff,
        notes_count: get(row, "notes_count")?,
        activities_count: get(row, "activities_count")?,
    })
}

pub(super) fn note(row: &SqliteRow) -> Result<Note> {
    Ok(Note {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        opportunity_id: get(row, "opportunity_id")?,
        content: get(row, "content")?,
        created_by: get(row, "created_by")?,
        created_at: timestamp(row, "created_at")?,
    })
}

pub(super) fn activity(row: &SqliteRow) -> Result<Activity> {
    Ok(Activity {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        opportunity_id: get(row, "opportunity_id")?,
        activity_type: ActivityType::parse(&get::<String>(row, "activity_type")?).ok_or_else(|| corrupt("activity_type"))?,
        description: get(row, "description")?,
        outcome: get(row, "outcome")?,
        scheduled_at: optional_timestamp(row, "scheduled_at")?,
        completed_at: optional_timestamp(row, "completed_at")?,
        created_by: get(row, "created_by")?,
        created_at: timestamp(row, "created_at")?,
    })
}

pub(super) fn client(row: &SqliteRow) -> Result<Client> {
    Ok(Client {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        name: get(row, "name")?,
        email: get(row, "email")?,
        phone: get(row, "phone")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

pub(super) fn category(row: &SqliteRow) -> Result<Category> {
    Ok(Category {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        name: get(row, "name")?,
        color: get(row, "color")?,
        sort_order: get(row, "sort_order")?,
        is_active: get(row, "is_active")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

pub(super) fn staff(row: &SqliteRow) -> Result<Staff> {
    Ok(Staff {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        name: get(row, "name")?,
        email: get(row, "email")?,
        role: Role::parse(&get::<String>(row, "role")?).ok_or_else(|| corrupt("role"))?,
        is_active: get(row, "is_active")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

pub(super) fn status_source_totals(row: &SqliteRow) -> Result<StatusSourceTotals> {
    Ok(StatusSourceTotals {
        status: status(row)?,
        source: get(row, "source")?,
        count: get(row, "count")?,
        value_cents: get(row, "value_cents")?,
        weighted_cent_percents: get(row, "weighted")?,
        follow_up_due: get(row, "follow_up_due")?,
    })
}

