//! Website forms: set one up (the category and owner its leads get, the sites allowed to post
//! it, where visitors land afterwards), then either link to its hosted page or paste its HTML
//! into the clinic's site. Both are on the page for every form.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::auth::Staff;
use domain::category::Category;
use domain::lead_form::{self, CreateLeadForm, LeadForm, UpdateLeadForm};
use domain::session::WebSession;
use domain::{Error, FieldErrors, Input, Patch};
use maud::{Markup, html};
use serde::Deserialize;
use store::service;
use uuid::Uuid;

use super::{Tab, answer, done, done_notice, field_errors, path_id, settings_page};
use crate::WebState;
use crate::pages::{csrf_field, error_page, error_summary, field, input_field};
use crate::session::{CheckedForm, SignedIn};

const PATH: &str = "/settings/lead-forms";

const MESSAGES: [(&str, &str); 2] =
    [("added", "Form created. Link to its page or paste its HTML into your website (both below)."), ("saved", "Form saved.")];

pub fn routes() -> Router<WebState> {
    Router::new().route(PATH, get(list).post(create)).route("/settings/lead-forms/{id}", get(edit).post(save))
}

/// The form as typed, every field text.
#[derive(Debug, Default, Deserialize)]
struct SetupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    category_id: String,
    #[serde(default)]
    assigned_to: String,
    /// One origin a line (commas and spaces separate too).
    #[serde(default)]
    allowed_origins: String,
    #[serde(default)]
    thank_you_url: String,
    /// The edit form's checkbox: present when ticked.
    #[serde(default)]
    is_active: Option<String>,
}

impl SetupForm {
    fn of(form: &LeadForm) -> SetupForm {
        SetupForm {
            name: form.name.clone(),
            category_id: form.category_id.map(|id| id.to_string()).unwrap_or_default(),
            assigned_to: form.assigned_to.map(|id| id.to_string()).unwrap_or_default(),
            allowed_origins: form.allowed_origins.join("\n"),
            thank_you_url: form.thank_you_url.clone().unwrap_or_default(),
            is_active: form.is_active.then(|| "true".to_owned()),
        }
    }

    /// The typed choices as ids: blank is none; anything else that is not an id is reported on
    /// its field, beside what the use case finds.
    fn references(&self, unreadable: &mut FieldErrors) -> (Option<Uuid>, Option<Uuid>) {
        let mut id = |field: &str, value: &str, message: &str| {
            let value = value.trim();
            if value.is_empty() {
                return None;
            }
            let id = Uuid::parse_str(value).ok();
            if id.is_none() {
                unreadable.add(field, message);
            }
            id
        };
        (
            id("category_id", &self.category_id, "is not one of the categories"),
            id("assigned_to", &self.assigned_to, "is not one of the staff"),
        )
    }

    fn origins(&self) -> Vec<String> {
        self.allowed_origins.split(|c: char| c.is_whitespace() || c == ',').filter(|origin| !origin.is_empty()).map(str::to_owned).collect()
    }

    fn thank_you_url(&self) -> Option<String> {
        Some(self.thank_you_url.trim().to_owned()).filter(|url| !url.is_empty())
    }
}

async fn list(State(state): State<WebState>, SignedIn(session): SignedIn, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    answer(StatusCode::OK, list_page(&state, &session, &pairs, None, &FieldErrors::default()).await)
}

async fn create(State(state): State<WebState>, CheckedForm { session, form }: CheckedForm<SetupForm>) -> Response {
    let mut unreadable = FieldErrors::default();
    let (category_id, assigned_to) = form.references(&mut unreadable);
    let input = CreateLeadForm {
        name: Some(form.name.clone()),
        category_id,
        assigned_to,
        allowed_origins: Some(form.origins()),
        thank_you_url: form.thank_you_url(),
    };
    match service::create_lead_form(state.store.as_ref(), &session.actor(), Input::new(input, unreadable)).await {
        Ok(created) => done(PATH, "added", Some(created.id)),
        Err(error) => match field_errors(error, "name") {
            Ok(errors) => answer(StatusCode::UNPROCESSABLE_ENTITY, list_page(&state, &session, &[], Some(&form), &errors).await),
            Err(error) => error_page(&error),
        },
    }
}

