//! API tokens, one staff member's at a time: issue one (its secret is shown once, then only
//! its hash is kept), see when each was last used, and revoke one at once.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use domain::auth::{CreateToken, IssuedToken, Staff};
use domain::session::WebSession;
use domain::{Error, FieldErrors, Input};
use maud::{Markup, html};
use serde::Deserialize;
use store::service;
use uuid::Uuid;

use super::{Tab, answer, done, done_notice, field_errors, path_id, settings_page, shown_once, when};
use crate::WebState;
use crate::pages::{csrf_field, error_page, error_summary, input_field};
use crate::session::{CheckedForm, SignedIn};

const PATH: &str = "/settings/tokens";

const MESSAGES: [(&str, &str); 1] = [("revoked", "Token revoked: requests with it are refused from now on.")];

pub fn routes() -> Router<WebState> {
    Router::new().route(PATH, get(list).post(issue)).route("/settings/tokens/{id}/revoke", post(revoke))
}

/// What the page shows besides the list: the issue form as typed, or the token just issued.
#[derive(Default)]
struct Extra<'a> {
    typed: Option<&'a IssueForm>,
    errors: FieldErrors,
    issued: Option<&'a IssuedToken>,
}

async fn list(State(state): State<WebState>, SignedIn(session): SignedIn, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    let chosen = pairs.iter().find(|(name, _)| name == "staff_id").and_then(|(_, value)| Uuid::parse_str(value).ok());
    let holder = chosen.unwrap_or(session.staff_id);
    answer(StatusCode::OK, page(&state, &session, holder, &pairs, Extra::default()).await)
}

#[derive(Debug, Default, Deserialize)]
struct IssueForm {
    staff_id: String,
    #[serde(default)]
    name: String,
}

async fn issue(State(state): State<WebState>, CheckedForm { session, form }: CheckedForm<IssueForm>) -> Response {
    let holder = match path_id(&form.staff_id) {
        Ok(holder) => holder,
        Err(error) => return error_page(&error),
    };
    let name = Some(form.name.trim().to_owned()).filter(|name| !name.is_empty());
    match service::issue_token(state.store.as_ref(), &session.actor(), holder, Input::readable(CreateToken { name })).await {
        Ok(issued) => match page(&state, &session, holder, &[], Extra { issued: Some(&issued), ..Extra::default() }).await {
            Ok(page) => shown_once(page),
            Err(error) => error_page(&error),
        },
        Err(error) => match field_errors(error, "name") {
            Ok(errors) => {
                let extra = Extra { typed: Some(&form), errors, ..Extra::default() };
                answer(StatusCode::UNPROCESSABLE_ENTITY, page(&state, &session, holder, &[], extra).await)
            }
            Err(error) => error_page(&error),
        },
    }
}

#[derive(Deserialize)]
struct RevokeForm {
    staff_id: String,
}

async fn revoke(State(state): State<WebState>, Path(id): Path<String>, CheckedForm { session, form }: CheckedForm<RevokeForm>) -> Response {
    let (id, holder) = match (path_id(&id), path_id(&form.staff_id)) {
        (Ok(id), Ok(holder)) => (id, holder),
        (Err(error), _) | (_, Err(error)) => return error_page(&error),
    };
    match service::revoke_token(state.store.as_ref(), &session.actor(), id).await {
        Ok(()) => done(&format!("{PATH}?staff_id={holder}"), "revoked", Some(id)),
        Err(error) => error_page(&error),
    }
}

async fn page(state: &WebState, session: &WebSession, holder: Uuid, pairs: &[(String, String)], extra: Extra<'_>) -> Result<Markup, Error> {
    let staff = state.store.staff_members(session.org_id).await?;
    let member = staff.iter().find(|member| member.id == holder).ok_or(Error::NotFound("staff member"))?;
    let tokens = service::tokens(state.store.as_ref(), &session.actor(), holder).await?;
    let blank = IssueForm::default();
    let form = extra.typed.unwrap_or(&blank);
    let main = html! {
        h1 { "API tokens" }
        p { "Programs (a website, a spreadsheet script, an integration) use a token to reach the API as the staff member who holds it." }
        (done_notice(pairs, &MESSAGES))
        (holder_picker(&staff, member))
        @if let Some(issued) = extra.issued {
            section.panel.secret aria-labelledby="token-title" {
                h2 #token-title { "New token for " (member.name) }
                p { strong { "Copy it now: it is shown only this once." } " Only a fingerprint of it is kept, so it cannot be shown again. "
                    "Send it as " code { "Authorization: Bearer …" } "." }
                div.copy-row {
                    label.visually-hidden for="new-token" { "The new token" }
                    input #new-token readonly value=(issued.token);
                    button type="button" data-copy="new-token" hidden { "Copy token" }
                }
            }
        }
        @if tokens.is_empty() {
            p { (member.name) " has no API tokens." }
        } @else {
            table.settings-table {
                caption { "Tokens of " (member.name) }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Issued" } th scope="col" { "Last used" } th scope="col" { "Status" } } }
                tbody {
                    @for token in &tokens {
                        @let label = token.name.clone().unwrap_or_else(|| "Unnamed token".to_owned());
                        tr #{ "row-" (token.id) } tabindex="-1" {
                            td { (label) }
                            td { (when(token.created_at)) }
                            td { (token.last_used_at.map_or_else(|| "Never".to_owned(), when)) }
                            td {
                                @match token.revoked_at {
                                    Some(at) => span.chip { "Revoked " (when(at)) },
                                    None => form.inline method="post" action={ "/settings/tokens/" (token.id) "/revoke" } {
                                        (csrf_field(session))
                                        input type="hidden" name="staff_id" value=(holder);
                                        span.chip.success { "Active" } " "
                                        button.danger type="submit" { "Revoke" span.visually-hidden { " " (label) } }
                                    },
                                }
                            }
                        }
                    }
                }
            }
        }
        section.panel aria-labelledby="issue-token" {
            h2 #issue-token { "Issue a token for " (member.name) }
            (error_summary(&extra.errors, "The token was not issued"))
            form method="post" action=(PATH) novalidate {
                (csrf_field(session))
                input type="hidden" name="staff_id" value=(holder);
                (input_field("name", "Token name", "text", &form.name, false, &extra.errors))
                p.small.muted { "Say where it will be used, such as “website form” or “reception laptop”." }
                button.primary type="submit" { "Issue token" }
            }
        }
    };
    Ok(settings_page("API tokens", session, Tab::Tokens, main))
}

/// A plain GET form to show another staff member's tokens.
fn holder_picker(staff: &[Staff], shown: &Staff) -> Markup {
    html! {
        form.filters.actions method="get" action=(PATH) {
            div.field {
                label for="staff_id" { "Staff member" }
                select #staff_id name="staff_id" {
                    @for member in staff {
                        option value=(member.id) selected[member.id == shown.id] {
                            (member.name) @if !member.is_active { " (deactivated)" }
                        }
                    }
                }
            }
            button type="submit" { "Show tokens" }
        }
    }
}
