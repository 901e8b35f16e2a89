use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::activity::{Activity, CreateActivity, CreateNote, Note, UpdateActivity};
use domain::duplicates::{CreatedOpportunity, MergeOpportunities, PossibleDuplicate};
use domain::opportunity::{
    CloseOpportunity, Conversion, CreateOpportunity, OpportunityDetail, OpportunityView, StageSpan, UpdateOpportunity,
};
use domain::query::{OpportunityFilter, Page, QueryParams, StatsFilter};
use domain::stats::PipelineStats;
use store::service;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiResult;
use crate::AppState;
use crate::envelope::{Deleted, Envelope, ListEnvelope, Tagged, created, list, ok, tagged};
use crate::extract::{Auth, Body, Id, IfMatch, IfMatchHeader, Params, uuid_in_path};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_opportunities, create_opportunity))
        .routes(routes!(stats))
        .routes(routes!(get_opportunity, update_opportunity, delete_opportunity))
        .routes(routes!(close_opportunity))
        .routes(routes!(convert_to_client))
        .routes(routes!(stage_history))
        .routes(routes!(merge_opportunities))
        .routes(routes!(possible_duplicates))
        .routes(routes!(list_notes, add_note))
        .routes(routes!(list_activities, log_activity))
        .routes(routes!(update_activity))
}

/// getOpportunities: filtered, sorted and paged, each with its client, category, assignee and counts.
#[utoipa::path(get, path = "/opportunities", tag = "opportunities",
    params(
        ("status" = Option<Vec<domain::opportunity::Status>>, Query, description = "Repeatable and/or comma-separated.", explode = true),
        ("assigned_to" = Option<uuid::Uuid>, Query), ("category_id" = Option<uuid::Uuid>, Query), ("client_id" = Option<uuid::Uuid>, Query),
        ("source" = Option<String>, Query),
        ("search" = Option<String>, Query, description = "Words that must each begin a word of the title, description, or prospect name, e-mail or phone, ignoring case; the last word may be unfinished (a prefix). Past 1,000 matches `meta.total` is 1000 and `meta.total_exact` false. At most 200 characters and 8 different words (repeats count once); with a search, `offset` + `limit` may be at most 10,000."),
        ("follow_up_due" = Option<bool>, Query, description = "Only leads not won or lost whose follow-up is due by the end of today in the organization's time zone (pipeline settings)."),
        ("rotting" = Option<bool>, Query, description = "true: only the leads rotting now (in a stage whose `rot_after_days`, pipeline settings, have passed since `last_activity_at`); false: only the others."),
        ("sort" = Option<String>, Query, description = "created_at, updated_at, follow_up_date or estimated_value; prefix - for descending. Default -created_at."),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200), ("offset" = Option<i64>, Query, minimum = 0, maximum = 2147483647)),
    responses((status = 200, body = ListEnvelope<OpportunityView>)))]
async fn list_opportunities(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Params(params): Params,
) -> ApiResult<Json<ListEnvelope<OpportunityView>>> {
    let settings = state.store.pipeline_settings(actor.org_id).await?;
    let now = state.clock.now();
    let filter = OpportunityFilter::parse_in(params, &settings, now)?;
    let (opportunities, total) = state.store.opportunities(actor.org_id, &filter).await?;
    let opportunities = opportunities.into_iter().map(|view| view.rotting_at(&settings, now)).collect();
    Ok(list(opportunities, total, Some(filter.page)))
}

/// The list's filter, with "today" in the organization's time zone and rotting by its stages.
pub(super) async fn opportunity_filter(state: &AppState, org_id: uuid::Uuid, params: QueryParams) -> ApiResult<OpportunityFilter> {
    let settings = state.store.pipeline_settings(org_id).await?;
    Ok(OpportunityFilter::parse_in(params, &settings, state.clock.now())?)
}

/// The view with `rotting` as of the state's clock, in its organization's settings.
async fn rotting(state: &AppState, view: OpportunityView) -> ApiResult<OpportunityView> {
    let settings = state.store.pipeline_settings(view.opportunity.org_id).await?;
    Ok(view.rotting_at(&settings, state.clock.now()))
}

/// createOpportunity: the answer lists the open leads and clients the new lead may duplicate
/// (`possible_duplicates`); merge one into another with mergeOpportunities.
#[utoipa::path(post, path = "/opportunities", tag = "opportunities", request_body = CreateOpportunity,
    responses((status = 201, body = Envelope<CreatedOpportunity>, headers(("ETag" = String, description = "The version, for If-Match.")))))]
async fn create_opportunity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(input): Body<CreateOpportunity>,
) -> ApiResult<Tagged<CreatedOpportunity>> {
    let view = rotting(&state, service::create_opportunity(state.store.as_ref(), &actor, input).await?).await?;
    let possible_duplicates = service::possible_duplicates(state.store.as_ref(), &actor, &view.opportunity).await?;
    Ok(tagged(StatusCode::CREATED, view.opportunity.version, CreatedOpportunity { view, possible_duplicates }))
}

