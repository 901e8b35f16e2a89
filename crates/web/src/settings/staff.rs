//! Staff: add someone, change their role, deactivate them (which ends their sessions and
//! revokes their tokens at once), and make the link with which they choose a password: an
//! invitation, or a reset when they have one. The link is shown once.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use domain::auth::{CreateStaff, Role, Staff, UpdateStaff};
use domain::session::WebSession;
use domain::{Error, FieldErrors, Input, Patch};
use maud::{Markup, html};
use serde::Deserialize;
use store::{service, sign_in};

use super::{Tab, answer, done, done_notice, field_errors, path_id, settings_page, shown_once, when};
use crate::WebState;
use crate::pages::{csrf_field, error_page, error_summary, field, input_field, sentence, status_of};
use crate::session::{CheckedForm, SignedIn};

const PATH: &str = "/settings/staff";

const MESSAGES: [(&str, &str); 4] = [
    ("added", "Staff member added. Make a sign-in link for them below."),
    ("role", "Role changed."),
    ("deactivated", "Deactivated: they were signed out everywhere and their API tokens no longer work."),
    ("activated", "Active again. They sign in with their password; make a new link if they need one."),
];

pub fn routes() -> Router<WebState> {
    Router::new()
        .route(PATH, get(list).post(create))
        .route("/settings/staff/{id}/role", post(change_role))
        .route("/settings/staff/{id}/active", post(set_active))
        .route("/settings/staff/{id}/invite", post(invite))
}

/// What the page shows besides the list: the add form as typed, a refused row action, or a
/// new sign-in link.
#[derive(Default)]
struct Extra<'a> {
    typed: Option<&'a NewStaffForm>,
    errors: FieldErrors,
    problem: Option<String>,
    link: Option<(&'a Staff, String, String)>,
}

#[derive(Debug, Default, Deserialize)]
struct NewStaffForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

async fn list(State(state): State<WebState>, SignedIn(session): SignedIn, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    answer(StatusCode::OK, page(&state, &session, &pairs, Extra::default()).await)
}

async fn create(State(state): State<WebState>, CheckedForm { session, form }: CheckedForm<NewStaffForm>) -> Response {
    let mut unreadable = FieldErrors::default();
    let role = Role::parse(&form.role);
    if role.is_none() {
        unreadable.add("role", "must be member, admin or owner");
    }
    let input = CreateStaff { name: Some(form.name.clone()), email: Some(form.email.clone()), role };
    match service::create_staff(state.store.as_ref(), &session.actor(), Input::new(input, unreadable)).await {
        Ok(staff) => done(PATH, "added", Some(staff.id)),
        Err(error) => match field_errors(error, "email") {
            Ok(errors) => {
                let extra = Extra { typed: Some(&form), errors, ..Extra::default() };
                answer(StatusCode::UNPROCESSABLE_ENTITY, page(&state, &session, &[], extra).await)
            }
            Err(error) => error_page(&error),
        },
    }
}

#[derive(Deserialize)]
struct RoleForm {
    role: String,
}

async fn change_role(
    State(state): State<WebState>,
    Path(id): Path<String>,
    CheckedForm { session, form }: CheckedForm<RoleForm>,
) -> Response {
    let Some(role) = Role::parse(&form.role) else { return error_page(&Error::parameter("role", "must be member, admin or owner")) };
    let input = UpdateStaff { role: Patch::Value(role), ..UpdateStaff::default() };
    update(&state, &session, &id, input, "role").await
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
    let input = UpdateStaff { is_active: Patch::Value(form.active), ..UpdateStaff::default() };
    update(&state, &session, &id, input, if form.active { "activated" } else { "deactivated" }).await
}

/// A row's change; a refusal (the last owner, an admin touching an owner) is said above the
/// list, with the status the API would answer.
async fn update(state: &WebState, session: &WebSession, id: &str, input: UpdateStaff, done_key: &str) -> Response {
    let id = match path_id(id) {
        Ok(id) => id,
        Err(error) => return error_page(&error),
    };
    match service::update_staff(state.store.as_ref(), &session.actor(), id, Input::readable(input)).await {
        Ok(_) => done(PATH, done_key, Some(id)),
        Err(error) => row_refused(state, session, error).await,
    }
}

async fn row_refused(state: &WebState, session: &WebSession, error: Error) -> Response {
    match error {
        Error::Internal(_) | Error::NotFound(_) => error_page(&error),
        refusal => {
            let (status, _) = status_of(&refusal);
            let extra = Extra { problem: Some(sentence(&refusal.to_string())), ..Extra::default() };
            answer(status, page(state, session, &[], extra).await)
        }
    }
}

