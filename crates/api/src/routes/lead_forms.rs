//! Website lead forms: set up by owners and admins, submitted to by anyone.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::Error;
use domain::lead_form::{self, CreateLeadForm, LeadForm, Submission, UpdateLeadForm};
use serde::Serialize;
use store::service;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiResult;
use crate::envelope::{Envelope, ListEnvelope, created, list, ok};
use crate::extract::{Auth, Body, FormOrJson, Id, SiteUrl};
use crate::visitor::{self, Accepted, Submitted};
use crate::{ApiError, AppState, idempotency};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_lead_forms, create_lead_form)).routes(routes!(update_lead_form))
}

/// The public submission endpoint, with its preflight. The per-address limit runs first, so
/// that floods cost no database work; the form's budget is counted in [`submit`]. Outside both,
/// a browser's form post gets a redirect or a page instead of JSON (see [`visitor`]).
pub fn public(state: AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit))
        .route("/public/lead-forms/{form_key}/submissions", axum::routing::options(preflight))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), once_per_idempotency_key))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit))
        .route_layer(axum::middleware::from_fn_with_state(state, visitor::negotiate))
}

/// A lead form with what its settings page shows: where the hosted form page is and the HTML
/// to paste into the clinic's site.
#[derive(Serialize, ToSchema)]
struct LeadFormView {
    #[serde(flatten)]
    form: LeadForm,
    /// The hosted form page (`/forms/{form_key}`): link to it or put it in an iframe.
    hosted_url: String,
    /// A plain HTML form that posts to this form's submission URL, honeypot included.
    embed_html: String,
}

impl LeadFormView {
    fn new(SiteUrl(site): &SiteUrl, form: LeadForm) -> Self {
        let hosted_url = form.hosted_url(site);
        let embed_html = lead_form::embed_html(site, &form.form_key);
        LeadFormView { form, hosted_url, embed_html }
    }
}

/// Every lead form of the organization (owners and admins).
#[utoipa::path(get, path = "/lead-forms", tag = "lead forms", responses((status = 200, body = ListEnvelope<LeadFormView>)))]
async fn list_lead_forms(State(state): State<AppState>, Auth(actor): Auth, site: SiteUrl) -> ApiResult<Json<ListEnvelope<LeadFormView>>> {
    let forms: Vec<_> =
        service::lead_forms(state.store.as_ref(), &actor).await?.into_iter().map(|form| LeadFormView::new(&site, form)).collect();
    let total = forms.len() as i64;
    Ok(list(forms, total, None))
}

/// Creates a form and its public `form_key` (owners and admins).
#[utoipa::path(post, path = "/lead-forms", tag = "lead forms", request_body = CreateLeadForm,
    responses((status = 201, body = Envelope<LeadFormView>)))]
async fn create_lead_form(
    State(state): State<AppState>,
    Auth(actor): Auth,
    site: SiteUrl,
    Body(input): Body<CreateLeadForm>,
) -> ApiResult<(StatusCode, Json<Envelope<LeadFormView>>)> {
    Ok(created(LeadFormView::new(&site, service::create_lead_form(state.store.as_ref(), &actor, input).await?)))
}

/// Renames, re-targets or disables (`is_active: false`) a form (owners and admins).
#[utoipa::path(patch, path = "/lead-forms/{id}", tag = "lead forms", request_body = UpdateLeadForm,
    params(("id" = uuid::Uuid, Path)), responses((status = 200, body = Envelope<LeadFormView>)))]
async fn update_lead_form(
    State(state): State<AppState>,
    Auth(actor): Auth,
    site: SiteUrl,
    Id(id): Id,
    Body(input): Body<UpdateLeadForm>,
) -> ApiResult<Json<Envelope<LeadFormView>>> {
    Ok(ok(LeadFormView::new(&site, service::update_lead_form(state.store.as_ref(), &actor, id, input).await?)))
}

#[derive(Serialize, ToSchema)]
struct Received {
    /// Always `true`: the inquiry was received.
    received: bool,
}

