//! What the staff's pages share: the banner (with **New lead** one click from anywhere, and
//! signing out), the filters the board, the list and the dashboard read from their URLs, how
//! stages, amounts and follow-ups read, a plain message page, and how a use case's error reads
//! in a browser.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::auth::{Role, Staff};
use domain::calendar::{Day, TimeZone};
use domain::category::Category;
use domain::opportunity::{OpportunityView, Status};
use domain::query::SEARCH_MAX;
use domain::session::WebSession;
use domain::{Error, FieldErrors, Money, Timestamp};
use maud::{Markup, html};
use uuid::Uuid;

use crate::WebState;
use crate::assets::Asset;
use crate::layout::document;
use crate::session::CSRF_FIELD;

/// Which part of the banner's navigation a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Agenda,
    Board,
    List,
    Dashboard,
    NewLead,
    /// A lead's own pages, reached from the board: no banner link is current.
    Lead,
    Settings,
}

/// A whole page for a signed-in staff member.
pub fn staff_page(title: &str, session: &WebSession, section: Section, main: Markup, scripts: &[&Asset]) -> Markup {
    document(title, banner(session, section), main, scripts)
}

fn banner(session: &WebSession, section: Section) -> Markup {
    let current = |it: Section| (it == section).then_some("page");
    html! {
        header.banner {
            a.brand href="/board" { "Opportunities" }
            nav aria-label="Main" {
                ul {
                    li { a href="/agenda" aria-current=[current(Section::Agenda)] { "Agenda" } }
                    li { a href="/board" aria-current=[current(Section::Board)] { "Board" } }
                    li { a href="/leads" aria-current=[current(Section::List)] { "List" } }
                    li { a href="/dashboard" aria-current=[current(Section::Dashboard)] { "Dashboard" } }
                    li { a href="/leads/new" aria-current=[current(Section::NewLead)] { "+ New lead" } }
                    @if session.role.manages_organization() {
                        li { a href="/settings" aria-current=[current(Section::Settings)] { "Settings" } }
                    }
                }
            }
            span.spacer {}
            span.small.muted { (session.name) }
            form method="post" action="/sign-out" {
                (csrf_field(session))
                button type="submit" { "Sign out" }
            }
        }
    }
}

/// Which leads a page shows, as its GET form sends them and its links repeat them: the filters
/// the board, the list and the dashboard share.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// `None`: everyone's leads.
    pub assigned_to: Option<Uuid>,
    pub category_id: Option<Uuid>,
    pub source: Option<String>,
    pub search: Option<String>,
}

impl Filters {
    /// Reads the query string. Without an `assigned_to`, a member sees their own leads and an
    /// owner or admin everyone's; an empty one means everyone's. A value that is not an id
    /// counts as not given.
    pub fn read(pairs: &[(String, String)], session: &WebSession) -> Filters {
        let get = |name: &str| query_value(pairs, name).map(|value| value.trim().to_owned());
        let id = |name: &str| get(name).and_then(|value| Uuid::parse_str(&value).ok());
        let assigned_to = match get("assigned_to") {
            None if session.role == Role::Member => Some(session.staff_id),
            None => None,
            Some(_) => id("assigned_to"),
        };
        let text = |name: &str| get(name).filter(|value| !value.is_empty());
        Filters { assigned_to, category_id: id("category_id"), source: text("source"), search: text("search") }
    }

    /// The query string that reproduces these filters.
    pub fn query(&self) -> String {
        serde_urlencoded::to_string(self.link_pairs()).unwrap_or_default()
    }

