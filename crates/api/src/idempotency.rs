//! `Idempotency-Key` on POST: a retry with the same key and body gets the first response
//! again without the work being done twice; the same key with another body is refused. Keys
//! live in the database, per organization, so this holds across replicas and restarts.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::Timestamp;
use sha2::{Digest, Sha256};
use store::Claim;
use uuid::Uuid;

use crate::{ApiError, AppState, BODY_LIMIT_BYTES};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a response that is a replay of the first one.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const KEY_MAX: usize = 255;

/// For the staff API: the key belongs to the caller's organization. Requests whose token does
/// not authenticate pass through to be refused by the handler.
pub async fn for_staff(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !applies_to(&request) {
        return next.run(request).await;
    }
    let token = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let org_id = match token {
        Some(token) => match state.store.authenticate(&store::tokens::hash(token.trim())).await {
            Ok(actor) => actor.map(|actor| actor.org_id),
            Err(error) => return ApiError::from(error).into_response(),
        },
        None => None,
    };
    match org_id {
        Some(org_id) => run_once(&state, org_id, request, next).await.unwrap_or_else(IntoResponse::into_response),
        None => next.run(request).await,
    }
}

/// A POST that carries a key.
pub fn applies_to(request: &Request) -> bool {
    request.method() == Method::POST && request.headers().contains_key(IDEMPOTENCY_KEY)
}

/// Runs the request unless its key was used before, and keeps a successful response for retries.
pub async fn run_once(state: &AppState, org_id: Uuid, request: Request, next: Next) -> Result<Response, ApiError> {
    let key = request_key(&request)?;
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, BODY_LIMIT_BYTES).await.map_err(|_| ApiError::PayloadTooLarge(BODY_LIMIT_BYTES))?;
    let hash = request_hash(&parts.method, parts.uri.to_string().as_bytes(), &body);
    match state.store.claim_idempotency_key(org_id, &key, &hash, Timestamp::now()).await? {
        Claim::Mismatch => return Err(ApiError::IdempotencyKeyReused),
        Claim::InProgress => return Err(ApiError::IdempotencyKeyInProgress),
        Claim::Replay { status, body } => return Ok(replay(status, body)),
        Claim::Fresh => {}
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    // Only a success did work that must not be repeated; after a failure the retry runs anew.
    let keep = parts.status.is_success().then(|| (parts.status.as_u16(), body.as_ref()));
    if let Err(error) = state.store.finish_idempotency_key(org_id, &key, keep).await {
        tracing::error!(%error, "could not record the response to an Idempotency-Key");
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

fn request_key(request: &Request) -> Result<String, ApiError> {
    let key = request.headers().get(IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or("");
    if key.is_empty() || key.len() > KEY_MAX {
        return Err(ApiError::InvalidHeader("Idempotency-Key must be 1 to 255 visible characters, such as a UUID"));
    }
    Ok(key.to_owned())
}

/// What makes two requests "the same": method, path with query, and body.
fn request_hash(method: &Method, uri: &[u8], body: &Bytes) -> Vec<u8> {
    let mut hash = Sha256::new();
    for part in [method.as_str().as_bytes(), uri, body] {
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