/// A website inquiry: becomes an opportunity with source `website`, the message as its
/// description and a follow-up due tomorrow. No token; JSON or an HTML form post. A browser's
/// form post (`Accept: text/html`) is sent on to the form's `thank_you_url` or the hosted
/// thank-you page (303), and a refusal is a readable HTML page with the same status.
#[utoipa::path(post, path = "/public/lead-forms/{form_key}/submissions", tag = "lead forms",
    params(("form_key" = String, Path)), security(()),
    request_body(content(
        (Submission = "application/json"),
        (Submission = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 201, body = Envelope<Received>),
        (status = 303, description = "A browser's form post was received: on to the thank-you page (`Location`)."),
        (status = 429, description = "Too many submissions; see Retry-After."),
    ))]
async fn submit(
    State(state): State<AppState>,
    Path(form_key): Path<String>,
    headers: HeaderMap,
    FormOrJson(input): FormOrJson<Submission>,
) -> Response {
    let submitted = Submitted(input.fields().clone());
    let mut response = receive(&state, &form_key, &headers, input).await.unwrap_or_else(IntoResponse::into_response);
    response.extensions_mut().insert(submitted);
    response
}

async fn receive(state: &AppState, form_key: &str, headers: &HeaderMap, input: domain::Input<Submission>) -> Result<Response, ApiError> {
    let form = active_form(state, form_key).await?;
    let origin = allowed_origin(&form, headers)?;
    if let Some(lead) = service::website_lead(&form, input)? {
        state.intake.admit_lead(form.id)?;
        service::save_website_lead(state.store.as_ref(), lead).await?;
    }
    let mut response = with_cors(origin, created(Received { received: true }).into_response());
    response.extensions_mut().insert(Accepted(form.thank_you_location()));
    Ok(response)
}

/// CORS preflight: only the form's allowed origins may post from a browser.
async fn preflight(State(state): State<AppState>, Path(form_key): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let form = active_form(&state, &form_key).await?;
    let origin = allowed_origin(&form, &headers)?;
    let mut response = with_cors(origin, StatusCode::NO_CONTENT.into_response());
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type, idempotency-key"));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    Ok(response)
}

/// An unknown and a disabled form look the same from outside.
async fn active_form(state: &AppState, form_key: &str) -> Result<LeadForm, ApiError> {
    if !store::tokens::is_form_key(form_key) {
        return Err(Error::NotFound("lead form").into());
    }
    let form = state.store.lead_form_by_key(form_key).await?;
    Ok(form.filter(|form| form.is_active).ok_or(Error::NotFound("lead form"))?)
}

/// The request's `Origin`, if it has one and the form allows it. Pages elsewhere are refused
/// outright, because a plain HTML form post from them would otherwise go through unchecked.
/// This server's own pages (the hosted form, also when framed elsewhere) are always allowed.
fn allowed_origin(form: &LeadForm, headers: &HeaderMap) -> Result<Option<HeaderValue>, ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(None) };
    match origin.to_str() {
        Ok(text) if form.allows_origin(text) || is_this_server(text, headers) => Ok(Some(origin.clone())),
        _ => Err(Error::Forbidden("this form does not accept submissions from that web site; add it to the form's allowed_origins").into()),
    }
}

/// Whether `origin` is the host the request was sent to, as a browser reports it when this
/// server's own page posts the form.
fn is_this_server(origin: &str, headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok());
    let origin_host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    host.is_some_and(|host| origin_host.is_some_and(|origin_host| origin_host.eq_ignore_ascii_case(host)))
}

fn with_cors(origin: Option<HeaderValue>, mut response: Response) -> Response {
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let address = request.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(peer)| peer.ip());
    match state.intake.admit_request(address) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// Idempotency-Key for submissions belongs to the form (see [`idempotency::Caller::form`]).
async fn once_per_idempotency_key(State(state): State<AppState>, Path(form_key): Path<String>, request: Request, next: Next) -> Response {
    if !idempotency::applies_to(&request) {
        return next.run(request).await;
    }
    if !store::tokens::is_form_key(&form_key) {
        return next.run(request).await;
    }
    match state.store.lead_form_by_key(&form_key).await {
        Ok(Some(form)) => {
            idempotency::run_once(&state, idempotency::Caller::form(&form), request, next).await.unwrap_or_else(IntoResponse::into_response)
        }
        Ok(None) => next.run(request).await,
        Err(error) => ApiError::from(error).into_response(),
    }
}
