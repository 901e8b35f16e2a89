//! The board: one column per stage with its exact count and value over the filtered set, the
//! first cards of each, and moving a card to another stage by dragging it (SortableJS) or with
//! its **Move** form, both through the same use case as the API's `PATCH`, with the card's
//! version as the precondition.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use domain::calendar::{Day, TimeZone};
use domain::opportunity::{OpportunityView, Status, UpdateOpportunity};
use domain::query::{OpportunityFilter, QueryParams, StatsFilter};
use domain::search::Total;
use domain::session::WebSession;
use domain::stats::StageTotals;
use domain::{Error, Input, Money, Timestamp};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use store::service;
use uuid::Uuid;

use crate::WebState;
use crate::assets::{BOARD_SCRIPT, SORTABLE};
use crate::pages::{Filters, FollowUp, Section, csrf_field, error_page, label, money, query_value, sentence, staff_page};
use crate::session::{CheckedForm, SignedIn};

/// Cards a column shows at first, and how many more each "Show more" adds.
pub const CARDS_PER_PAGE: i64 = 25;

pub fn routes() -> Router<WebState> {
    Router::new().route("/board", get(board)).route("/board/column/{status}", get(more_cards)).route("/board/move", post(move_card))
}

/// The list filter for one column's page of cards.
fn column_filter(filters: &Filters, status: Status, offset: i64) -> domain::Result<OpportunityFilter> {
    let mut pairs = filters.params();
    pairs.extend([
        ("status".to_owned(), status.as_str().to_owned()),
        ("limit".to_owned(), CARDS_PER_PAGE.to_string()),
        ("offset".to_owned(), offset.to_string()),
    ]);
    // No `follow_up_due` among them: the zone and the time are never read.
    OpportunityFilter::parse(QueryParams::new(pairs)?, &TimeZone::utc(), Timestamp::now())
}

/// One column's figures over every lead the filters select, not only the cards shown.
#[derive(Debug, Clone, Copy)]
struct Figures {
    count: Total,
    /// Unknown with a search: the search's matches are counted, not summed (see decisions).
    value: Option<Money>,
}

struct Column {
    status: Status,
    cards: Vec<OpportunityView>,
    figures: Figures,
}

/// Every column's figures: from the totals the database keeps (constant time), narrowed to the
/// source in the filters; with a search, from each column's counted page instead.
async fn figures(state: &WebState, session: &WebSession, filters: &Filters, today: Day) -> domain::Result<Vec<StageTotals>> {
    let stats_filter = StatsFilter { assigned_to: filters.assigned_to, category_id: filters.category_id };
    let totals = state.store.stats(session.org_id, &stats_filter, today).await?;
    Ok(totals.per_stage(filters.source.as_ref().map(|source| source.to_lowercase()).as_deref()))
}

async fn columns(state: &WebState, session: &WebSession, filters: &Filters, today: Day) -> domain::Result<Vec<Column>> {
    let known = if filters.search.is_none() { Some(figures(state, session, filters, today).await?) } else { None };
    let mut columns = Vec::with_capacity(Status::ALL.len());
    for status in Status::ALL {
        let (cards, total) = state.store.opportunities(session.org_id, &column_filter(filters, status, 0)?).await?;
        let cards = crate::pages::with_rotting(state, session, cards).await?;
        let figures = match known.as_ref().and_then(|known| known.iter().find(|stage| stage.status == status)) {
            Some(stage) => Figures { count: Total::exact(stage.count), value: Some(stage.value) },
            None => Figures { count: total, value: None },
        };
        columns.push(Column { status, cards, figures });
    }
    Ok(columns)
}

async fn board(State(state): State<WebState>, SignedIn(session): SignedIn, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    let filters = Filters::read(&pairs, &session);
    let columns = match crate::pages::today(&state, &session).await {
        Ok(today) => columns(&state, &session, &filters, today).await.map(|columns| (columns, today)),
        Err(error) => Err(error),
    };
    let (columns, today) = match columns {
        Ok(columns) => columns,
        Err(error) => return error_page(&error),
    };
    let notice = notice(&state, &session, &pairs).await;
    let staff = state.store.staff_members(session.org_id).await.unwrap_or_default();
    let categories = state.store.categories(session.org_id, false).await.unwrap_or_default();
    let main = html! {
        h1 { "Board" }
        (filter_form(&filters, &staff, &categories))
        @if let Some(notice) = notice { (notice) }
        div.board #board data-csrf=(session.csrf_token) data-return=(filters.query()) {
            @for column in &columns { (column_section(&session, &filters, today, column)) }
        }
        (close_dialog())
        div.toasts #toasts {}
    };
    staff_page("Board", &session, Section::Board, main, &[&SORTABLE, &BOARD_SCRIPT]).into_response()
}