async fn edit(State(state): State<WebState>, SignedIn(session): SignedIn, Path(id): Path<String>) -> Response {
    match editing(&state, &session, &id).await {
        Ok((form, choices)) => edit_page(&session, &form, &SetupForm::of(&form), &choices, &FieldErrors::default()).into_response(),
        Err(error) => error_page(&error),
    }
}

async fn save(
    State(state): State<WebState>,
    Path(id): Path<String>,
    CheckedForm { session, form: typed }: CheckedForm<SetupForm>,
) -> Response {
    let (form, choices) = match editing(&state, &session, &id).await {
        Ok(found) => found,
        Err(error) => return error_page(&error),
    };
    let mut unreadable = FieldErrors::default();
    let (category_id, assigned_to) = typed.references(&mut unreadable);
    let input = UpdateLeadForm {
        name: Patch::Value(typed.name.clone()),
        category_id: category_id.map_or(Patch::Null, Patch::Value),
        assigned_to: assigned_to.map_or(Patch::Null, Patch::Value),
        allowed_origins: Patch::Value(typed.origins()),
        thank_you_url: typed.thank_you_url().map_or(Patch::Null, Patch::Value),
        is_active: Patch::Value(typed.is_active.is_some()),
    };
    match service::update_lead_form(state.store.as_ref(), &session.actor(), form.id, Input::new(input, unreadable)).await {
        Ok(saved) => done(PATH, "saved", Some(saved.id)),
        Err(error) => match field_errors(error, "name") {
            Ok(errors) => (StatusCode::UNPROCESSABLE_ENTITY, edit_page(&session, &form, &typed, &choices, &errors)).into_response(),
            Err(error) => error_page(&error),
        },
    }
}

/// What a form's category and owner may be chosen from.
struct Choices {
    categories: Vec<Category>,
    staff: Vec<Staff>,
}

async fn choices(state: &WebState, session: &WebSession) -> Result<Choices, Error> {
    Ok(Choices {
        categories: state.store.categories(session.org_id, false).await?,
        staff: state.store.staff_members(session.org_id).await?,
    })
}

/// The form an edit page's path names, and the choices its fields offer.
async fn editing(state: &WebState, session: &WebSession, id: &str) -> Result<(LeadForm, Choices), Error> {
    let id = path_id(id)?;
    let forms = service::lead_forms(state.store.as_ref(), &session.actor()).await?;
    let form = forms.into_iter().find(|form| form.id == id).ok_or(Error::NotFound("lead form"))?;
    Ok((form, choices(state, session).await?))
}

async fn list_page(
    state: &WebState,
    session: &WebSession,
    pairs: &[(String, String)],
    typed: Option<&SetupForm>,
    errors: &FieldErrors,
) -> Result<Markup, Error> {
    let forms = service::lead_forms(state.store.as_ref(), &session.actor()).await?;
    let choices = choices(state, session).await?;
    let site = state.config.public_url.as_str();
    let blank = SetupForm::default();
    let form = typed.unwrap_or(&blank);
    let main = html! {
        h1 { "Website forms" }
        p { "Each form turns a visitor's message into a new lead, with source “website” and a follow-up due the next day." }
        (done_notice(pairs, &MESSAGES))
        @if forms.is_empty() { p { "No website forms yet." } }
        @for each in &forms { (published(each, &choices, site)) }
        section.panel aria-labelledby="add-form" {
            h2 #add-form { "Create a website form" }
            (error_summary(errors, "The form was not created"))
            form method="post" action=(PATH) novalidate {
                (csrf_field(session))
                (setup_fields(form, &choices, errors))
                button.primary type="submit" { "Create form" }
            }
        }
    };
    Ok(settings_page("Website forms", session, Tab::LeadForms, main))
}

