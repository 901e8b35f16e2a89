//! `Idempotency-Key` on POST: a retry with the same key and body gets the first response
//! again without the work being done twice; the same key with another body is refused. Keys
//! live in the database, so this holds across replicas and restarts, and each caller has keys
//! of their own ([`KeyScope`]): nobody can replay, or block, another's.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::response::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::Timestamp;
use domain::auth::{Actor, Role};
use domain::lead_form::LeadForm;
use sha2::{Digest, Sha256};
use store::{Claim, KeyScope};
use uuid::Uuid;

use crate::{ApiError, AppState, BODY_LIMIT_BYTES, BodyLimit, extract};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a response that is a replay of the first one.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const KEY_MAX: usize = 255;

/// Whoever sends a key: the scope their keys live in, and the role they act in.
pub struct Caller {
    scope: KeyScope,
    role: Option<Role>,
}

impl Caller {
    /// A staff member: the keys are their own, whichever of their tokens sends them.
    pub fn staff(actor: &Actor) -> Self {
        Caller { scope: KeyScope { org_id: actor.org_id, caller_id: actor.staff_id }, role: Some(actor.role) }
    }

    /// A visitor of a public form: the form's keys are apart from every staff member's, so a
    /// visitor cannot claim a key before staff use it.
    pub fn form(form: &LeadForm) -> Self {
        Caller { scope: KeyScope { org_id: form.org_id, caller_id: form.id }, role: None }
    }
}

/// Put on a response that shows a token's secret. The secret is for the first request only:
/// it is never stored, and a retry is answered with [`ApiError::TokenAlreadyIssued`] instead.
#[derive(Debug, Clone, Copy)]
pub struct SecretShown {
    pub token_id: Uuid,
}

/// For the staff API: the key belongs to the staff member the token authenticates. Requests
/// whose token does not authenticate pass through to be refused by the handler, so nothing is
/// replayed to a revoked token or a deactivated member.
pub async fn for_staff(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !applies_to(&request) {
        return next.run(request).await;
    }
    let token = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(extract::bearer_token);
    let actor = match token {
        Some(token) => match state.store.authenticate(&store::tokens::hash(token)).await {
            Ok(actor) => actor,
            Err(error) => return ApiError::from(error).into_response(),
        },
        None => None,
    };
    match actor {
        Some(actor) => run_once(&state, Caller::staff(&actor), request, next).await.unwrap_or_else(IntoResponse::into_response),
        None => next.run(request).await,
    }
}

/// A POST that carries a key.
pub fn applies_to(request: &Request) -> bool {
    request.method() == Method::POST && request.headers().contains_key(IDEMPOTENCY_KEY)
}

/// Runs the request unless the caller used its key before, and keeps a successful response for
/// retries.
pub async fn run_once(state: &AppState, caller: Caller, request: Request, next: Next) -> Result<Response, ApiError> {
    let key = request_key(&request)?;
    let limit = request.extensions().get::<BodyLimit>().map_or(BODY_LIMIT_BYTES, |BodyLimit(bytes)| *bytes);
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, limit).await.map_err(|_| ApiError::PayloadTooLarge(limit))?;
    let role = caller.role.map_or("", Role::as_str);
    let hash = request_hash(&[role.as_bytes(), parts.method.as_str().as_bytes(), parts.uri.to_string().as_bytes(), &body]);
    match state.store.claim_idempotency_key(caller.scope, &key, &hash, Timestamp::now()).await? {
        Claim::Mismatch => return Err(ApiError::IdempotencyKeyReused),
        Claim::InProgress => return Err(ApiError::IdempotencyKeyInProgress),
        Claim::Replay { status, body } => return Ok(replay(status, body)),
        Claim::Fresh => {}
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let kept = kept_for_retries(&parts, &body).await;
    let kept = kept.as_ref().map(|(status, body)| (*status, body.as_ref()));
    if let Err(error) = state.store.finish_idempotency_key(caller.scope, &key, kept).await {
        tracing::error!(%error, "could not record the response to an Idempotency-Key");
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// What a retry is answered with. Only a success did work that must not be repeated; after a
/// failure the retry runs anew. A success that shows a secret is kept as the error that says so.
async fn kept_for_retries(parts: &Parts, body: &Bytes) -> Option<(u16, Bytes)> {
    if !parts.status.is_success() {
        return None;
    }
    let Some(&SecretShown { token_id }) = parts.extensions.get() else { return Some((parts.status.as_u16(), body.clone())) };
    let (parts, body) = ApiError::TokenAlreadyIssued(token_id).into_response().into_parts();
    Some((parts.status.as_u16(), to_bytes(body, usize::MAX).await.unwrap_or_default()))
}

fn request_key(request: &Request) -> Result<String, ApiError> {
    let key = request.headers().get(IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or("");
    if key.is_empty() || key.len() > KEY_MAX {
        return Err(ApiError::InvalidHeader("Idempotency-Key must be 1 to 255 visible characters, such as a UUID"));
    }
    Ok(key.to_owned())
}

/// What makes two requests "the same": the caller's role, method, path with query, and body.
/// A caller whose role changed since is not answered with what the old role was allowed to do.
fn request_hash(parts: &[&[u8]]) -> Vec<u8> {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.finalize().to_vec()
}

fn replay(status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = [(header::CONTENT_TYPE, HeaderValue::from_static("application/json")), (REPLAYED, HeaderValue::from_static("true"))];
    (status, headers, body).into_response()
}