/// The message after a move by form (what moved, or why it did not), a new lead or a delete.
async fn notice(state: &WebState, session: &WebSession, pairs: &[(String, String)]) -> Option<Markup> {
    if pairs.iter().any(|(key, _)| key == "deleted") {
        return Some(html! { p.panel role="status" { "The lead was deleted." } });
    }
    let (kind, id) = pairs.iter().find(|(key, _)| ["moved", "conflict", "created"].contains(&key.as_str()))?;
    let view = state.store.opportunity_view(session.org_id, Uuid::parse_str(id).ok()?).await.ok()??;
    let stage = label(view.opportunity.stage.status());
    Some(match kind.as_str() {
        "moved" => html! { p.panel role="status" { "Moved " strong { (view.opportunity.title) } " to " (stage) "." } },
        "created" => html! { p.panel role="status" { "Added " strong { (view.opportunity.title) } " to " (stage) "." } },
        _ => html! { div.error-summary role="alert" { (conflict_message(&view)) } },
    })
}

fn conflict_message(view: &OpportunityView) -> String {
    format!(
        "“{}” was changed by someone else after you opened the board; it is now in {} (last changed {}). Your move wasn't applied.",
        view.opportunity.title,
        label(view.opportunity.stage.status()),
        ago(view.opportunity.updated_at)
    )
}

pub fn ago(at: Timestamp) -> String {
    let minutes = (Timestamp::now().unix_micros() - at.unix_micros()) / 60_000_000;
    match minutes {
        ..1 => "just now".to_owned(),
        1 => "1 minute ago".to_owned(),
        2..60 => format!("{minutes} minutes ago"),
        _ => format!("{} hours ago", minutes / 60),
    }
}

fn filter_form(filters: &Filters, staff: &[domain::auth::Staff], categories: &[domain::category::Category]) -> Markup {
    html! {
        form.filters.actions method="get" action="/board" role="search" aria-label="Filter the board" {
            (filters.fields(staff, categories))
            button type="submit" { "Apply filters" }
            a href="/board?assigned_to=" { "Clear filters" }
        }
    }
}

fn column_section(session: &WebSession, filters: &Filters, today: Day, column: &Column) -> Markup {
    let status = column.status.as_str();
    let heading = format!("column-{status}");
    html! {
        section.column #{ "col-" (status) } aria-labelledby=(heading) data-status=(status) {
            h2 #(heading) {
                (label(column.status)) " "
                span.count data-count=(status) { (count_text(column.figures.count)) }
            }
            p.small.muted.figure data-value=(status) { (value_text(column.figures.value)) }
            ul.cards data-status=(status) aria-label={ (label(column.status)) " leads" } {
                @for card in &column.cards { (card_item(session, filters, today, card)) }
                (more_item(filters, column.status, column.cards.len() as i64, column.figures.count))
            }
            @if column.cards.is_empty() { p.small.muted.empty { "No leads in " (label(column.status)) } }
        }
    }
}

fn count_text(count: Total) -> String {
    if count.exact { count.count.to_string() } else { format!("{}+", count.count) }
}

fn value_text(value: Option<Money>) -> String {
    value.map_or_else(|| "Value not summed for a search".to_owned(), |value| format!("Total {}", money(value)))
}

/// "Show more (of N)" after a column's cards, while more are left.
fn more_item(filters: &Filters, status: Status, shown: i64, count: Total) -> Markup {
    if shown >= count.count || shown % CARDS_PER_PAGE != 0 || shown == 0 {
        return html! {};
    }
    let href = format!("/board/column/{}?{}&offset={shown}", status.as_str(), filters.query());
    html! {
        li.more {
            a href=(href) {
                "Show more (of " (count_text(count)) ")"
            }
        }
    }
}