/// One form as its clinic uses it: where leads go, the hosted page's link and the HTML snippet.
fn published(form: &LeadForm, choices: &Choices, site: &str) -> Markup {
    let id = form.id;
    let heading = format!("form-{id}-title");
    let snippet = format!("snippet-{id}");
    let category = form.category_id.and_then(|id| choices.categories.iter().find(|category| category.id == id)).map(|c| c.name.as_str());
    let owner = form.assigned_to.and_then(|id| choices.staff.iter().find(|member| member.id == id)).map(|s| s.name.as_str());
    let hosted = form.hosted_url(site);
    html! {
        article.panel #{ "row-" (id) } tabindex="-1" aria-labelledby=(heading) {
            h2 #(heading) { (form.name) " " @if form.is_active { span.chip.success { "Active" } } @else { span.chip { "Disabled" } } }
            dl.facts {
                dt { "New leads" } dd { "Category: " (category.unwrap_or("none")) "; owner: " (owner.unwrap_or("nobody")) }
                dt { "Sites that may post it" }
                dd { @if form.allowed_origins.is_empty() { "Only its hosted page" } @else { (form.allowed_origins.join(", ")) } }
                dt { "After sending" } dd { (form.thank_you_url.as_deref().unwrap_or("The hosted thank-you page")) }
                dt { "Hosted page" } dd { a href=(hosted) { (hosted) } }
            }
            div.field {
                label for=(snippet) { "HTML to paste into a page of your website" }
                textarea.snippet id=(snippet) readonly rows="8" { (lead_form::embed_html(site, &form.form_key)) }
                button type="button" data-copy=(snippet) hidden { "Copy HTML" span.visually-hidden { " of " (form.name) } }
            }
            a href={ "/settings/lead-forms/" (id) } { "Edit" span.visually-hidden { " " (form.name) } }
        }
    }
}

/// The fields of the create and edit forms.
fn setup_fields(form: &SetupForm, choices: &Choices, errors: &FieldErrors) -> Markup {
    html! {
        (input_field("name", "Name", "text", &form.name, true, errors))
        (field("category_id", "Category of new leads", false, errors, |invalid| html! {
            select #category_id name="category_id" aria-invalid=[invalid.aria_invalid] aria-describedby=[invalid.described_by.as_deref()] {
                option value="" { "None" }
                @for category in &choices.categories {
                    option value=(category.id) selected[form.category_id == category.id.to_string()] { (category.name) }
                }
            }
        }))
        (field("assigned_to", "Owner of new leads", false, errors, |invalid| html! {
            select #assigned_to name="assigned_to" aria-invalid=[invalid.aria_invalid] aria-describedby=[invalid.described_by.as_deref()] {
                option value="" { "Nobody yet" }
                @for member in choices.staff.iter().filter(|member| member.is_active) {
                    option value=(member.id) selected[form.assigned_to == member.id.to_string()] { (member.name) }
                }
            }
        }))
        (field("allowed_origins", "Your website's address (one a line, such as https://clinic.example)", false, errors, |invalid| html! {
            textarea #allowed_origins name="allowed_origins" rows="3" aria-invalid=[invalid.aria_invalid]
                aria-describedby=[invalid.described_by.as_deref()] { (form.allowed_origins) }
        }))
        (input_field("thank_you_url", "Page visitors see after sending (blank: a thank-you page of ours)", "url", &form.thank_you_url, false, errors))
    }
}

fn edit_page(session: &WebSession, lead_form: &LeadForm, form: &SetupForm, choices: &Choices, errors: &FieldErrors) -> Markup {
    let main = html! {
        div.narrow.panel {
            h1 { "Edit " (lead_form.name) }
            (error_summary(errors, "The form was not saved"))
            form method="post" action={ "/settings/lead-forms/" (lead_form.id) } novalidate {
                (csrf_field(session))
                (setup_fields(form, choices, errors))
                div.field.check {
                    input #is_active type="checkbox" name="is_active" value="true" checked[form.is_active.is_some()];
                    label for="is_active" { "Active: takes submissions (a disabled form's page and address answer “not available”)" }
                }
                div.actions {
                    button.primary type="submit" { "Save" }
                    a href=(PATH) { "Cancel" }
                }
            }
        }
    };
    settings_page(&format!("Edit {}", lead_form.name), session, Tab::LeadForms, main)
}
