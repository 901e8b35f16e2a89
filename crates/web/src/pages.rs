//! What the staff's pages share: the banner (with **New lead** one click from anywhere, and
//! signing out), a plain message page, and how a use case's error reads in a browser.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::Error;
use domain::session::WebSession;
use maud::{Markup, html};

use crate::assets::Asset;
use crate::layout::document;
use crate::session::CSRF_FIELD;

/// Which part of the banner's navigation a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Board,
    NewLead,
    /// A lead's own pages, reached from the board: no banner link is current.
    Lead,
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
                    li { a href="/board" aria-current=[current(Section::Board)] { "Board" } }
                    li { a href="/leads/new" aria-current=[current(Section::NewLead)] { "+ New lead" } }
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

/// The hidden field every state-changing form of a signed-in page carries.
pub fn csrf_field(session: &WebSession) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf_token); }
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