/// The next cards of one column: a fragment replacing the "Show more" item for the board's
/// script (which sends `HX-Request`, as htmx would), or a page of its own without JavaScript.
async fn more_cards(
    State(state): State<WebState>,
    SignedIn(session): SignedIn,
    Path(status): Path<String>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let Some(status) = Status::parse(&status) else { return error_page(&Error::NotFound("stage")) };
    let filters = Filters::read(&pairs, &session);
    let offset = query_value(&pairs, "offset").and_then(|value| value.parse::<i64>().ok()).unwrap_or(0).max(0);
    let page = match (column_filter(&filters, status, offset), crate::pages::today(&state, &session).await) {
        (Ok(filter), Ok(today)) => state.store.opportunities(session.org_id, &filter).await.map(|page| (page, today)),
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    let ((cards, total), today) = match page {
        Ok(page) => page,
        Err(error) => return error_page(&error),
    };
    let cards = match crate::pages::with_rotting(&state, &session, cards).await {
        Ok(cards) => cards,
        Err(error) => return error_page(&error),
    };
    let items = html! {
        @for card in &cards { (card_item(&session, &filters, today, card)) }
        (more_item(&filters, status, offset + cards.len() as i64, total))
    };
    if headers.contains_key("hx-request") {
        return items.into_response();
    }
    let main = html! {
        h1 { (label(status)) ": more leads" }
        p { a href={ "/board?" (filters.query()) } { "Back to the board" } }
        ul.cards.column-page { (items) }
    };
    staff_page(label(status), &session, Section::Board, main, &[]).into_response()
}

fn card_item(session: &WebSession, filters: &Filters, today: Day, view: &OpportunityView) -> Markup {
    let lead = &view.opportunity;
    let id = lead.id;
    let status = lead.stage.status();
    let who = view.client.as_ref().map(|client| client.name.as_str()).or(lead.prospect_name.as_deref());
    let category_style = view.category.as_ref().map(|category| format!("--cat:{}", category.color));
    let select_id = format!("move-{id}");
    html! {
        li.card #{ "card-" (id) } tabindex="-1" data-id=(id) data-version=(lead.version) style=[category_style] {
            p.card-title { a href={ "/leads/" (id) } draggable="false" { (lead.title) } }
            @if let Some(who) = who { p.small.muted { (who) } }
            p.card-meta.small {
                @if let Some(value) = lead.estimated_value { span.money { (money(value)) } }
                @if let Some(category) = &view.category { span.chip.category { (category.name) } }
                @if let Some(staff) = &view.assigned_staff {
                    abbr.initials title={ "Owner: " (staff.name) } { (initials(&staff.name)) }
                }
                (FollowUp::of(lead.follow_up_day, status, today).chip())
                (crate::pages::rotting_chip(view))
            }
            form.move method="post" action="/board/move" {
                (csrf_field(session))
                input type="hidden" name="id" value=(id);
                input type="hidden" name="version" value=(lead.version);
                input type="hidden" name="return_to" value=(filters.query());
                label.visually-hidden for=(select_id) { "Move " (lead.title) " to" }
                select id=(select_id) name="status" {
                    @for stage in Status::ALL {
                        option value=(stage.as_str()) selected[stage == status] { (label(stage)) }
                    }
                }
                button type="submit" { "Move" span.visually-hidden { " " (lead.title) } }
            }
        }
    }
}

fn initials(name: &str) -> String {
    name.split_whitespace().filter_map(|word| word.chars().next()).take(2).flat_map(char::to_uppercase).collect()
}

