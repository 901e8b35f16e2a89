//! A lead's page (`/leads/{id}`), reached from its card on the board: every field in one edit
//! form, the activity timeline (status changes included) with a form to log a call, e-mail,
//! meeting or task, notes newest first with a box to add one, the stage history, closing as won
//! or lost, converting the prospect into a client, deleting after a confirmation page, and the
//! possible duplicates, each lead of them with a merge into this one after a confirmation page.
//!
//! Every change is a plain form post (CSRF-checked by [`CheckedForm`]) through the same use
//! case as the API. The forms that change the lead itself carry the version the page showed,
//! as `If-Match` does, so a change made meanwhile (in another tab, by a colleague) is shown
//! with the lead as it now is instead of being overwritten. A post that worked answers 303 back
//! to the page, which names what was done; one that did not shows the page again with the
//! typed text and each error beside its field.

mod page;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::activity::{ActivityType, CreateActivity, CreateNote};
use domain::duplicates::MergeOpportunities;
use domain::opportunity::{CloseOpportunity, OpportunityView, Status, UpdateOpportunity};
use domain::session::WebSession;
use domain::{Error, FieldErrors, Input, Patch};
use serde::Deserialize;
use store::service;
use uuid::Uuid;

use crate::WebState;
use crate::lead_fields::{LeadFields, Reader, text};
use crate::pages::error_page;
use crate::session::{CheckedForm, SignedIn};

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/leads/{id}", get(lead_page).post(save_edit))
        .route("/leads/{id}/notes", post(add_note))
        .route("/leads/{id}/activities", post(log_activity))
        .route("/leads/{id}/close", post(close))
        .route("/leads/{id}/convert", post(convert))
        .route("/leads/{id}/delete", get(confirm_delete).post(delete))
        .route("/leads/{id}/merge", get(confirm_merge).post(merge))
}

/// The edit form: the fields every lead form has, the stage and probability, and whether to
/// unlink the sale of a won lead that is being reopened.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct EditForm {
    #[serde(flatten)]
    fields: LeadFields,
    status: String,
    probability: String,
    unlink_sale: Option<String>,
    version: String,
}

impl EditForm {
    fn of(view: &OpportunityView) -> EditForm {
        let stage = &view.opportunity.stage;
        EditForm {
            fields: LeadFields::of(view),
            status: stage.status().as_str().to_owned(),
            probability: stage.probability().to_string(),
            unlink_sale: None,
            version: view.opportunity.version.to_string(),
        }
    }

    /// The update this form asks of `current` (the lead as the form showed it, when the versions
    /// agree): only what was changed.
    fn update(&self, current: &OpportunityView) -> Input<UpdateOpportunity> {
        let shown = EditForm::of(current);
        let mut reader = Reader::default();
        let mut update = UpdateOpportunity::default();
        self.fields.changes(&shown.fields, &mut reader, &mut update);
        if self.status.trim() != shown.status {
            let status = reader.read("status", &self.status, Status::parse, "is not one of the stages");
            update.status = Patch::given(status);
        }
        if self.probability.trim() != shown.probability {
            let probability =
                reader.read("probability", &self.probability, |value| value.parse().ok(), "must be a whole number from 0 to 100");
            if probability.is_none() && text(&self.probability).is_none() {
                reader.refuse("probability", "is required: a whole number from 0 to 100");
            }
            update.probability = Patch::given(probability);
        }
        if self.unlink_sale.is_some() {
            update.transaction_id = Patch::Null;
        }
        Input::new(update, reader.unreadable())
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct NoteForm {
    content: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct ActivityForm {
    activity_type: String,
    description: String,
    outcome: String,
    /// `datetime-local`, taken as UTC.
    scheduled_at: String,
}

impl ActivityForm {
    fn input(&self) -> Input<CreateActivity> {
        let mut reader = Reader::default();
        let activity_type =
            reader.read("activity_type", &self.activity_type, ActivityType::parse, "must be a call, e-mail, meeting, task or other");
        let scheduled_at = reader.date_time("scheduled_at", &self.scheduled_at);
        let fields = CreateActivity {
            activity_type,
            description: text(&self.description),
            outcome: text(&self.outcome),
            scheduled_at,
            completed_at: None,
        };
        Input::new(fields, reader.unreadable())
    }
}

/// Closing as won (with the sale's id, if there is one) or as lost (with the reason).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct CloseForm {
    /// `won` or `lost`.
    outcome: String,
    transaction_id: String,
    reason: String,
    version: String,
}

impl CloseForm {
    fn won(&self) -> Option<bool> {
        match self.outcome.as_str() {
            "won" => Some(true),
            "lost" => Some(false),
            _ => None,
        }
    }

    /// A lost lead needs a reason here, as on the board, although the API takes one without:
    /// "why did we lose it" is the question a pipeline review asks.
    fn input(&self) -> Input<CloseOpportunity> {
        let mut reader = Reader::default();
        let won = self.won();
        let transaction_id =
            reader.read("transaction_id", &self.transaction_id, |value| Uuid::parse_str(value).ok(), "must be a sale's id");
        let reason = text(&self.reason);
        if won == Some(false) && reason.is_none() {
            reader.refuse("reason", "is required: say why the lead was lost");
        }
        Input::new(CloseOpportunity { won, transaction_id, reason }, reader.unreadable())
    }
}

/// The forms that act on the lead as a whole carry only its version.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VersionForm {
    version: String,
}

/// Merging another lead into this one: its id, and this lead's version as the page showed it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MergeForm {
    from_id: String,
    version: String,
}

