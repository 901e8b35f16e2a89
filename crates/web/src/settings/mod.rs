//! The organization's set-up, for owners and admins: categories, staff, API tokens and website
//! lead forms. Every page writes through the same use cases as the API, so roles and validation
//! are enforced there; the guard here keeps members off every settings URL (GET and POST alike)
//! before any page runs, since some pages also read what only managers may see.
//!
//! Secrets (a new API token, a sign-in link) are shown in the answer to the POST that made them,
//! and never again: redirecting first would need the secret kept somewhere between the two
//! requests. Every other form post is answered with a redirect (303).

mod categories;
mod lead_forms;
mod staff;
mod tokens;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use domain::session::WebSession;
use domain::{Error, FieldErrors, Timestamp};
use maud::{Markup, html};
use uuid::Uuid;

use crate::WebState;
use crate::assets::SETTINGS_SCRIPT;
use crate::pages::{Section, error_page, staff_page};
use crate::session::SignedIn;

pub fn routes(state: WebState) -> Router<WebState> {
    Router::new()
        .route("/settings", get(|| async { Redirect::to(Tab::Categories.path()) }))
        .merge(categories::routes())
        .merge(staff::routes())
        .merge(tokens::routes())
        .merge(lead_forms::routes())
        .route_layer(middleware::from_fn_with_state(state, managers_only))
}

/// Lets only a signed-in owner or admin through (others: the sign-in page, or 403), and hands
/// the session on so that the page does not look it up again.
async fn managers_only(State(state): State<WebState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let session = match SignedIn::from_request_parts(&mut parts, &state).await {
        Ok(SignedIn(session)) => session,
        Err(to_sign_in) => return to_sign_in,
    };
    if let Err(error) = session.actor().require_manager() {
        return error_page(&error);
    }
    parts.extensions.insert(session);
    next.run(Request::from_parts(parts, body)).await
}

/// The settings' pages, as their navigation lists them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Categories,
    Staff,
    Tokens,
    LeadForms,
}

impl Tab {
    const ALL: [Tab; 4] = [Tab::Categories, Tab::Staff, Tab::Tokens, Tab::LeadForms];

    fn path(self) -> &'static str {
        match self {
            Tab::Categories => "/settings/categories",
            Tab::Staff => "/settings/staff",
            Tab::Tokens => "/settings/tokens",
            Tab::LeadForms => "/settings/lead-forms",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Tab::Categories => "Categories",
            Tab::Staff => "Staff",
            Tab::Tokens => "API tokens",
            Tab::LeadForms => "Website forms",
        }
    }
}

/// A whole settings page: the banner, the settings' own navigation, then `main`, which starts
/// with the page's `h1`.
fn settings_page(title: &str, session: &WebSession, tab: Tab, main: Markup) -> Markup {
    let main = html! {
        nav.settings-nav aria-label="Settings" {
            ul {
                @for each in Tab::ALL {
                    li { a href=(each.path()) aria-current=[(each == tab).then_some("page")] { (each.name()) } }
                }
            }
        }
        (main)
    };
    staff_page(&format!("{title} · Settings"), session, Section::Settings, main, &[&SETTINGS_SCRIPT])
}

/// The answer to the POST that made a secret: the page showing it, kept out of every cache and
/// of the browser's history of pages, so that Back does not show it again.
fn shown_once(page: Markup) -> Response {
    let mut response = (StatusCode::CREATED, page).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The page after a form post: back to `path`, with what was done (`done`, one of the page's
/// fixed messages) and the row to look at.
fn done(path: &str, done: &str, row: Option<Uuid>) -> Response {
    let anchor = row.map(|id| format!("#row-{id}")).unwrap_or_default();
    let separator = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{separator}done={done}{anchor}")).into_response()
}

/// The message a page shows for the `done` of its query, from its own fixed list.
fn done_notice(pairs: &[(String, String)], messages: &[(&str, &str)]) -> Markup {
    let done = pairs.iter().find(|(name, _)| name == "done").map(|(_, value)| value.as_str());
    let message = messages.iter().find(|(key, _)| Some(*key) == done).map(|(_, message)| *message);
    html! { @if let Some(message) = message { p.panel.notice role="status" { (message) } } }
}

/// A refusal a form can show beside its fields; anything else (not allowed, a conflict with the
/// state of things, a missing record, a failure) gets its own page. A duplicate is put on
/// `field`, the field that makes it one.
fn field_errors(error: Error, field: &str) -> Result<FieldErrors, Error> {
    match error {
        Error::Validation(errors) => Ok(errors),
        Error::Duplicate { message, .. } => {
            let mut errors = FieldErrors::default();
            errors.add(field, message);
            Ok(errors)
        }
        other => Err(other),
    }
}

/// A page with its status (422 for a refused form), or the error's page.
fn answer(status: StatusCode, page: Result<Markup, Error>) -> Response {
    match page {
        Ok(page) => (status, page).into_response(),
        Err(error) => error_page(&error),
    }
}

/// An id from the path; anything else is a page that does not exist.
fn path_id(raw: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw).map_err(|_| Error::NotFound("page"))
}

/// An instant as staff read it: `12 Mar 2026, 14:05 UTC`.
fn when(at: Timestamp) -> String {
    let format = time::macros::format_description!("[day padding:none] [month repr:short] [year], [hour]:[minute] UTC");
    at.datetime().format(&format).unwrap_or_default()
}