/// Makes a sign-in link and shows it this once.
async fn invite(
    State(state): State<WebState>,
    Path(id): Path<String>,
    CheckedForm { session, .. }: CheckedForm<crate::sign_in::Empty>,
) -> Response {
    let id = match path_id(&id) {
        Ok(id) => id,
        Err(error) => return error_page(&error),
    };
    let link = match sign_in::invite(state.store.as_ref(), &session.actor(), id).await {
        Ok(link) => link,
        Err(error) => return row_refused(&state, &session, error).await,
    };
    let staff = match state.store.staff(session.org_id, id).await {
        Ok(Some(staff)) => staff,
        Ok(None) => return error_page(&Error::NotFound("staff member")),
        Err(error) => return error_page(&error),
    };
    let url = state.config.public_url.password_link(&link.secret);
    let extra = Extra { link: Some((&staff, url, when(link.expires_at))), ..Extra::default() };
    match page(&state, &session, &[], extra).await {
        Ok(page) => shown_once(page),
        Err(error) => error_page(&error),
    }
}

async fn page(state: &WebState, session: &WebSession, pairs: &[(String, String)], extra: Extra<'_>) -> Result<Markup, Error> {
    let staff = state.store.staff_members(session.org_id).await?;
    Ok(render(session, pairs, &staff, &extra))
}

fn render(session: &WebSession, pairs: &[(String, String)], staff: &[Staff], extra: &Extra<'_>) -> Markup {
    let blank = NewStaffForm { role: Role::Member.as_str().to_owned(), ..NewStaffForm::default() };
    let form = extra.typed.unwrap_or(&blank);
    let roles = grantable_roles(session.role);
    let main = html! {
        h1 { "Staff" }
        (done_notice(pairs, &MESSAGES))
        @if let Some(problem) = &extra.problem { div.error-summary role="alert" { (problem) } }
        @if let Some((member, url, expires)) = &extra.link {
            section.panel.secret aria-labelledby="link-title" {
                h2 #link-title { "Sign-in link for " (member.name) }
                p { "Send this link to " (member.name) " (" (member.email) "). It works once, until " (expires) ". "
                    strong { "It is shown only now." } }
                div.copy-row {
                    label.visually-hidden for="new-link" { "Sign-in link" }
                    input #new-link readonly value=(url);
                    button type="button" data-copy="new-link" hidden { "Copy link" }
                }
            }
        }
        table.settings-table {
            caption.visually-hidden { "Staff members" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Role" } th scope="col" { "Status" } th scope="col" { "Actions" } } }
            tbody { @for member in staff { (row(session, member, roles)) } }
        }
        section.panel aria-labelledby="add-staff" {
            h2 #add-staff { "Add a staff member" }
            (error_summary(&extra.errors, "The staff member was not added"))
            form method="post" action=(PATH) novalidate {
                (csrf_field(session))
                (input_field("name", "Name", "text", &form.name, true, &extra.errors))
                (input_field("email", "E-mail", "email", &form.email, true, &extra.errors))
                (field("role", "Role", false, &extra.errors, |invalid| html! {
                    select #role name="role" aria-invalid=[invalid.aria_invalid] aria-describedby=[invalid.described_by.as_deref()] {
                        @for role in roles { option value=(role.as_str()) selected[form.role == role.as_str()] { (role_label(*role)) } }
                    }
                }))
                button.primary type="submit" { "Add staff member" }
            }
        }
    };
    settings_page("Staff", session, Tab::Staff, main)
}

fn row(session: &WebSession, member: &Staff, roles: &[Role]) -> Markup {
    let id = member.id;
    let role_id = format!("role-{id}");
    html! {
        tr #{ "row-" (id) } tabindex="-1" {
            td { (member.name) br; span.small.muted { (member.email) } }
            td {
                @if roles.contains(&member.role) {
                    form.inline method="post" action={ "/settings/staff/" (id) "/role" } {
                        (csrf_field(session))
                        label.visually-hidden for=(role_id) { "Role of " (member.name) }
                        select id=(role_id) name="role" {
                            @for role in roles { option value=(role.as_str()) selected[member.role == *role] { (role_label(*role)) } }
                        }
                        button type="submit" { "Change" span.visually-hidden { " the role of " (member.name) } }
                    }
                } @else {
                    (role_label(member.role))
                }
            }
            td { @if member.is_active { span.chip.success { "Active" } } @else { span.chip { "Deactivated" } } }
            td {
                div.row-actions {
                    @if member.is_active {
                        form.inline method="post" action={ "/settings/staff/" (id) "/invite" } {
                            (csrf_field(session))
                            button type="submit" { "Make sign-in link" span.visually-hidden { " for " (member.name) } }
                        }
                    }
                    form.inline method="post" action={ "/settings/staff/" (id) "/active" } {
                        (csrf_field(session))
                        input type="hidden" name="active" value=(!member.is_active);
                        button type="submit" {
                            @if member.is_active { "Deactivate" } @else { "Reactivate" }
                            span.visually-hidden { " " (member.name) }
                        }
                    }
                }
            }
        }
    }
}

/// The roles the signed-in manager may give: only an owner makes owners (the use case says so
/// too; this keeps the choice from being offered).
fn grantable_roles(role: Role) -> &'static [Role] {
    if role == Role::Owner { &[Role::Member, Role::Admin, Role::Owner] } else { &[Role::Member, Role::Admin] }
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Owner => "Owner",
        Role::Admin => "Admin",
        Role::Member => "Member",
    }
}
