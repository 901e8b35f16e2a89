//! Webhooks: owners and admins subscribe URLs to events, and see and replay their deliveries.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::query::Page;
use domain::webhook::{CreateWebhook, CreatedWebhook, Delivery, UpdateWebhook, Webhook};
use serde::Serialize;
use store::service;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiResult;
use super::opportunities::PageParams;
use crate::AppState;
use crate::envelope::{Deleted, Envelope, ListEnvelope, created, list, ok};
use crate::extract::{Auth, Body, Id, Params, uuid_in_path};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(update_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(redeliver))
}

/// Every webhook of the organization, oldest first, without secrets (owners and admins).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", responses((status = 200, body = ListEnvelope<Webhook>)))]
async fn list_webhooks(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<ListEnvelope<Webhook>>> {
    let webhooks = service::webhooks(state.store.as_ref(), &actor).await?;
    let total = i64::try_from(webhooks.len()).unwrap_or(i64::MAX);
    Ok(list(webhooks, total, None))
}

/// Subscribes a URL to events (owners and admins). The answer holds the signing `secret`,
/// shown this once. Every delivery is a JSON POST `{id, type, created_at, data}` signed in the
/// `Opportunities-Signature` header (see the README).
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, body = Envelope<CreatedWebhook>)))]
async fn create_webhook(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(input): Body<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<Envelope<CreatedWebhook>>)> {
    Ok(created(service::create_webhook(state.store.as_ref(), &actor, state.webhook_targets, input).await?))
}

/// Changes the URL or the events, or disables (`active: false`) or re-enables a webhook
/// (owners and admins).
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks", request_body = UpdateWebhook,
    params(("id" = uuid::Uuid, Path)), responses((status = 200, body = Envelope<Webhook>)))]
async fn update_webhook(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    Body(input): Body<UpdateWebhook>,
) -> ApiResult<Json<Envelope<Webhook>>> {
    Ok(ok(service::update_webhook(state.store.as_ref(), &actor, id, state.webhook_targets, input).await?))
}

/// Deletes a webhook with its deliveries (owners and admins).
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Envelope<Deleted>)))]
async fn delete_webhook(State(state): State<AppState>, Auth(actor): Auth, Id(id): Id) -> ApiResult<Json<Envelope<Deleted>>> {
    service::delete_webhook(state.store.as_ref(), &actor, id).await?;
    Ok(ok(Deleted { id }))
}

/// The webhook's deliveries, newest first, each with every attempt at it (when, how long, the
/// receiver's status, the error), paged like the opportunity list (owners and admins).
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = uuid::Uuid, Path), PageParams),
    responses((status = 200, body = ListEnvelope<Delivery>)))]
async fn list_deliveries(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    Params(params): Params,
) -> ApiResult<Json<ListEnvelope<Delivery>>> {
    let page = Page::parse(params)?;
    let (deliveries, total) = service::deliveries(state.store.as_ref(), &actor, id, page).await?;
    Ok(list(deliveries, total, Some(page)))
}

#[derive(Serialize, ToSchema)]
struct Queued {
    /// The delivery's id.
    id: uuid::Uuid,
}

/// Sends a delivery again as soon as a worker is free, with a new day of retries if it fails
/// (owners and admins). The event keeps its id, so a receiver that already has it can tell.
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(("id" = uuid::Uuid, Path), ("delivery_id" = uuid::Uuid, Path)),
    responses((status = 202, description = "Queued for sending.", body = Envelope<Queued>)))]
async fn redeliver(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, delivery_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Envelope<Queued>>)> {
    let (id, delivery_id) = (uuid_in_path(&id)?, uuid_in_path(&delivery_id)?);
    service::redeliver(state.store.as_ref(), &actor, id, delivery_id).await?;
    Ok((StatusCode::ACCEPTED, ok(Queued { id: delivery_id })))
}
