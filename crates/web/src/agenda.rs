//! The agenda, the signed-in staff member's start page: their follow-ups and scheduled
//! activities, overdue, today and in the coming week, by the organization's days (the same use
//! case as `GET /api/v1/agenda`), each linking to its lead, activities with a **Mark done**
//! button (a plain form post, CSRF-checked).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::activity::UpdateActivity;
use domain::agenda::{Agenda, AgendaItem, AgendaKind, AgendaQuery, DEFAULT_DAYS, Whose};
use domain::calendar::TimeZone;
use domain::{Error, Input, Patch, Timestamp};
use maud::{Markup, html};
use serde::Deserialize;
use store::service;
use uuid::Uuid;

use crate::WebState;
use crate::pages::{Section, csrf_field, error_page, label, query_value, short_day, staff_page};
use crate::session::{CheckedForm, SignedIn};

pub fn routes() -> Router<WebState> {
    Router::new().route("/agenda", get(agenda_page)).route("/agenda/{lead_id}/activities/{activity_id}/done", post(mark_done))
}

async fn agenda_page(State(state): State<WebState>, SignedIn(session): SignedIn, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    let query = AgendaQuery { whose: Whose::Staff(session.staff_id), days: DEFAULT_DAYS };
    let agenda = match service::agenda(state.store.as_ref(), &session.actor(), query, Timestamp::now()).await {
        Ok(agenda) => agenda,
        Err(error) => return error_page(&error),
    };
    let done = query_value(&pairs, "done").is_some();
    let csrf = csrf_field(&session);
    let main = html! {
        h1 { "Agenda" }
        p.muted { "Your follow-ups and scheduled activities, by the clinic's days (" (agenda.timezone.name()) ")." }
        @if done { p.panel.notice role="status" { "Marked as done." } }
        div.dashboard.agenda {
            (section(&agenda, "overdue", "Overdue", &agenda.overdue, agenda.truncated.overdue, &csrf))
            (section(&agenda, "today", "Today", &agenda.today, agenda.truncated.today, &csrf))
            (section(&agenda, "upcoming", "Next 7 days", &agenda.upcoming, agenda.truncated.upcoming, &csrf))
        }
    };
    staff_page("Agenda", &session, Section::Agenda, main, &[]).into_response()
}

fn section(agenda: &Agenda, id: &str, title: &str, items: &[AgendaItem], truncated: bool, csrf: &Markup) -> Markup {
    let heading = format!("{id}-heading");
    html! {
        section.panel aria-labelledby=(heading) data-section=(id) {
            h2 #(heading) { (title) " " span.small.muted { "(" (items.len()) @if truncated { "+" } ")" } }
            @if items.is_empty() {
                p.muted { "Nothing here." }
            } @else {
                ul.follow-up-list.agenda-list aria-labelledby=(heading) {
                    @for item in items { (entry(&agenda.timezone, item, csrf)) }
                }
            }
            @if truncated { p.small.muted { "Only the earliest 500 are shown." } }
        }
    }
}

fn entry(zone: &TimeZone, item: &AgendaItem, csrf: &Markup) -> Markup {
    let lead = &item.opportunity;
    let (hour, minute) = zone.time_of_day(item.due_at);
    let when = format!("{} {hour:02}:{minute:02}", short_day(zone.day_of(item.due_at)));
    html! {
        li.agenda-item data-kind=(kind_name(item.kind)) data-id=(lead.id) {
            div {
                span.chip { (kind_label(item)) } " "
                a href={ "/leads/" (lead.id) } { (lead.title) }
                " " span.chip.stage { (label(lead.status)) }
                br;
                span.small.muted { time datetime=(item.due_at.to_string()) { (when) } @if let Some(name) = &lead.name { " · " (name) } }
                @if let Some(activity) = &item.activity { br; span.small { (activity.description) } }
            }
            @if let Some(activity) = &item.activity {
                form method="post" action={ "/agenda/" (lead.id) "/activities/" (activity.id) "/done" } {
                    (csrf)
                    button type="submit" aria-label={ "Mark done: " (activity.description) } { "Mark done" }
                }
            }
        }
    }
}

fn kind_name(kind: AgendaKind) -> &'static str {
    match kind {
        AgendaKind::FollowUp => "follow_up",
        AgendaKind::Activity => "activity",
    }
}

fn kind_label(item: &AgendaItem) -> String {
    match &item.activity {
        None => "Follow-up".to_owned(),
        Some(activity) => {
            let name = activity.activity_type.as_str();
            let mut chars = name.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
        }
    }
}

#[derive(Deserialize)]
struct DoneForm {}

/// Completes the activity now and shows the agenda again.
async fn mark_done(
    State(state): State<WebState>,
    Path((lead_id, activity_id)): Path<(String, String)>,
    CheckedForm { session, form: DoneForm {} }: CheckedForm<DoneForm>,
) -> Response {
    let (Ok(lead_id), Ok(activity_id)) = (Uuid::parse_str(&lead_id), Uuid::parse_str(&activity_id)) else {
        return error_page(&Error::NotFound("activity"));
    };
    let input = Input::readable(UpdateActivity { completed_at: Patch::Value(Timestamp::now()), ..UpdateActivity::default() });
    match service::update_activity(state.store.as_ref(), &session.actor(), lead_id, activity_id, input).await {
        Ok(_) => Redirect::to("/agenda?done=1").into_response(),
        Err(error) => error_page(&error),
    }
}