    /// The pairs of [`Filters::query`]; `assigned_to` is always there, empty for everyone's.
    pub fn link_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![("assigned_to", self.assigned_to.map(|id| id.to_string()).unwrap_or_default())];
        pairs.extend(self.category_id.map(|id| ("category_id", id.to_string())));
        pairs.extend(self.source.clone().map(|source| ("source", source)));
        pairs.extend(self.search.clone().map(|search| ("search", search)));
        pairs
    }

    /// The filters as the API's list reads them: only those given.
    pub fn params(&self) -> Vec<(String, String)> {
        self.link_pairs().into_iter().filter(|(_, value)| !value.is_empty()).map(|(name, value)| (name.to_owned(), value)).collect()
    }

    /// The owner and category fields of a filter form.
    pub fn owner_and_category_fields(&self, staff: &[Staff], categories: &[Category]) -> Markup {
        html! {
            div.field {
                label for="filter-owner" { "Owner" }
                select #filter-owner name="assigned_to" {
                    option value="" selected[self.assigned_to.is_none()] { "Everyone" }
                    @for member in staff.iter().filter(|member| member.is_active) {
                        option value=(member.id) selected[self.assigned_to == Some(member.id)] { (member.name) }
                    }
                }
            }
            div.field {
                label for="filter-category" { "Category" }
                select #filter-category name="category_id" {
                    option value="" { "Any category" }
                    @for category in categories {
                        option value=(category.id) selected[self.category_id == Some(category.id)] { (category.name) }
                    }
                }
            }
        }
    }

    /// Every field of a filter form: owner, category, source and search.
    pub fn fields(&self, staff: &[Staff], categories: &[Category]) -> Markup {
        html! {
            (self.owner_and_category_fields(staff, categories))
            div.field {
                label for="filter-source" { "Source" }
                input #filter-source name="source" list="sources" value=[self.source.as_deref()];
                datalist #sources { @for source in SOURCES { option value=(source) {} } }
            }
            div.field {
                label for="filter-search" { "Search" }
                input #filter-search type="search" name="search" maxlength=(SEARCH_MAX) value=[self.search.as_deref()];
            }
        }
    }
}

/// The first value of a query parameter.
pub fn query_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

/// The seed's lead sources.
pub const SOURCES: [&str; 7] = ["website", "referral", "phone", "walk_in", "social", "event", "other"];

/// A stage's name as staff read it.
pub fn label(status: Status) -> &'static str {
    match status {
        Status::Open => "Open",
        Status::Contacted => "Contacted",
        Status::Qualified => "Qualified",
        Status::Proposal => "Proposal",
        Status::Won => "Won",
        Status::Lost => "Lost",
        Status::Stale => "Stale",
    }
}

/// An amount in dollars, with thousands separated: `$25,000.00`.
pub fn money(value: Money) -> String {
    let cents = value.cents().unsigned_abs();
    let digits = (cents / 100).to_string();
    let mut whole = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            whole.push(',');
        }
        whole.push(digit);
    }
    let sign = if value.is_negative() { "-" } else { "" };
    format!("{sign}${whole}.{:02}", cents % 100)
}

/// "1 lead", "2 leads".
pub fn leads(count: i64) -> &'static str {
    if count == 1 { "lead" } else { "leads" }
}

/// Where a lead's follow-up stands, in days of the organization's time zone as the follow-up
/// counters count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    /// Won or lost: nothing to follow up.
    Closed,
    Missing,
    Overdue {
        days: i64,
    },
    Today,
    Later(Day),
}

impl FollowUp {
    pub fn of(follow_up: Option<Day>, status: Status, today: Day) -> FollowUp {
        match follow_up {
            _ if status.is_closed() => FollowUp::Closed,
            None => FollowUp::Missing,
            Some(day) if day < today => FollowUp::Overdue { days: today.number() - day.number() },
            Some(day) if day == today => FollowUp::Today,
            Some(day) => FollowUp::Later(day),
        }
    }

    /// A chip that says it in words, coloured by urgency.
    pub fn chip(self) -> Markup {
        match self {
            FollowUp::Closed => html! {},
            FollowUp::Missing => html! { span.chip.warning { "No follow-up" } },
            FollowUp::Overdue { days } => html! { span.chip.danger { "Overdue " (days) " d" } },
            FollowUp::Today => html! { span.chip.success { "Today" } },
            FollowUp::Later(day) => html! { span.chip { (short_day(day)) } },
        }
    }
}

/// Today in the organization's time zone, which follow-ups are counted from.
pub async fn today(state: &WebState, session: &WebSession) -> domain::Result<Day> {
    Ok(time_zone(state, session).await?.day_of(Timestamp::now()))
}

/// The leads with `rotting` set as of now in the organization's pipeline settings (the store
/// leaves it false: it depends on the settings and the time).
pub async fn with_rotting(state: &WebState, session: &WebSession, leads: Vec<OpportunityView>) -> domain::Result<Vec<OpportunityView>> {
    let settings = state.store.pipeline_settings(session.org_id).await?;
    let now = Timestamp::now();
    Ok(leads.into_iter().map(|lead| lead.rotting_at(&settings, now)).collect())
}

/// A "Rotting" chip, in words, for a lead gone quiet past its stage's `rot_after_days`.
pub fn rotting_chip(view: &OpportunityView) -> Markup {
    html! {
        @if view.rotting { span.chip.warning title="No activity for longer than this stage allows" { "Rotting" } }
    }
}

