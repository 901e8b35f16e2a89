//! The list of leads: a table of the leads the API's filters select, sorted by a column and
//! paged through the API's list use case, all of it in the URL so that a view can be bookmarked,
//! and a CSV export of every lead the view selects (the API's streamed export).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::calendar::Day;
use domain::opportunity::{OpportunityView, Status};
use domain::query::{DEFAULT_LIMIT, OpportunityFilter, QueryParams, SEARCH_PAGE_END};
use domain::search::Total;
use domain::session::WebSession;
use domain::settings::PipelineSettings;
use domain::{Error, Timestamp};
use maud::{Markup, html};

use crate::WebState;
use crate::pages::{Filters, FollowUp, Section, error_page, label, leads, money, query_value, sentence, staff_page};
use crate::session::SignedIn;

pub fn routes() -> Router<WebState> {
    Router::new().route("/leads", get(list)).route("/leads/export.csv", get(export))
}

/// The page sizes offered; the API allows up to 200.
const PAGE_SIZES: [i64; 3] = [25, DEFAULT_LIMIT, 100];

/// A column the list sorts by: the API's sort key, its heading, and which way a first click
/// sorts it (newest and largest first, but the soonest follow-up first).
struct SortColumn {
    key: &'static str,
    heading: &'static str,
    first_descending: bool,
}

const SORT_COLUMNS: [SortColumn; 4] = [
    SortColumn { key: "estimated_value", heading: "Value", first_descending: true },
    SortColumn { key: "follow_up_date", heading: "Follow-up", first_descending: false },
    SortColumn { key: "created_at", heading: "Created", first_descending: true },
    SortColumn { key: "updated_at", heading: "Updated", first_descending: true },
];

/// A list order, as the API's `sort` parameter writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sorting {
    key: &'static str,
    descending: bool,
}

/// The API's default order: newest first.
const NEWEST_FIRST: Sorting = Sorting { key: "created_at", descending: true };

impl Sorting {
    fn parse(text: &str) -> Option<Sorting> {
        let (descending, name) = text.strip_prefix('-').map_or((false, text), |name| (true, name));
        SORT_COLUMNS.iter().find(|column| column.key == name).map(|column| Sorting { key: column.key, descending })
    }

    fn param(self) -> String {
        format!("{}{}", if self.descending { "-" } else { "" }, self.key)
    }

    /// Where a click on `column`'s heading leads: the other way round when it is this order's
    /// column, else that column's first direction.
    fn clicked(self, column: &SortColumn) -> Sorting {
        let descending = if self.key == column.key { !self.descending } else { column.first_descending };
        Sorting { key: column.key, descending }
    }

    fn describe(self) -> String {
        let heading = SORT_COLUMNS.iter().find(|column| column.key == self.key).map_or(self.key, |column| column.heading);
        format!("{heading}, {}", if self.descending { "descending" } else { "ascending" })
    }
}

/// What the list shows, read from its URL. Values it cannot read count as not given, as on the
/// board: a bookmark with a deleted category still opens.
struct ListView {
    filters: Filters,
    statuses: Vec<Status>,
    follow_up_due: bool,
    rotting: bool,
    sort: Sorting,
    limit: i64,
    offset: i64,
}

impl ListView {
    fn read(pairs: &[(String, String)], session: &WebSession) -> ListView {
        let given: Vec<&str> = pairs.iter().filter(|(key, _)| key == "status").flat_map(|(_, value)| value.split(',')).collect();
        let number = |name: &str| query_value(pairs, name).and_then(|value| value.trim().parse::<i64>().ok());
        ListView {
            filters: Filters::read(pairs, session),
            statuses: Status::ALL.into_iter().filter(|status| given.iter().any(|given| given.trim() == status.as_str())).collect(),
            follow_up_due: query_value(pairs, "follow_up_due") == Some("true"),
            rotting: query_value(pairs, "rotting") == Some("true"),
            sort: query_value(pairs, "sort").and_then(Sorting::parse).unwrap_or(NEWEST_FIRST),
            limit: number("limit").filter(|limit| PAGE_SIZES.contains(limit)).unwrap_or(DEFAULT_LIMIT),
            offset: number("offset").filter(|offset| (0..=i64::from(i32::MAX)).contains(offset)).unwrap_or(0),
        }
    }

    /// Which leads the view selects, as links and the API write it (no order, no page).
    fn selection(&self) -> Vec<(&'static str, String)> {
        let mut pairs = self.filters.link_pairs();
        pairs.extend(self.statuses.iter().map(|status| ("status", status.as_str().to_owned())));
        if self.follow_up_due {
            pairs.push(("follow_up_due", "true".to_owned()));
        }
        if self.rotting {
            pairs.push(("rotting", "true".to_owned()));
        }
        pairs
    }