/// A form post that was refused, to show again as it was typed, each error beside its field.
struct Refused<T> {
    form: T,
    errors: FieldErrors,
}

/// What happened, said at the top of the page.
enum Notice {
    /// A post that worked (named by the `done` flag it redirected with).
    Done(String),
    /// The lead changed after the page that posted was shown, so nothing was done; with the
    /// edit form as it was typed when that was an edit, to show where it differs.
    Changed { what_failed: &'static str, typed: Option<Box<EditForm>> },
    /// A rule refused the whole action, not one field.
    Refused(String),
}

/// Everything the page shows besides the lead.
#[derive(Default)]
struct Shown {
    notice: Option<Notice>,
    edit: Option<Refused<EditForm>>,
    note: Option<Refused<NoteForm>>,
    activity: Option<Refused<ActivityForm>>,
    close: Option<Refused<CloseForm>>,
}

/// Where the timeline and the notes start: the newest, or older ones after "Show older".
#[derive(Debug, Default, Clone, Copy)]
struct Offsets {
    notes: i64,
    activities: i64,
}

/// A lead's id from the path; text that is not one names no lead.
fn lead_id(id: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(id).map_err(|_| Error::NotFound("opportunity"))
}

/// The lead a form acts on and the version the form was shown at. Every such form of the page
/// carries its version, so a post without one was not made by the page.
fn target(id: &str, version: &str) -> Result<(Uuid, i64), Error> {
    let version = version.trim().parse().map_err(|_| Error::parameter("version", "is missing from the form; reload the page"))?;
    Ok((lead_id(id)?, version))
}

fn back_to(id: Uuid, done: &str, section: &str) -> Response {
    Redirect::to(&format!("/leads/{id}?done={done}{section}")).into_response()
}

async fn lead_page(
    State(state): State<WebState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let id = match lead_id(&id) {
        Ok(id) => id,
        Err(error) => return error_page(&error),
    };
    let get = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let offset = |name: &str| get(name).and_then(|value| value.parse::<i64>().ok()).unwrap_or(0).clamp(0, i64::from(i32::MAX));
    let offsets = Offsets { notes: offset("notes_offset"), activities: offset("activities_offset") };
    let shown = Shown { notice: get("done").map(|done| Notice::Done(done.to_owned())), ..Shown::default() };
    page::respond(&state, &session, id, StatusCode::OK, shown, offsets).await
}

async fn save_edit(
    State(state): State<WebState>,
    Path(id): Path<String>,
    CheckedForm { session, form }: CheckedForm<EditForm>,
) -> Response {
    let (id, version) = match target(&id, &form.version) {
        Ok(target) => target,
        Err(error) => return error_page(&error),
    };
    let actor = session.actor();
    let current = match service::opportunity(state.store.as_ref(), &actor, id).await {
        Ok(detail) => detail.view,
        Err(error) => return error_page(&error),
    };
    let outcome = service::update_opportunity(state.store.as_ref(), &actor, id, Some(version), form.update(&current)).await;
    let shown = match outcome {
        Ok(view) if view.opportunity.version == version => return back_to(id, "unchanged", "#details"),
        Ok(_) => return back_to(id, "saved", "#details"),
        Err(Error::Validation(errors)) => Shown { edit: Some(Refused { form, errors }), ..Shown::default() },
        Err(Error::PreconditionFailed { .. }) => Shown {
            notice: Some(Notice::Changed { what_failed: "Your changes were not saved", typed: Some(Box::new(form)) }),
            ..Shown::default()
        },
        Err(Error::Conflict(message)) => Shown {
            notice: Some(Notice::Refused(message)),
            edit: Some(Refused { form, errors: FieldErrors::default() }),
            ..Shown::default()
        },
        Err(error) => return error_page(&error),
    };
    show_again(&state, &session, id, shown).await
}

async fn add_note(State(state): State<WebState>, Path(id): Path<String>, CheckedForm { session, form }: CheckedForm<NoteForm>) -> Response {
    let id = match lead_id(&id) {
        Ok(id) => id,
        Err(error) => return error_page(&error),
    };
    let input = Input::readable(CreateNote { content: text(&form.content) });
    match service::add_note(state.store.as_ref(), &session.actor(), id, input).await {
        Ok(_) => back_to(id, "note", "#notes"),
        Err(Error::Validation(errors)) => {
            show_again(&state, &session, id, Shown { note: Some(Refused { form, errors }), ..Shown::default() }).await
        }
        Err(error) => error_page(&error),
    }
}

async fn log_activity(
    State(state): State<WebState>,
    Path(id): Path<String>,
    CheckedForm { session, form }: CheckedForm<ActivityForm>,
) -> Response {
    let id = match lead_id(&id) {
        Ok(id) => id,
        Err(error) => return error_page(&error),
    };
    match service::log_activity(state.store.as_ref(), &session.actor(), id, form.input()).await {
        Ok(_) => back_to(id, "activity", "#activity"),
        Err(Error::Validation(errors)) => {
            show_again(&state, &session, id, Shown { activity: Some(Refused { form, errors }), ..Shown::default() }).await
        }
        Err(error) => error_page(&error),
    }
}

async fn close(State(state): State<WebState>, Path(id): Path<String>, CheckedForm { session, form }: CheckedForm<CloseForm>) -> Response {
    let (id, version) = match target(&id, &form.version) {
        Ok(target) => target,
        Err(error) => return error_page(&error),
    };
    let outcome = service::close_opportunity(state.store.as_ref(), &session.actor(), id, Some(version), form.input()).await;
    let shown = match outcome {
        Ok(view) => return back_to(id, view.opportunity.stage.status().as_str(), ""),
        Err(Error::Validation(errors)) => Shown { close: Some(Refused { form, errors }), ..Shown::default() },
        Err(error) => match whole_action_refused(error, "The lead was not closed") {
            Ok(notice) => Shown { notice: Some(notice), ..Shown::default() },
            Err(error) => return error_page(&error),
        },
    };
    show_again(&state, &session, id, shown).await
}

async fn convert(
    State(state): State<WebState>,
    Path(id): Path<String>,
    CheckedForm { session, form }: CheckedForm<VersionForm>,
) -> Response {
    let (id, version) = match target(&id, &form.version) {
        Ok(target) => target,
        Err(error) => return error_page(&error),
    };
    match service::convert_to_client(state.store.as_ref(), &session.actor(), id, Some(version)).await {
        Ok(conversion) => back_to(id, if conversion.created { "client-created" } else { "client-linked" }, ""),
        Err(error) => match whole_action_refused(error, "The lead was not converted") {
            Ok(notice) => show_again(&state, &session, id, Shown { notice: Some(notice), ..Shown::default() }).await,
            Err(error) => error_page(&error),
        },
    }
}

async fn confirm_delete(State(state): State<WebState>, SignedIn(session): SignedIn, Path(id): Path<String>) -> Response {
    let id = match lead_id(&id) {
        Ok(id) => id,
        Err(error) => return error_page(&error),
    };
    match service::opportunity(state.store.as_ref(), &session.actor(), id).await {
        Ok(detail) => page::confirm_delete(&session, &detail.view).into_response(),
        Err(error) => error_page(&error),
    }
}

async fn delete(
    State(state): State<WebState>,
    Path(id): Path<String>,
    CheckedForm { session, form }: CheckedForm<VersionForm>,
) -> Response {
    let (id, version) = match target(&id, &form.version) {
        Ok(target) => target,
        Err(error) => return error_page(&error),
    };
    match service::delete_opportunity(state.store.as_ref(), &session.actor(), id, Some(version)).await {
        Ok(()) => Redirect::to("/board?assigned_to=&deleted=1").into_response(),
        Err(error) => match whole_action_refused(error, "The lead was not deleted") {
            Ok(notice) => show_again(&state, &session, id, Shown { notice: Some(notice), ..Shown::default() }).await,
            Err(error) => error_page(&error),
        },
    }
}

/// Asks before merging the lead `?from=` into this one (both must be readable).
async fn confirm_merge(
    State(state): State<WebState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let from = pairs.iter().find(|(key, _)| key == "from").map_or("", |(_, value)| value.as_str());
    let (Ok(id), Ok(from)) = (lead_id(&id), lead_id(from)) else { return error_page(&Error::NotFound("opportunity")) };
    let actor = session.actor();
    let into = service::opportunity(state.store.as_ref(), &actor, id).await;
    let other = service::opportunity(state.store.as_ref(), &actor, from).await;
    match (into, other) {
        (Ok(into), Ok(other)) => page::confirm_merge(&session, &into.view, &other.view).into_response(),
        (Err(error), _) | (_, Err(error)) => error_page(&error),
    }
}

async fn merge(State(state): State<WebState>, Path(id): Path<String>, CheckedForm { session, form }: CheckedForm<MergeForm>) -> Response {
    let (id, version) = match target(&id, &form.version) {
        Ok(target) => target,
        Err(error) => return error_page(&error),
    };
    let mut reader = Reader::default();
    let from_id = reader.read("from_id", &form.from_id, |value| Uuid::parse_str(value).ok(), "must be a lead's id");
    let input = Input::new(MergeOpportunities { from_id }, reader.unreadable());
    match service::merge_opportunities(state.store.as_ref(), &session.actor(), id, Some(version), input).await {
        Ok(_) => back_to(id, "merged", ""),
        Err(error) => match whole_action_refused(error, "The leads were not merged") {
            Ok(notice) => show_again(&state, &session, id, Shown { notice: Some(notice), ..Shown::default() }).await,
            Err(error) => error_page(&error),
        },
    }
}

/// The notice for an action on the whole lead that its rules or a change made meanwhile
/// refused; any other error is the error page's.
fn whole_action_refused(error: Error, what_failed: &'static str) -> Result<Notice, Error> {
    match error {
        Error::PreconditionFailed { .. } => Ok(Notice::Changed { what_failed, typed: None }),
        Error::AlreadyClosed { .. } | Error::AlreadyConverted { .. } | Error::Conflict(_) => {
            Ok(Notice::Refused(format!("{what_failed}: {error}")))
        }
        Error::Validation(errors) => {
            let reasons: Vec<String> = errors.iter().map(|(field, message)| format!("{} {message}", field.replace('_', " "))).collect();
            Ok(Notice::Refused(format!("{what_failed}: {}", reasons.join("; "))))
        }
        other => Err(other),
    }
}

/// The page again, with the lead as it now is and what was refused: 422 when fields need a
/// change, 409 when the lead's state or a change made meanwhile stood in the way.
async fn show_again(state: &WebState, session: &WebSession, id: Uuid, shown: Shown) -> Response {
    let fields_to_fix = shown.edit.as_ref().is_some_and(|r| !r.errors.is_empty())
        || shown.note.as_ref().is_some_and(|r| !r.errors.is_empty())
        || shown.activity.as_ref().is_some_and(|r| !r.errors.is_empty())
        || shown.close.as_ref().is_some_and(|r| !r.errors.is_empty());
    let status = if fields_to_fix { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::CONFLICT };
    page::respond(state, session, id, status, shown, Offsets::default()).await
}