/// getOpportunityStats: `needsFollowUp` counts the follow-ups due by the end of today in the
/// organization's time zone.
#[utoipa::path(get, path = "/opportunities/stats", tag = "opportunities",
    params(("assigned_to" = Option<uuid::Uuid>, Query), ("category_id" = Option<uuid::Uuid>, Query)),
    responses((status = 200, body = Envelope<PipelineStats>)))]
async fn stats(State(state): State<AppState>, Auth(actor): Auth, Params(params): Params) -> ApiResult<Json<Envelope<PipelineStats>>> {
    let filter = StatsFilter::parse(params)?;
    let totals = service::stats(state.store.as_ref(), actor.org_id, &filter, state.clock.now()).await?;
    Ok(ok(PipelineStats::from_totals(&totals)))
}

/// getOpportunity: with its latest 50 notes and latest 50 activities, newest first;
/// `notes_count` and `activities_count` say how many there are (page the rest through
/// getOpportunityNotes and getOpportunityActivities).
#[utoipa::path(get, path = "/opportunities/{id}", tag = "opportunities", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Envelope<OpportunityDetail>, headers(("ETag" = String, description = "The version, for If-Match.")))))]
async fn get_opportunity(State(state): State<AppState>, Auth(actor): Auth, Id(id): Id) -> ApiResult<Tagged<OpportunityDetail>> {
    let mut detail = service::opportunity(state.store.as_ref(), &actor, id).await?;
    detail.view = rotting(&state, detail.view).await?;
    Ok(tagged(StatusCode::OK, detail.view.opportunity.version, detail))
}

/// updateOpportunity: only the given fields change; `null` clears a nullable one.
#[utoipa::path(patch, path = "/opportunities/{id}", tag = "opportunities", request_body = UpdateOpportunity,
    params(("id" = uuid::Uuid, Path), IfMatchHeader),
    responses((status = 200, body = Envelope<OpportunityView>, headers(("ETag" = String, description = "The new version.")))))]
async fn update_opportunity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    IfMatch(expected): IfMatch,
    Body(input): Body<UpdateOpportunity>,
) -> ApiResult<Tagged<OpportunityView>> {
    let view = rotting(&state, service::update_opportunity(state.store.as_ref(), &actor, id, expected, input).await?).await?;
    Ok(tagged(StatusCode::OK, view.opportunity.version, view))
}

/// deleteOpportunity: its notes and activities go with it.
#[utoipa::path(delete, path = "/opportunities/{id}", tag = "opportunities", params(("id" = uuid::Uuid, Path), IfMatchHeader),
    responses((status = 200, body = Envelope<Deleted>)))]
async fn delete_opportunity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    IfMatch(expected): IfMatch,
) -> ApiResult<Json<Envelope<Deleted>>> {
    service::delete_opportunity(state.store.as_ref(), &actor, id, expected).await?;
    Ok(ok(Deleted { id }))
}

/// closeOpportunity: won (probability 100) or lost (probability 0).
#[utoipa::path(post, path = "/opportunities/{id}/close", tag = "opportunities", request_body = CloseOpportunity,
    params(("id" = uuid::Uuid, Path), IfMatchHeader),
    responses((status = 200, body = Envelope<OpportunityView>, headers(("ETag" = String, description = "The new version.")))))]
async fn close_opportunity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    IfMatch(expected): IfMatch,
    Body(input): Body<CloseOpportunity>,
) -> ApiResult<Tagged<OpportunityView>> {
    let view = rotting(&state, service::close_opportunity(state.store.as_ref(), &actor, id, expected, input).await?).await?;
    Ok(tagged(StatusCode::OK, view.opportunity.version, view))
}

/// convertToClient: creates a client from the prospect, or links the one with the same e-mail.
#[utoipa::path(post, path = "/opportunities/{id}/convert", tag = "opportunities", params(("id" = uuid::Uuid, Path), IfMatchHeader),
    responses((status = 200, body = Envelope<Conversion>)))]
async fn convert_to_client(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    IfMatch(expected): IfMatch,
) -> ApiResult<Json<Envelope<Conversion>>> {
    Ok(ok(service::convert_to_client(state.store.as_ref(), &actor, id, expected).await?))
}

/// getOpportunityHistory: each stage the opportunity entered, oldest first, with when it left
/// it (null for the current stage), the seconds it spent there (until now for the current one)
/// and who moved it (null when the system did); paged like the opportunity list.
#[utoipa::path(get, path = "/opportunities/{id}/history", tag = "opportunities", params(("id" = uuid::Uuid, Path), PageParams),
    responses((status = 200, body = ListEnvelope<StageSpan>)))]
async fn stage_history(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    Params(params): Params,
) -> ApiResult<Json<ListEnvelope<StageSpan>>> {
    let page = Page::parse(params)?;
    let (spans, total) = service::stage_history(state.store.as_ref(), &actor, id, page).await?;
    Ok(list(spans, total, Some(page)))
}

