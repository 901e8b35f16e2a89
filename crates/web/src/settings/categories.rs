//! Categories: add one, rename or recolour it, move it up or down the order every list shows,
//! and deactivate it (its leads keep it; new leads cannot take it).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::category::{Category, CreateCategory, Direction, UpdateCategory};
use domain::session::WebSession;
use domain::{Error, FieldErrors, Input, Patch};
use maud::{Markup, html};
use serde::Deserialize;
use store::service;

use super::{Tab, answer, done, done_notice, field_errors, path_id, settings_page};
use crate::WebState;
use crate::pages::{csrf_field, error_page, error_summary, field, input_field};
use crate::session::{CheckedForm, SignedIn};

const PATH: &str = "/settings/categories";

/// The UI brief's category colours: each at least 4.3:1 on white, so a chip's lettering and a
/// card's stripe stay legible.
const PRESETS: [&str; 8] = ["#0f8a5f", "#0b6fae", "#4f46c8", "#a0329f", "#c2334d", "#b45309", "#4d7c0f", "#56606e"];

const MESSAGES: [(&str, &str); 5] = [
    ("added", "Category added."),
    ("saved", "Category saved."),
    ("moved", "Order saved."),
    ("deactivated", "Category deactivated: new leads cannot take it; leads that have it keep it."),
    ("activated", "Category active again."),
];

pub fn routes() -> Router<WebState> {
    Router::new()
        .route(PATH, get(list).post(create))
        .route("/settings/categories/{id}", get(edit).post(save))
        .route("/settings/categories/{id}/move", post(move_category))
        .route("/settings/categories/{id}/active", post(set_active))
}

/// The form as typed.
#[derive(Debug, Default, Deserialize)]
struct CategoryForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    color: String,
    /// The edit form's checkbox: present when ticked.
    #[serde(default)]
    is_active: Option<String>,
}

async fn list(State(state): State<WebState>, SignedIn(session): SignedIn, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    match list_page(&state, &session, &pairs, None, &FieldErrors::default()).await {
        Ok(page) => page.into_response(),
        Err(error) => error_page(&error),
    }
}

async fn create(State(state): State<WebState>, CheckedForm { session, form }: CheckedForm<CategoryForm>) -> Response {
    let categories = match state.store.categories(session.org_id, true).await {
        Ok(categories) => categories,
        Err(error) => return error_page(&error),
    };
    let last = categories.iter().map(|category| category.sort_order).max().unwrap_or(0);
    let input = CreateCategory { name: text(&form.name), color: text(&form.color), sort_order: Some(last + 1), is_active: None };
    match service::create_category(state.store.as_ref(), &session.actor(), Input::readable(input)).await {
        Ok(category) => done(PATH, "added", Some(category.id)),
        Err(error) => match field_errors(error, "name") {
            Ok(errors) => answer(StatusCode::UNPROCESSABLE_ENTITY, list_page(&state, &session, &[], Some(&form), &errors).await),
            Err(error) => error_page(&error),
        },
    }
}

async fn edit(State(state): State<WebState>, SignedIn(session): SignedIn, Path(id): Path<String>) -> Response {
    let category = match category(&state, &session, &id).await {
        Ok(category) => category,
        Err(error) => return error_page(&error),
    };
    let form = CategoryForm {
        name: category.name.clone(),
        color: category.color.clone(),
        is_active: category.is_active.then(|| "true".to_owned()),
    };
    edit_page(&session, &category, &form, &FieldErrors::default()).into_response()
}

async fn save(State(state): State<WebState>, Path(id): Path<String>, CheckedForm { session, form }: CheckedForm<CategoryForm>) -> Response {
    let category = match category(&state, &session, &id).await {
        Ok(category) => category,
        Err(error) => return error_page(&error),
    };
    let input = UpdateCategory {
        name: Patch::Value(form.name.clone()),
        // A cleared colour goes back to the default grey, as `null` does in the API.
        color: text(&form.color).map_or(Patch::Null, Patch::Value),
        is_active: Patch::Value(form.is_active.is_some()),
        ..UpdateCategory::default()
    };
    match service::update_category(state.store.as_ref(), &session.actor(), category.id, Input::readable(input)).await {
        Ok(category) => done(PATH, "saved", Some(category.id)),
        Err(error) => match field_errors(error, "name") {
            Ok(errors) => (StatusCode::UNPROCESSABLE_ENTITY, edit_page(&session, &category, &form, &errors)).into_response(),
            Err(error) => error_page(&error),
        },
    }
}

#[derive(Deserialize)]
struct MoveForm {
    direction: String,
}

async fn move_category(
    State(state): State<WebState>,
    Path(id): Path<String>,
    CheckedForm { session, form }: CheckedForm<MoveForm>,
) -> Response {
    let id = match path_id(&id) {
        Ok(id) => id,
        Err(error) => return error_page(&error),
    };
    let direction = match form.direction.as_str() {
        "up" => Direction::Up,
        "down" => Direction::Down,
        _ => return error_page(&Error::parameter("direction", "must be up or down")),
    };
    match service::move_category(state.store.as_ref(), &session.actor(), id, direction).await {
        Ok(()) => done(PATH, "moved", Some(id)),
        Err(error) => error_page(&error),
    }
}

#[derive(Deserialize)]
struct ActiveForm {
    active: bool,
}