    /// The URL of this selection in the given order, from the given lead on.
    fn url(&self, sort: Sorting, offset: i64) -> String {
        let mut pairs = self.selection();
        if sort != NEWEST_FIRST {
            pairs.push(("sort", sort.param()));
        }
        if self.limit != DEFAULT_LIMIT {
            pairs.push(("limit", self.limit.to_string()));
        }
        if offset > 0 {
            pairs.push(("offset", offset.to_string()));
        }
        format!("/leads?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
    }

    fn export_url(&self) -> String {
        format!("/leads/export.csv?{}", serde_urlencoded::to_string(self.selection()).unwrap_or_default())
    }

    /// The API's list filter for this view, checked by the API's own parser.
    fn filter(&self, settings: &PipelineSettings) -> domain::Result<OpportunityFilter> {
        let mut pairs: Vec<(String, String)> =
            self.selection().into_iter().filter(|(_, value)| !value.is_empty()).map(|(name, value)| (name.to_owned(), value)).collect();
        pairs.extend([
            ("sort".to_owned(), self.sort.param()),
            ("limit".to_owned(), self.limit.to_string()),
            ("offset".to_owned(), self.offset.to_string()),
        ]);
        OpportunityFilter::parse_in(QueryParams::new(pairs)?, settings, Timestamp::now())
    }
}

/// One page of leads, or why the view cannot be listed (a search the API refuses).
enum Listing {
    Page { leads: Vec<OpportunityView>, total: Total },
    Refused { parameter: String, message: String },
}

async fn list(State(state): State<WebState>, SignedIn(session): SignedIn, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    let view = ListView::read(&pairs, &session);
    let settings = match state.store.pipeline_settings(session.org_id).await {
        Ok(settings) => settings,
        Err(error) => return error_page(&error),
    };
    let now = Timestamp::now();
    let today = settings.timezone.day_of(now);
    let page = match view.filter(&settings) {
        Ok(filter) => state
            .store
            .opportunities(session.org_id, &filter)
            .await
            .map(|(leads, total)| (leads.into_iter().map(|lead| lead.rotting_at(&settings, now)).collect::<Vec<_>>(), total)),
        Err(error) => Err(error),
    };
    let listing = match page {
        Ok((leads, total)) => Listing::Page { leads, total },
        Err(Error::InvalidParameter { parameter, message }) => Listing::Refused { parameter, message },
        Err(error) => return error_page(&error),
    };
    let staff = state.store.staff_members(session.org_id).await.unwrap_or_default();
    let categories = state.store.categories(session.org_id, false).await.unwrap_or_default();
    let main = html! {
        h1 { "Leads" }
        (filter_form(&view, &staff, &categories))
        @match &listing {
            Listing::Page { leads, total } => (results(&view, leads, *total, today)),
            Listing::Refused { parameter, message } => {
                div.error-summary role="alert" {
                    @if parameter == "search" {
                        a href="#filter-search" { (sentence(&format!("The search {message}"))) }
                    } @else {
                        (sentence(&format!("{parameter} {message}")))
                    }
                }
            }
        }
    };
    let status = if matches!(listing, Listing::Refused { .. }) { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    (status, staff_page("Leads", &session, Section::List, main, &[])).into_response()
}

/// Every lead the view selects, as the API's export writes them (all pages, creation order).
async fn export(State(state): State<WebState>, SignedIn(session): SignedIn, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    let filter = match state.store.pipeline_settings(session.org_id).await {
        Ok(settings) => ListView::read(&pairs, &session).filter(&settings),
        Err(error) => Err(error),
    };
    match filter {
        Ok(filter) => api::opportunities_csv(state.store.clone(), session.org_id, filter),
        Err(error) => error_page(&error),
    }
}

fn filter_form(view: &ListView, staff: &[domain::auth::Staff], categories: &[domain::category::Category]) -> Markup {
    html! {
        form.filters.actions method="get" action="/leads" role="search" aria-label="Filter the list" {
            (view.filters.fields(staff, categories))
            fieldset.stages {
                legend { "Stage" }
                @for status in Status::ALL {
                    label.check {
                        input type="checkbox" name="status" value=(status.as_str()) checked[view.statuses.contains(&status)];
                        " " (label(status))
                    }
                }
            }
            label.check {
                input type="checkbox" name="follow_up_due" value="true" checked[view.follow_up_due];
                " Follow-up due (today or overdue)"
            }
            label.check {
                input type="checkbox" name="rotting" value="true" checked[view.rotting];
                " Rotting (no activity for longer than its stage allows)"
            }
            div.field {
                label for="list-sort" { "Sort by" }
                select #list-sort name="sort" {
                    @for column in &SORT_COLUMNS {
                        @for descending in [true, false] {
                            @let sorting = Sorting { key: column.key, descending };
                            option value=(sorting.param()) selected[sorting == view.sort] { (sorting.describe()) }
                        }
                    }
                }
            }
            div.field {
                label for="list-limit" { "Per page" }
                select #list-limit name="limit" {
                    @for size in PAGE_SIZES { option value=(size) selected[size == view.limit] { (size) } }
                }
            }
            button type="submit" { "Apply filters" }
            a href="/leads?assigned_to=" { "Clear filters" }
        }
    }
}

