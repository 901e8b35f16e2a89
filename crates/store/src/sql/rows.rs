//! How the rows of joins and aggregates read as domain types, for every backend. Rows of one
//! table read through its description in [`super::tables`].

use domain::auth::{Actor, Role, TokenInfo};
use domain::category::CategoryRef;
use domain::client::ClientRef;
use domain::opportunity::{OpportunityView, StaffRef, Status};
use domain::session::{LinkPurpose, PasswordLink, WebSession};
use domain::stats::StatusSourceTotals;
use domain::{Error, Result};

use super::RowReader;
use super::tables::OPPORTUNITIES;
use crate::PasswordHolder;

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
    format!("SELECT {}, {VIEW_COLUMNS} FROM opportunities o {VIEW_JOINS}", OPPORTUNITIES.select_list("o."))
}

/// The opportunities `page` selects (a query of `org_id, id`), as viewed, after the `extra`
/// columns. Embedding and counting happen for the page's rows only, not for every row the
/// filter matches.
pub(super) fn view_of_page(page: &str, extra: &str) -> String {
    format!(
        "SELECT {extra}{}, {VIEW_COLUMNS}
         FROM ({page}) page JOIN opportunities o ON o.org_id = page.org_id AND o.id = page.id {VIEW_JOINS}",
        OPPORTUNITIES.select_list("o.")
    )
}

pub(crate) fn corrupt(column: &str) -> Error {
    Error::internal(std::io::Error::other(format!("unexpected value in column {column}")))
}

/// Every organization gets its pipeline settings with it (and migration 0019 gave them to those
/// that existed), so a missing row is a broken database, not a missing record.
pub(super) fn no_pipeline_settings() -> Error {
    Error::internal(std::io::Error::other("the organization has no row in pipeline_settings"))
}

pub(super) fn parsed<T>(row: &dyn RowReader, column: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T> {
    parse(&row.text(column)?).ok_or_else(|| corrupt(column))
}

pub(super) fn web_session(row: &dyn RowReader) -> Result<WebSession> {
    Ok(WebSession {
        org_id: row.uuid("org_id")?,
        staff_id: row.uuid("staff_id")?,
        name: row.text("name")?,
        email: row.text("email")?,
        role: parsed(row, "role", Role::parse)?,
        csrf_token: row.text("csrf_token")?,
        created_at: row.timestamp("created_at")?,
        last_seen_at: row.timestamp("last_seen_at")?,
    })
}

pub(super) fn password_holder(row: &dyn RowReader) -> Result<PasswordHolder> {
    Ok(PasswordHolder { org_id: row.uuid("org_id")?, staff_id: row.uuid("staff_id")?, password_hash: row.text("password_hash")? })
}

pub(super) fn password_link(row: &dyn RowReader) -> Result<PasswordLink> {
    Ok(PasswordLink {
        org_id: row.uuid("org_id")?,
        staff_id: row.uuid("staff_id")?,
        purpose: parsed(row, "purpose", LinkPurpose::parse)?,
        created_at: row.timestamp("created_at")?,
        expires_at: row.timestamp("expires_at")?,
        used_at: row.opt_timestamp("used_at")?,
    })
}

pub(super) fn actor(row: &dyn RowReader) -> Result<Actor> {
    Ok(Actor {
        org_id: row.uuid("org_id")?,
        staff_id: row.uuid("staff_id")?,
        name: row.text("name")?,
        role: parsed(row, "role", Role::parse)?,
        token_id: row.uuid("token_id")?,
        token_last_used_at: row.opt_timestamp("last_used_at")?,
    })
}

pub(super) fn token_info(row: &dyn RowReader) -> Result<TokenInfo> {
    Ok(TokenInfo {
        id: row.uuid("id")?,
        staff_id: row.uuid("staff_id")?,
        name: row.opt_text("name")?,
        created_at: row.timestamp("created_at")?,
        last_used_at: row.opt_timestamp("last_used_at")?,
        revoked_at: row.opt_timestamp("revoked_at")?,
    })
}

pub(super) fn opportunity_view(row: &dyn RowReader) -> Result<OpportunityView> {
    let opportunity = (OPPORTUNITIES.read)(row)?;
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
        // Rotting depends on the organization's settings and the time: the caller knows them.
        rotting: false,
    })
}

pub(super) fn status_source_totals(row: &dyn RowReader) -> Result<StatusSourceTotals> {
    Ok(StatusSourceTotals {
        status: parsed(row, "status", Status::parse)?,
        // The totals key "no source" as ''.
        source: row.opt_text("source")?.filter(|source| !source.is_empty()),
        count: row.int("count")?,
        value_cents: row.int("value_cents")?,
        weighted_cent_percents: row.int("weighted")?,
    })
}