async fn set_active(
    State(state): State<WebState>,
    Path(id): Path<String>,
    CheckedForm { session, form }: CheckedForm<ActiveForm>,
) -> Response {
    let id = match path_id(&id) {
        Ok(id) => id,
        Err(error) => return error_page(&error),
    };
    let input = UpdateCategory { is_active: Patch::Value(form.active), ..UpdateCategory::default() };
    match service::update_category(state.store.as_ref(), &session.actor(), id, Input::readable(input)).await {
        Ok(_) => done(PATH, if form.active { "activated" } else { "deactivated" }, Some(id)),
        Err(error) => error_page(&error),
    }
}

/// The category an edit page's path names.
async fn category(state: &WebState, session: &WebSession, id: &str) -> Result<Category, Error> {
    let id = path_id(id)?;
    let categories = state.store.categories(session.org_id, true).await?;
    categories.into_iter().find(|category| category.id == id).ok_or(Error::NotFound("category"))
}

fn text(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|value| !value.is_empty())
}

/// Every category in order with its controls, and the form to add one (as typed, after a
/// refusal; otherwise blank with the next preset colour).
async fn list_page(
    state: &WebState,
    session: &WebSession,
    pairs: &[(String, String)],
    typed: Option<&CategoryForm>,
    errors: &FieldErrors,
) -> Result<Markup, Error> {
    let categories = state.store.categories(session.org_id, true).await?;
    let blank = CategoryForm { color: PRESETS[categories.len() % PRESETS.len()].to_owned(), ..CategoryForm::default() };
    let form = typed.unwrap_or(&blank);
    let main = html! {
        h1 { "Categories" }
        (done_notice(pairs, &MESSAGES))
        @if categories.is_empty() {
            p { "No categories yet. Add the treatments or services leads ask about, such as Botox or Facials." }
        } @else {
            table.settings-table {
                caption.visually-hidden { "Categories, in the order lists show them" }
                thead { tr { th scope="col" { "Order" } th scope="col" { "Category" } th scope="col" { "Status" } th scope="col" { "Actions" } } }
                tbody {
                    @for (index, category) in categories.iter().enumerate() {
                        (row(session, category, index == 0, index + 1 == categories.len()))
                    }
                }
            }
        }
        section.panel aria-labelledby="add-category" {
            h2 #add-category { "Add a category" }
            (error_summary(errors, "The category was not added"))
            form method="post" action=(PATH) novalidate {
                (csrf_field(session))
                (input_field("name", "Name", "text", &form.name, true, errors))
                (colour_field(&form.color, errors))
                button.primary type="submit" { "Add category" }
            }
        }
    };
    Ok(settings_page("Categories", session, Tab::Categories, main))
}

fn row(session: &WebSession, category: &Category, first: bool, last: bool) -> Markup {
    let id = category.id;
    let name = &category.name;
    html! {
        tr #{ "row-" (id) } tabindex="-1" {
            td {
                form.inline method="post" action={ "/settings/categories/" (id) "/move" } {
                    (csrf_field(session))
                    button type="submit" name="direction" value="up" disabled[first] aria-label={ "Move " (name) " up" } { "Up" }
                    button type="submit" name="direction" value="down" disabled[last] aria-label={ "Move " (name) " down" } { "Down" }
                }
            }
            td {
                span.chip.category style={ "--cat:" (category.color) } { (name) }
                " " span.small.muted { (category.color) }
            }
            td {
                @if category.is_active { span.chip.success { "Active" } } @else { span.chip { "Inactive" } }
            }
            td {
                div.row-actions {
                    a href={ "/settings/categories/" (id) } { "Edit" span.visually-hidden { " " (name) } }
                    form.inline method="post" action={ "/settings/categories/" (id) "/active" } {
                        (csrf_field(session))
                        input type="hidden" name="active" value=(!category.is_active);
                        button type="submit" {
                            @if category.is_active { "Deactivate" } @else { "Reactivate" }
                            span.visually-hidden { " " (name) }
                        }
                    }
                }
            }
        }
    }
}

fn edit_page(session: &WebSession, category: &Category, form: &CategoryForm, errors: &FieldErrors) -> Markup {
    let main = html! {
        div.narrow.panel {
            h1 { "Edit " (category.name) }
            (error_summary(errors, "The category was not saved"))
            form method="post" action={ "/settings/categories/" (category.id) } novalidate {
                (csrf_field(session))
                (input_field("name", "Name", "text", &form.name, true, errors))
                (colour_field(&form.color, errors))
                div.field.check {
                    input #is_active type="checkbox" name="is_active" value="true" checked[form.is_active.is_some()];
                    label for="is_active" { "Active: new leads can take this category" }
                }
                div.actions {
                    button.primary type="submit" { "Save" }
                    a href=(PATH) { "Cancel" }
                }
            }
        }
    };
    settings_page(&format!("Edit {}", category.name), session, Tab::Categories, main)
}

/// The colour as hex text (what the form sends, so it works without a script), and a colour
/// picker with the presets that the settings script shows and keeps in step with the text.
fn colour_field(value: &str, errors: &FieldErrors) -> Markup {
    let picked = if value.len() == 7 && value.starts_with('#') { value } else { PRESETS[0] };
    field("color", "Colour (hex, such as #0b6fae)", false, errors, |invalid| {
        html! {
            div.colour-input {
                input #color name="color" value=(value) maxlength="7" spellcheck="false" autocomplete="off"
                    aria-invalid=[invalid.aria_invalid] aria-describedby=[invalid.described_by.as_deref()];
                input.colour-picker type="color" value=(picked) list="colour-presets" aria-label="Pick a colour" data-hex-field="color" hidden;
            }
            datalist #colour-presets { @for preset in PRESETS { option value=(preset) {} } }
        }
    })
}
