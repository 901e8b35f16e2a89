//! The website visitor's pages: the hosted form a clinic links to or frames (`/forms/{key}`),
//! the hosted thank-you page, and the pages a browser is shown when the public submission
//! route refuses its form post (drawn here for the API crate, through [`api::VisitorPages`]).
//!
//! Only the hosted form and its thank-you page may be framed by other sites: a clinic without
//! a web developer pastes an iframe into whatever site builder it has, from an origin it may not
//! even know.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use domain::lead_form::{self, LeadForm, Submission};
use maud::{Markup, html};

use crate::WebState;
use crate::layout::document;

pub fn routes() -> Router<WebState> {
    Router::new().route("/forms/{form_key}", get(hosted_form)).route("/forms/{form_key}/thanks", get(thank_you))
}

/// The refusal pages, for the API's public submission route.
pub struct VisitorPages;

impl api::VisitorPages for VisitorPages {
    fn refusal(&self, refusal: &api::Refusal<'_>) -> String {
        refusal_page(refusal).into_string()
    }
}

/// An active form and the name of its clinic.
struct Published {
    form: LeadForm,
    clinic: String,
}

async fn hosted_form(State(state): State<WebState>, Path(form_key): Path<String>) -> Response {
    match published(&state, &form_key).await {
        Ok(Some(Published { form, clinic })) => {
            let main = html! {
                div.narrow {
                    h1 { (form.name) }
                    p { "Send " (clinic) " a message and they will get back to you." }
                    (inquiry_form(&form.form_key, None, &[]))
                }
            };
            frameable(document(&form.name, clinic_banner(&clinic), main, &[]))
        }
        Ok(None) => not_found(),
        Err(status) => trouble(status),
    }
}

async fn thank_you(State(state): State<WebState>, Path(form_key): Path<String>) -> Response {
    match published(&state, &form_key).await {
        Ok(Some(Published { clinic, .. })) => {
            let main = html! {
                div.narrow {
                    h1 { "Thank you" }
                    p { (clinic) " has received your message and will get back to you soon." }
                }
            };
            frameable(document("Thank you", clinic_banner(&clinic), main, &[]))
        }
        Ok(None) => not_found(),
        Err(status) => trouble(status),
    }
}

/// The form behind `form_key` when it takes submissions; an unknown and a disabled form look
/// the same from outside, as on the submission route.
async fn published(state: &WebState, form_key: &str) -> Result<Option<Published>, StatusCode> {
    if !store::tokens::is_form_key(form_key) {
        return Ok(None);
    }
    let unavailable = |error: domain::Error| {
        tracing::error!(error = %error.describe(), "could not read a lead form");
        StatusCode::SERVICE_UNAVAILABLE
    };
    let Some(form) = state.store.lead_form_by_key(form_key).await.map_err(unavailable)?.filter(|form| form.is_active) else {
        return Ok(None);
    };
    let clinic = state.store.organization_name(form.org_id).await.map_err(unavailable)?.unwrap_or_default();
    Ok(Some(Published { form, clinic }))
}

fn clinic_banner(clinic: &str) -> Markup {
    html! { header.banner { span.brand { (clinic) } } }
}