fn results(view: &ListView, rows: &[OpportunityView], total: Total, today: Day) -> Markup {
    let count = if total.exact { total.count.to_string() } else { format!("more than {}", total.count) };
    let first = view.offset + 1;
    let last = view.offset + rows.len() as i64;
    html! {
        div.list-summary.actions {
            p #list-count role="status" {
                @if rows.is_empty() { "No leads match. " a href="/leads?assigned_to=" { "Clear filters" } }
                @else { "Showing " (first) "–" (last) " of " span data-total=(total.count) { (count) } " " (leads(total.count)) }
            }
            @if total.count > 0 {
                a.button #export href=(view.export_url()) download { "Export CSV" span.visually-hidden { " of these " (count) " " (leads(total.count)) } }
            }
        }
        @if !rows.is_empty() {
            div.table-scroll role="region" aria-labelledby="list-caption" tabindex="0" {
                table.leads {
                    caption #list-caption.visually-hidden { "Leads, sorted by " (view.sort.describe()) }
                    thead {
                        tr {
                            th scope="col" { "Lead" }
                            th scope="col" { "Contact" }
                            th scope="col" { "Stage" }
                            (sortable_heading(view, &SORT_COLUMNS[0]))
                            th scope="col" { "Owner" }
                            th scope="col" { "Category" }
                            th scope="col" { "Source" }
                            (sortable_heading(view, &SORT_COLUMNS[1]))
                            (sortable_heading(view, &SORT_COLUMNS[2]))
                            (sortable_heading(view, &SORT_COLUMNS[3]))
                        }
                    }
                    tbody { @for lead in rows { (row(lead, today)) } }
                }
            }
            (pager(view, rows.len() as i64, total))
        }
    }
}

/// A column heading that sorts by its column: `aria-sort` on the current one.
fn sortable_heading(view: &ListView, column: &SortColumn) -> Markup {
    let current = view.sort.key == column.key;
    let aria_sort = current.then_some(if view.sort.descending { "descending" } else { "ascending" });
    let arrow = match aria_sort {
        Some("descending") => "▼",
        Some(_) => "▲",
        None => "",
    };
    let next = view.sort.clicked(column);
    html! {
        th scope="col" aria-sort=[aria_sort] {
            a.sort href=(view.url(next, 0)) data-sort=(column.key) {
                (column.heading)
                span.visually-hidden { ", sort " (if next.descending { "descending" } else { "ascending" }) }
                @if !arrow.is_empty() { " " span aria-hidden="true" { (arrow) } }
            }
        }
    }
}

fn row(view: &OpportunityView, today: Day) -> Markup {
    let lead = &view.opportunity;
    let status = lead.stage.status();
    let contact = view.client.as_ref().map(|client| client.name.as_str()).or(lead.prospect_name.as_deref());
    html! {
        tr data-id=(lead.id) {
            td { a href={ "/leads/" (lead.id) } { (lead.title) } }
            td { (contact.unwrap_or("")) }
            td { span.chip.stage data-status=(status.as_str()) { (label(status)) } " " (crate::pages::rotting_chip(view)) }
            td.number { (lead.estimated_value.map(money).unwrap_or_default()) }
            td { (view.assigned_staff.as_ref().map(|staff| staff.name.as_str()).unwrap_or("")) }
            td {
                @if let Some(category) = &view.category {
                    span.chip.category style={ "--cat:" (category.color) } { (category.name) }
                }
            }
            td { (lead.source.as_deref().unwrap_or("")) }
            td { (FollowUp::of(lead.follow_up_day, status, today).chip()) }
            td.nowrap { (lead.created_at.datetime().date()) }
            td.nowrap { (lead.updated_at.datetime().date()) }
        }
    }
}

/// Previous and next pages. With a search, the API pages through the first
/// [`SEARCH_PAGE_END`] matches only, so no link goes past them.
fn pager(view: &ListView, shown: i64, total: Total) -> Markup {
    let previous = (view.offset > 0).then(|| (view.offset - view.limit).max(0));
    let next_offset = view.offset + shown;
    let more = next_offset < total.count || (!total.exact && shown == view.limit);
    let reachable = view.filters.search.is_none() || next_offset + view.limit <= SEARCH_PAGE_END;
    let next = (more && reachable).then_some(next_offset);
    html! {
        @if previous.is_some() || next.is_some() {
            nav.pager.actions aria-label="Pages" {
                @if let Some(offset) = previous { a.button href=(view.url(view.sort, offset)) rel="prev" { "Previous " (view.limit) } }
                @if let Some(offset) = next { a.button href=(view.url(view.sort, offset)) rel="next" { "Next " (view.limit) } }
            }
        }
    }
}
