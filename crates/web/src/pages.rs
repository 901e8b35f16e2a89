//! What the staff's pages share: the banner (with **New lead** one click from anywhere, and
//! signing out), a plain message page, and how a use case's error reads in a browser.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::session::WebSession;
use domain::{Error, FieldErrors};
use maud::{Markup, html};

use crate::assets::Asset;
use crate::layout::document;
use crate::session::CSRF_FIELD;

/// Which part of the banner's navigation a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Board,
    NewLead,
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
                    li { a href="/board" aria-current=[current(Section::Board)] { "Board" } }
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
        other => sentence(&other.to_string()),
    };
    (status, message_page(title, &text)).into_response()
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