/// The inquiry form: labelled fields, "required" in words, each error under its field, and the
/// honeypot hidden as the README's snippet hides it. A plain post; no script.
fn inquiry_form(form_key: &str, submitted: Option<&Submission>, errors: &[(&str, &str)]) -> Markup {
    let value = |field: fn(&Submission) -> &Option<String>| submitted.and_then(|s| field(s).clone()).unwrap_or_default();
    html! {
        form method="post" action=(lead_form::submission_path(form_key)) {
            (field("name", "Name (required)", "text", "name", &value(|s| &s.name), errors, true))
            p.muted { "Give an e-mail address or a phone number (or both), so we can answer." }
            (field("email", "E-mail", "email", "email", &value(|s| &s.email), errors, false))
            (field("phone", "Phone", "tel", "tel", &value(|s| &s.phone), errors, false))
            @let message_error = error_for(errors, "message");
            div.field {
                label for="message" { "Message" }
                textarea #message name="message" aria-invalid=[message_error.map(|_| "true")]
                    aria-describedby=[message_error.map(|_| "message-error")] { (value(|s| &s.message)) }
                @if let Some(error) = message_error { p.error #message-error { (capitalized(error)) } }
            }
            input name="website" style="display:none" tabindex="-1" autocomplete="off";
            div.actions { button.primary type="submit" { "Send" } }
        }
    }
}

fn field(name: &str, label: &str, kind: &str, autocomplete: &str, value: &str, errors: &[(&str, &str)], required: bool) -> Markup {
    let error = error_for(errors, name);
    let error_id = format!("{name}-error");
    html! {
        div.field {
            label for=(name) { (label) }
            input #(name) name=(name) type=(kind) value=(value) autocomplete=(autocomplete) required[required]
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id.as_str())];
            @if let Some(error) = error { p.error #(error_id) { (capitalized(error)) } }
        }
    }
}

fn error_for<'a>(errors: &[(&str, &'a str)], field: &str) -> Option<&'a str> {
    errors.iter().find(|(name, _)| *name == field).map(|(_, message)| *message)
}

/// What went wrong, the visitor's words back in the form when they can fix it there, and the
/// way back to the page they came from.
fn refusal_page(refusal: &api::Refusal<'_>) -> Markup {
    let (title, explanation) = match refusal.status {
        StatusCode::UNPROCESSABLE_ENTITY => {
            ("Please check your message", "Some details need a change before your message can be sent:".to_owned())
        }
        StatusCode::TOO_MANY_REQUESTS => (
            "Please wait a moment",
            format!("Too many messages were sent just now. Please try again in {} seconds.", refusal.retry_after_secs.unwrap_or(60)),
        ),
        StatusCode::NOT_FOUND => ("This form is not available", "The form you used no longer takes messages.".to_owned()),
        _ => ("Your message was not sent", format!("{}.", capitalized(refusal.message))),
    };
    let can_fix_here = refusal.status == StatusCode::UNPROCESSABLE_ENTITY;
    let main = html! {
        div.narrow {
            h1 { (title) }
            div.error-summary role="alert" {
                p { (explanation) }
                @if !refusal.fields.is_empty() {
                    ul {
                        @for (field, message) in &refusal.fields {
                            @match field_label(field) {
                                Some(label) if can_fix_here => li { a href={ "#" (field) } { (label) } ": " (message) },
                                label => li { (label.unwrap_or(field)) ": " (message) },
                            }
                        }
                    }
                }
            }
            @if can_fix_here { (inquiry_form(refusal.form_key, refusal.submitted, &refusal.fields)) }
            @match refusal.back {
                Some(back) => p { a href=(back) { "Back to the page you came from" } },
                None => p { "Use your browser's Back button to return to the page you came from." },
            }
        }
    };
    document(title, html! {}, main, &[])
}

/// The label of a field the form shows; other names (unknown fields a site's form sent) have none.
fn field_label(field: &str) -> Option<&'static str> {
    match field {
        "name" => Some("Name"),
        "email" => Some("E-mail"),
        "phone" => Some("Phone"),
        "message" => Some("Message"),
        _ => None,
    }
}

fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A page other sites may show in a frame (CSP `frame-ancestors`, which browsers prefer over
/// any `X-Frame-Options`).
fn frameable(page: Markup) -> Response {
    let mut response = Html(page.into_string()).into_response();
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors *"));
    response
}

fn not_found() -> Response {
    let main = html! {
        div.narrow {
            h1 { "This form is not available" }
            p { "The link may be mistyped, or the form no longer takes messages." }
        }
    };
    (StatusCode::NOT_FOUND, document("Form not found", html! {}, main, &[])).into_response()
}

fn trouble(status: StatusCode) -> Response {
    let main = html! {
        div.narrow {
            h1 { "Please try again shortly" }
            p { "The form could not be shown just now." }
        }
    };
    (status, document("Please try again", html! {}, main, &[])).into_response()
}