/// The organization's time zone.
pub async fn time_zone(state: &WebState, session: &WebSession) -> domain::Result<TimeZone> {
    store::service::time_zone(state.store.as_ref(), session.org_id).await
}

/// `Tue 14 Oct`.
pub fn short_day(day: Day) -> String {
    let format = time::macros::format_description!("[weekday repr:short] [day padding:none] [month repr:short]");
    day.date().and_then(|date| date.format(&format).ok()).unwrap_or_default()
}

/// The hidden field every state-changing form of a signed-in page carries.
pub fn csrf_field(session: &WebSession) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf_token); }
}

/// How a form control shows that the use case refused its value: the attributes that tie the
/// control to the error message under it.
pub struct Invalid {
    pub aria_invalid: Option<&'static str>,
    pub described_by: Option<String>,
}

/// A form field: its label ("required" in words), the control `control` draws, and under it the
/// error the use case found in the field `name`, if it found one.
pub fn field(name: &str, label: &str, required: bool, errors: &FieldErrors, control: impl FnOnce(&Invalid) -> Markup) -> Markup {
    let error = errors.iter().find(|(field, _)| *field == name).map(|(_, message)| message);
    let invalid = Invalid { aria_invalid: error.map(|_| "true"), described_by: error.map(|_| format!("{name}-error")) };
    html! {
        div.field {
            label for=(name) { (label) @if required { " (required)" } }
            (control(&invalid))
            @if let Some(error) = error { div.error id={ (name) "-error" } { (sentence(&format!("{label} {error}"))) } }
        }
    }
}

/// A labelled input (see [`field`]).
pub fn input_field(name: &str, label: &str, kind: &str, value: &str, required: bool, errors: &FieldErrors) -> Markup {
    field(name, label, required, errors, |invalid| {
        html! {
            input id=(name) name=(name) type=(kind) value=(value) aria-invalid=[invalid.aria_invalid]
                aria-describedby=[invalid.described_by.as_deref()];
        }
    })
}

/// Above a refused form: what was not done, and that the fields to change are marked.
pub fn error_summary(errors: &FieldErrors, not_done: &str) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.error-summary #error-summary role="alert" tabindex="-1" {
                (not_done) ": " (errors.iter().count()) " field(s) need a change, marked below."
            }
        }
    }
}

/// A page with a heading and one paragraph, for refusals and dead ends.
pub fn message_page(title: &str, text: &str) -> Markup {
    let header = html! { header.banner { a.brand href="/" { "Opportunities" } } };
    let main = html! {
        div.narrow.panel {
            h1 { (title) }
            p { (text) }
            p { a href="/" { "Go to the start page" } }
        }
    };
    document(title, header, main, &[])
}

/// A use case's error as a page: what went wrong in words, never internals.
pub fn error_page(error: &Error) -> Response {
    let (status, title) = status_of(error);
    let text = match error {
        Error::Internal(_) => {
            tracing::error!(error = %error.describe(), "a page failed");
            "The server could not finish this. Try again in a moment.".to_owned()
        }
        Error::DatabaseUnavailable(_) => {
            tracing::warn!(error = %error.describe(), "database unavailable");
            "The database is not available right now. Try again in a moment; if you were saving something, check then whether it was saved."
                .to_owned()
        }
        other => sentence(&other.to_string()),
    };
    let mut response = (status, message_page(title, &text)).into_response();
    if let Error::DatabaseUnavailable(_) = error {
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(api::DATABASE_RETRY_AFTER_SECS));
    }
    response
}

/// The status and a page title for a use case's error.
pub fn status_of(error: &Error) -> (StatusCode, &'static str) {
    match error {
        Error::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
        Error::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed"),
        Error::InvalidParameter { .. } => (StatusCode::BAD_REQUEST, "Not understood"),
        Error::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Not done"),
        Error::PreconditionFailed { .. } => (StatusCode::PRECONDITION_FAILED, "Changed meanwhile"),
        Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
        Error::TookTooLong | Error::Contention => (StatusCode::SERVICE_UNAVAILABLE, "Busy"),
        Error::DatabaseUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable"),
        _ => (StatusCode::CONFLICT, "Not done"),
    }
}

/// `text` with a capital first letter and a full stop, as a sentence on a page.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_have_their_thousands_separated() {
        for (cents, text) in [
            (0, "$0.00"),
            (-5, "-$0.05"),
            (99_999, "$999.99"),
            (100_000, "$1,000.00"),
            (123_456_789, "$1,234,567.89"),
            (-100_000_000, "-$1,000,000.00"),
        ] {
            assert_eq!(money(Money::from_cents(cents)), text);
        }
    }
}
