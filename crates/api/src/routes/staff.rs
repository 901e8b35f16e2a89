use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use domain::Error;
use domain::Timestamp;
use domain::auth::{CreateStaff, CreateToken, IssuedToken, Staff, TokenInfo, UpdateStaff};
use domain::session::PublicUrl;
use serde::Serialize;
use store::{service, sign_in};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiResult;
use crate::AppState;
use crate::envelope::{Deleted, Envelope, ListEnvelope, created, list, ok};
use crate::extract::{Auth, Body, Id};
use crate::idempotency::SecretShown;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_staff, create_staff))
        .routes(routes!(update_staff))
        .routes(routes!(list_tokens, issue_token))
        .routes(routes!(revoke_token))
        .routes(routes!(me))
        .routes(routes!(invite))
}

/// Everyone in the organization, active or not.
#[utoipa::path(get, path = "/staff", tag = "staff", responses((status = 200, body = ListEnvelope<Staff>)))]
async fn list_staff(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<ListEnvelope<Staff>>> {
    let staff = state.store.staff_members(actor.org_id).await?;
    let total = staff.len() as i64;
    Ok(list(staff, total, None))
}

/// Adds a staff member (owners and admins; only an owner adds an owner). Role defaults to member.
#[utoipa::path(post, path = "/staff", tag = "staff", request_body = CreateStaff,
    responses((status = 201, body = Envelope<Staff>)))]
async fn create_staff(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(input): Body<CreateStaff>,
) -> ApiResult<(StatusCode, Json<Envelope<Staff>>)> {
    Ok(created(service::create_staff(state.store.as_ref(), &actor, input).await?))
}

/// Changes a role or deactivates (`is_active: false`); the last active owner cannot be demoted.
#[utoipa::path(patch, path = "/staff/{id}", tag = "staff", request_body = UpdateStaff,
    params(("id" = uuid::Uuid, Path)), responses((status = 200, body = Envelope<Staff>)))]
async fn update_staff(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    Body(input): Body<UpdateStaff>,
) -> ApiResult<Json<Envelope<Staff>>> {
    Ok(ok(service::update_staff(state.store.as_ref(), &actor, id, input).await?))
}

/// Issues an API token; the secret is in this response only. Staff may issue their own;
/// owners and admins issue them for others. A retry with the same `Idempotency-Key` answers
/// 409 `token_already_issued` with the token's id in `details.token_id`: the secret is not kept.
#[utoipa::path(post, path = "/staff/{id}/tokens", tag = "staff", request_body = CreateToken,
    params(("id" = uuid::Uuid, Path)), responses((status = 201, body = Envelope<IssuedToken>)))]
async fn issue_token(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    Body(input): Body<CreateToken>,
) -> ApiResult<(StatusCode, Extension<SecretShown>, Json<Envelope<IssuedToken>>)> {
    let issued = service::issue_token(state.store.as_ref(), &actor, id, input).await?;
    let shown = SecretShown { token_id: issued.id };
    let (status, body) = created(issued);
    Ok((status, Extension(shown), body))
}

/// A staff member's tokens, newest first, with when each was last used (never the secret).
#[utoipa::path(get, path = "/staff/{id}/tokens", tag = "staff", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ListEnvelope<TokenInfo>)))]
async fn list_tokens(State(state): State<AppState>, Auth(actor): Auth, Id(id): Id) -> ApiResult<Json<ListEnvelope<TokenInfo>>> {
    let tokens = service::tokens(state.store.as_ref(), &actor, id).await?;
    let total = tokens.len() as i64;
    Ok(list(tokens, total, None))
}

/// Revokes a token at once.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "staff", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Envelope<Deleted>)))]
async fn revoke_token(State(state): State<AppState>, Auth(actor): Auth, Id(id): Id) -> ApiResult<Json<Envelope<Deleted>>> {
    service::revoke_token(state.store.as_ref(), &actor, id).await?;
    Ok(ok(Deleted { id }))
}

/// A link for the staff member to choose a password and sign in to the web UI: an invitation,
/// or a password reset if they have one (owners and admins; only an owner for an owner). It
/// works once; an invitation for 7 days, a reset for an hour. The secret is in this response only.
#[utoipa::path(post, path = "/staff/{id}/invite", tag = "staff", params(("id" = uuid::Uuid, Path)),
    responses((status = 201, body = Envelope<Invitation>)))]
async fn invite(
    State(state): State<AppState>,
    Extension(public_url): Extension<PublicUrl>,
    Auth(actor): Auth,
    Id(id): Id,
) -> ApiResult<(StatusCode, Json<Envelope<Invitation>>)> {
    let link = sign_in::invite(state.store.as_ref(), &actor, id).await?;
    Ok(created(Invitation { url: public_url.password_link(&link.secret), expires_at: link.expires_at }))
}

/// A link to choose a password.
#[derive(Debug, Serialize, ToSchema)]
struct Invitation {
    /// The page to open; it works once.
    url: String,
    expires_at: Timestamp,
}

/// The caller's own staff record.
#[utoipa::path(get, path = "/me", tag = "staff", responses((status = 200, body = Envelope<Staff>)))]
async fn me(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Envelope<Staff>>> {
    let staff = state.store.staff(actor.org_id, actor.staff_id).await?.ok_or(Error::NotFound("staff member"))?;
    Ok(ok(staff))
}
