//! The new-lead form: the prospect's fields and the seed's sources, the domain's validation
//! messages next to their fields, then the board.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use domain::session::WebSession;
use domain::{Error, FieldErrors};
use maud::{Markup, html};
use store::service;

use crate::WebState;
use crate::lead_fields::{Choices, FieldSet, LeadFields};
use crate::pages::{Section, csrf_field, error_page, staff_page};
use crate::session::{CheckedForm, SignedIn};

pub fn routes() -> Router<WebState> {
    Router::new().route("/leads/new", get(new_lead).post(create_lead))
}

async fn new_lead(State(state): State<WebState>, SignedIn(session): SignedIn) -> Response {
    let form = LeadFields { assigned_to: session.staff_id.to_string(), source: "phone".into(), ..LeadFields::default() };
    form_page(&state, &session, &form, &FieldErrors::default()).await.into_response()
}

async fn create_lead(State(state): State<WebState>, CheckedForm { session, form }: CheckedForm<LeadFields>) -> Response {
    let input = form.create_input();
    match service::create_opportunity(state.store.as_ref(), &session.actor(), input).await {
        Ok(view) => Redirect::to(&format!("/board?assigned_to=&created={0}#card-{0}", view.opportunity.id)).into_response(),
        Err(Error::Validation(errors)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, form_page(&state, &session, &form, &errors).await).into_response()
        }
        Err(error) => error_page(&error),
    }
}

async fn form_page(state: &WebState, session: &WebSession, form: &LeadFields, errors: &FieldErrors) -> Markup {
    let choices = Choices::load(state, session.org_id, None).await;
    let set = FieldSet { prefix: "", errors };
    let main = html! {
        div.narrow.panel {
            h1 { "New lead" }
            (set.summary("The lead was not saved"))
            form method="post" action="/leads/new" novalidate {
                (csrf_field(session))
                (form.draw(&set, &choices))
                div.actions {
                    button.primary type="submit" { "Save" }
                    a href="/board" { "Cancel" }
                }
            }
        }
    };
    staff_page("New lead", session, Section::NewLead, main, &[])
}
