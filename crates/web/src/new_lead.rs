//! The new-lead form: the prospect's fields and the seed's sources, the domain's validation
//! messages next to their fields, then the board.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use domain::opportunity::CreateOpportunity;
use domain::session::WebSession;
use domain::{Error, FieldErrors, Input, Money, Timestamp};
use maud::{Markup, html};
use serde::Deserialize;
use store::service;
use uuid::Uuid;

use crate::WebState;
use crate::board::SOURCES;
use crate::pages::{Section, csrf_field, error_page, error_summary, input_field, staff_page};
use crate::session::{CheckedForm, SignedIn};

pub fn routes() -> Router<WebState> {
    Router::new().route("/leads/new", get(new_lead).post(create_lead))
}

/// The form as typed, every field text.
#[derive(Debug, Default, Deserialize)]
struct LeadForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    prospect_name: String,
    #[serde(default)]
    prospect_email: String,
    #[serde(default)]
    prospect_phone: String,
    #[serde(default)]
    category_id: String,
    #[serde(default)]
    estimated_value: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    assigned_to: String,
    /// `YYYY-MM-DDTHH:MM` from a `datetime-local` input, taken as UTC.
    #[serde(default)]
    follow_up_date: String,
    #[serde(default)]
    description: String,
}

async fn new_lead(State(state): State<WebState>, SignedIn(session): SignedIn) -> Response {
    let form = LeadForm { assigned_to: session.staff_id.to_string(), source: "phone".into(), ..LeadForm::default() };
    form_page(&state, &session, &form, &FieldErrors::default()).await.into_response()
}

async fn create_lead(State(state): State<WebState>, CheckedForm { session, form }: CheckedForm<LeadForm>) -> Response {
    let input = input(&form);
    match service::create_opportunity(state.store.as_ref(), &session.actor(), input).await {
        Ok(view) => Redirect::to(&format!("/board?assigned_to=&created={0}#card-{0}", view.opportunity.id)).into_response(),
        Err(Error::Validation(errors)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, form_page(&state, &session, &form, &errors).await).into_response()
        }
        Err(error) => error_page(&error),
    }
}

/// The typed text as the use case's input: blank fields are left out, and a field that does
/// not read as its type (a value that is not an amount) is reported with the domain's findings.
fn input(form: &LeadForm) -> Input<CreateOpportunity> {
    let mut unreadable = FieldErrors::default();
    let text = |value: &str| Some(value.trim().to_owned()).filter(|value| !value.is_empty());
    let mut read = |field: &str, value: &str, parse: &dyn Fn(&str) -> bool, message: &str| {
        let value = text(value)?;
        if parse(&value) {
            Some(value)
        } else {
            unreadable.add(field, message);
            None
        }
    };
    let id = |value: &str| Uuid::parse_str(value).is_ok();
    let category_id = read("category_id", &form.category_id, &id, "is not one of the categories").and_then(|v| Uuid::parse_str(&v).ok());
    let assigned_to = read("assigned_to", &form.assigned_to, &id, "is not one of the staff").and_then(|v| Uuid::parse_str(&v).ok());
    let estimated_value =
        read("estimated_value", &form.estimated_value, &|v| Money::parse(v).is_some(), "must be an amount such as 1500 or 1500.50")
            .and_then(|v| Money::parse(&v));
    let follow_up_date =
        read("follow_up_date", &form.follow_up_date, &|v| local_time(v).is_some(), "must be a date and time").and_then(|v| local_time(&v));
    let fields = CreateOpportunity {
        title: text(&form.title),
        prospect_name: text(&form.prospect_name),
        prospect_email: text(&form.prospect_email),
        prospect_phone: text(&form.prospect_phone),
        category_id,
        estimated_value,
        source: text(&form.source),
        assigned_to,
        follow_up_date,
        description: text(&form.description),
        ..CreateOpportunity::default()
    };
    Input::new(fields, unreadable)
}

/// A `datetime-local` value (`2026-12-01T10:00`), taken as UTC like every time the API shows.
fn local_time(value: &str) -> Option<Timestamp> {
    Timestamp::parse(&format!("{value}:00Z")).or_else(|| Timestamp::parse(&format!("{value}Z")))
}

async fn form_page(state: &WebState, session: &WebSession, form: &LeadForm, errors: &FieldErrors) -> Markup {
    let categories = state.store.categories(session.org_id, false).await.unwrap_or_default();
    let staff = state.store.staff_members(session.org_id).await.unwrap_or_default();
    let main = html! {
        div.narrow.panel {
            h1 { "New lead" }
            (error_summary(errors, "The lead was not saved"))
            form method="post" action="/leads/new" novalidate {
                (csrf_field(session))
                (input_field("title", "Title", "text", &form.title, true, errors))
                (input_field("prospect_name", "Name", "text", &form.prospect_name, true, errors))
                (input_field("prospect_phone", "Phone", "tel", &form.prospect_phone, false, errors))
                (input_field("prospect_email", "E-mail", "email", &form.prospect_email, false, errors))
                div.field {
                    label for="category_id" { "Category" }
                    select #category_id name="category_id" {
                        option value="" { "None" }
                        @for category in &categories {
                            option value=(category.id) selected[form.category_id == category.id.to_string()] { (category.name) }
                        }
                    }
                }
                (input_field("estimated_value", "Estimated value", "text", &form.estimated_value, false, errors))
                div.field {
                    label for="source" { "Source" }
                    select #source name="source" {
                        @for source in SOURCES { option value=(source) selected[form.source == source] { (source.replace('_', " ")) } }
                    }
                }
                div.field {
                    label for="assigned_to" { "Owner" }
                    select #assigned_to name="assigned_to" {
                        option value="" { "Nobody yet" }
                        @for member in staff.iter().filter(|member| member.is_active) {
                            option value=(member.id) selected[form.assigned_to == member.id.to_string()] { (member.name) }
                        }
                    }
                }
                (input_field("follow_up_date", "Follow up on (UTC)", "datetime-local", &form.follow_up_date, false, errors))
                div.field {
                    label for="description" { "Notes" }
                    textarea #description name="description" { (form.description) }
                }
                div.actions {
                    button.primary type="submit" { "Save" }
                    a href="/board" { "Cancel" }
                }
            }
        }
    };
    staff_page("New lead", session, Section::NewLead, main, &[])
}
