//! The columns of an export, by stable names that an import recognises, so that an exported
//! file imports back as it was. Each writer turns one record into its cells in header order.

use crate::client::Client;
use crate::opportunity::OpportunityView;

/// The header of an opportunity export. Columns are only ever added at the end.
pub const OPPORTUNITY_COLUMNS: [&str; 20] = [
    "id",
    "title",
    "prospect_name",
    "prospect_email",
    "prospect_phone",
    "client_id",
    "client_name",
    "category",
    "owner_email",
    "status",
    "probability",
    "estimated_value",
    "source",
    "follow_up_date",
    "closed_at",
    "closed_reason",
    "transaction_id",
    "description",
    "created_at",
    "updated_at",
];

/// The header of a client export.
pub const CLIENT_COLUMNS: [&str; 6] = ["id", "name", "email", "phone", "created_at", "updated_at"];

/// One opportunity's cells, in [`OPPORTUNITY_COLUMNS`] order; an absent value is an empty cell.
pub fn opportunity_record(view: &OpportunityView) -> [String; OPPORTUNITY_COLUMNS.len()] {
    let o = &view.opportunity;
    [
        o.id.to_string(),
        o.title.clone(),
        text(&o.prospect_name),
        text(&o.prospect_email),
        text(&o.prospect_phone),
        shown(o.client_id),
        shown(view.client.as_ref().map(|client| &client.name)),
        shown(view.category.as_ref().map(|category| &category.name)),
        shown(view.assigned_staff.as_ref().map(|staff| &staff.email)),
        o.stage.status().as_str().to_owned(),
        o.stage.probability().to_string(),
        shown(o.estimated_value),
        text(&o.source),
        shown(o.follow_up_date),
        shown(o.stage.closed_at()),
        shown(o.stage.closed_reason()),
        shown(o.stage.transaction_id()),
        text(&o.description),
        o.created_at.to_string(),
        o.updated_at.to_string(),
    ]
}

/// One client's cells, in [`CLIENT_COLUMNS`] order.
pub fn client_record(client: &Client) -> [String; CLIENT_COLUMNS.len()] {
    [
        client.id.to_string(),
        client.name.clone(),
        text(&client.email),
        text(&client.phone),
        client.created_at.to_string(),
        client.updated_at.to_string(),
    ]
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

fn shown(value: Option<impl ToString>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}