/// Asked when a card is dropped on Won or Lost: Lost needs a reason, Won may have one.
fn close_dialog() -> Markup {
    html! {
        dialog #close-dialog aria-labelledby="close-title" {
            form method="dialog" {
                h2 #close-title { "Close this lead" }
                div.field {
                    label for="close-reason" { "Reason " span #close-required { "(required)" } }
                    input #close-reason name="reason" maxlength="1000";
                }
                div.actions {
                    button.primary type="submit" value="confirm" { "Close lead" }
                    button type="submit" value="cancel" formnovalidate { "Cancel" }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct MoveForm {
    id: String,
    version: String,
    status: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    return_to: Option<String>,
}

/// What a move came to, for the script (JSON) and for a form post (a redirect or a page).
enum Moved {
    Done(OpportunityView),
    /// The card changed since it was shown: its current state.
    Conflict(OpportunityView),
    NeedsReason,
    Refused(Error),
}

async fn move_card(State(state): State<WebState>, headers: HeaderMap, CheckedForm { session, form }: CheckedForm<MoveForm>) -> Response {
    let wants_json = headers.get(header::ACCEPT).and_then(|accept| accept.to_str().ok()).is_some_and(|a| a.contains("application/json"));
    let return_to = form.return_to.clone().unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&return_to).unwrap_or_default();
    let filters = Filters::read(&pairs, &session);
    let outcome = apply_move(&state, &session, &form).await;
    if wants_json {
        return move_json(&state, &session, &filters, outcome).await;
    }
    match outcome {
        Moved::Done(view) => {
            Redirect::to(&format!("/board?{}&moved={}#card-{}", filters.query(), view.opportunity.id, view.opportunity.id))
        }
        Moved::Conflict(view) => {
            Redirect::to(&format!("/board?{}&conflict={}#card-{}", filters.query(), view.opportunity.id, view.opportunity.id))
        }
        Moved::NeedsReason => return reason_page(&session, &form),
        Moved::Refused(error) => return error_page(&error),
    }
    .into_response()
}

async fn apply_move(state: &WebState, session: &WebSession, form: &MoveForm) -> Moved {
    let (Ok(id), Ok(version), Some(status)) = (Uuid::parse_str(&form.id), form.version.parse::<i64>(), Status::parse(&form.status)) else {
        return Moved::Refused(Error::NotFound("opportunity"));
    };
    let reason = form.reason.as_deref().map(str::trim).filter(|reason| !reason.is_empty());
    if status == Status::Lost && reason.is_none() {
        return Moved::NeedsReason;
    }
    let mut patch = json!({ "status": status });
    if status.is_closed()
        && let Some(reason) = reason
    {
        patch["closed_reason"] = json!(reason);
    }
    let input: UpdateOpportunity = match serde_json::from_value(patch) {
        Ok(input) => input,
        Err(error) => return Moved::Refused(Error::internal(error)),
    };
    let actor = session.actor();
    match service::update_opportunity(state.store.as_ref(), &actor, id, Some(version), Input::readable(input)).await {
        Ok(view) => Moved::Done(view),
        Err(Error::PreconditionFailed { .. }) => match state.store.opportunity_view(session.org_id, id).await {
            Ok(Some(view)) => Moved::Conflict(view),
            Ok(None) => Moved::Refused(Error::NotFound("opportunity")),
            Err(error) => Moved::Refused(error),
        },
        Err(error) => Moved::Refused(error),
    }
}

/// The script's answer: the card as it now is (to replace the dragged one), the columns'
/// figures, and a sentence for the live region.
async fn move_json(state: &WebState, session: &WebSession, filters: &Filters, outcome: Moved) -> Response {
    let today = match crate::pages::today(state, session).await {
        Ok(today) => today,
        Err(error) => {
            let (status, _) = crate::pages::status_of(&error);
            return (status, Json(json!({ "ok": false, "message": sentence(&error.to_string()) }))).into_response();
        }
    };
    let card = |view: &OpportunityView| card_item(session, filters, today, view).into_string();
    let (status, mut body) = match &outcome {
        Moved::Done(view) => (
            StatusCode::OK,
            json!({
                "ok": true, "status": view.opportunity.stage.status(), "card": card(view),
                "message": format!("Moved {} to {}.", view.opportunity.title, label(view.opportunity.stage.status())),
            }),
        ),
        Moved::Conflict(view) => (
            StatusCode::PRECONDITION_FAILED,
            json!({
                "ok": false, "status": view.opportunity.stage.status(), "card": card(view), "message": conflict_message(view),
            }),
        ),
        Moved::NeedsReason => {
            (StatusCode::UNPROCESSABLE_ENTITY, json!({ "ok": false, "message": "Give a reason to close a lead as lost." }))
        }
        Moved::Refused(error) => {
            let (status, _) = crate::pages::status_of(error);
            (status, json!({ "ok": false, "message": sentence(&error.to_string()) }))
        }
    };
    if filters.search.is_none()
        && let Ok(figures) = figures(state, session, filters, today).await
    {
        body["columns"] = figures
            .iter()
            .map(|stage| json!({ "status": stage.status, "count": stage.count.to_string(), "value": value_text(Some(stage.value)) }))
            .collect();
        if let Moved::Done(view) = &outcome
            && let Some(to) = figures.iter().find(|stage| stage.status == view.opportunity.stage.status())
        {
            let stage = label(to.status);
            body["message"] = json!(format!("Moved {} to {stage}; {stage} now has {}.", view.opportunity.title, to.count));
        }
    }
    (status, Json(body)).into_response()
}

/// Closing as lost by form without a reason: the same move again, with the reason asked for.
fn reason_page(session: &WebSession, form: &MoveForm) -> Response {
    let main = html! {
        div.narrow.panel {
            h1 { "Close as lost" }
            form method="post" action="/board/move" {
                (csrf_field(session))
                input type="hidden" name="id" value=(form.id);
                input type="hidden" name="version" value=(form.version);
                input type="hidden" name="status" value="lost";
                input type="hidden" name="return_to" value=[form.return_to.as_deref()];
                div.field {
                    label for="reason" { "Why was it lost? (required)" }
                    input #reason name="reason" required maxlength="1000" autofocus;
                }
                div.actions {
                    button.primary type="submit" { "Close as lost" }
                    a href={ "/board?" (form.return_to.as_deref().unwrap_or("")) } { "Cancel" }
                }
            }
        }
    };
    (StatusCode::UNPROCESSABLE_ENTITY, staff_page("Close as lost", session, Section::Board, main, &[])).into_response()
}