/// mergeOpportunities: merges the lead `from_id` into this one, in one transaction: its notes,
/// activities and stage history move here (the histories interleave by time, and this lead's
/// stage stays its current one), its values fill this lead's empty fields, an activity records
/// the merge, and it is deleted (`opportunity.deleted` for it, `opportunity.updated` for this
/// one). `If-Match` is this lead's version. 422 when `from_id` is missing or names this lead;
/// 404 when either lead is not in the organization; 409 when the lead `from_id` is linked to a
/// sale (merge the other way round).
#[utoipa::path(post, path = "/opportunities/{id}/merge", tag = "opportunities", request_body = MergeOpportunities,
    params(("id" = uuid::Uuid, Path), IfMatchHeader),
    responses((status = 200, body = Envelope<OpportunityView>, headers(("ETag" = String, description = "The new version.")))))]
async fn merge_opportunities(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    IfMatch(expected): IfMatch,
    Body(input): Body<MergeOpportunities>,
) -> ApiResult<Tagged<OpportunityView>> {
    let view = rotting(&state, service::merge_opportunities(state.store.as_ref(), &actor, id, expected, input).await?).await?;
    Ok(tagged(StatusCode::OK, view.opportunity.version, view))
}

/// getPossibleDuplicates: the open leads and clients that may be the same person as this lead
/// (the same e-mail, case-insensitive, or the same phone digits), as its creation listed them
/// but as of now: how staff see them for a lead that came from a website form.
#[utoipa::path(get, path = "/opportunities/{id}/possible-duplicates", tag = "opportunities", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Envelope<Vec<PossibleDuplicate>>)))]
async fn possible_duplicates(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
) -> ApiResult<Json<Envelope<Vec<PossibleDuplicate>>>> {
    let view = state.store.opportunity_view(actor.org_id, id).await?.ok_or(domain::Error::NotFound("opportunity"))?;
    Ok(ok(service::possible_duplicates(state.store.as_ref(), &actor, &view.opportunity).await?))
}

/// getOpportunityNotes: newest first, paged like the opportunity list.
#[utoipa::path(get, path = "/opportunities/{id}/notes", tag = "notes", params(("id" = uuid::Uuid, Path), PageParams),
    responses((status = 200, body = ListEnvelope<Note>)))]
async fn list_notes(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    Params(params): Params,
) -> ApiResult<Json<ListEnvelope<Note>>> {
    let page = Page::parse(params)?;
    let (notes, total) = service::notes(state.store.as_ref(), &actor, id, page).await?;
    Ok(list(notes, total, Some(page)))
}

/// addOpportunityNote.
#[utoipa::path(post, path = "/opportunities/{id}/notes", tag = "notes", request_body = CreateNote,
    params(("id" = uuid::Uuid, Path)), responses((status = 201, body = Envelope<Note>)))]
async fn add_note(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    Body(input): Body<CreateNote>,
) -> ApiResult<(StatusCode, Json<Envelope<Note>>)> {
    Ok(created(service::add_note(state.store.as_ref(), &actor, id, input).await?))
}

/// getOpportunityActivities: the timeline, newest first, paged like the opportunity list.
#[utoipa::path(get, path = "/opportunities/{id}/activities", tag = "activities", params(("id" = uuid::Uuid, Path), PageParams),
    responses((status = 200, body = ListEnvelope<Activity>)))]
async fn list_activities(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    Params(params): Params,
) -> ApiResult<Json<ListEnvelope<Activity>>> {
    let page = Page::parse(params)?;
    let (activities, total) = service::activities(state.store.as_ref(), &actor, id, page).await?;
    Ok(list(activities, total, Some(page)))
}

/// `limit` and `offset` as the OpenAPI document describes them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(super) struct PageParams {
    /// How many to return, newest first: 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// How many of the newest to skip.
    #[param(minimum = 0, maximum = 2147483647)]
    offset: Option<i64>,
}

/// logOpportunityActivity.
#[utoipa::path(post, path = "/opportunities/{id}/activities", tag = "activities", request_body = CreateActivity,
    params(("id" = uuid::Uuid, Path)), responses((status = 201, body = Envelope<Activity>)))]
async fn log_activity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    Body(input): Body<CreateActivity>,
) -> ApiResult<(StatusCode, Json<Envelope<Activity>>)> {
    Ok(created(service::log_activity(state.store.as_ref(), &actor, id, input).await?))
}

/// updateOpportunityActivity: completes, reschedules or describes an activity; only the fields
/// given change, and `null` clears `outcome`, `scheduled_at` or `completed_at`. An activity with
/// `completed_at` leaves the agenda. `status_change` entries are history and cannot be changed
/// (422). Activities have no version: no `If-Match` is needed, and the lead's version stays.
#[utoipa::path(patch, path = "/opportunities/{id}/activities/{activity_id}", tag = "activities", request_body = UpdateActivity,
    params(("id" = uuid::Uuid, Path), ("activity_id" = uuid::Uuid, Path)), responses((status = 200, body = Envelope<Activity>)))]
async fn update_activity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, activity_id)): Path<(String, String)>,
    Body(input): Body<UpdateActivity>,
) -> ApiResult<Json<Envelope<Activity>>> {
    let (id, activity_id) = (uuid_in_path(&id)?, uuid_in_path(&activity_id)?);
    Ok(ok(service::update_activity(state.store.as_ref(), &actor, id, activity_id, input).await?))
}
