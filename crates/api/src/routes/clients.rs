use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::Error;
use domain::client::{Client, CreateClient, UpdateClient};
use domain::query::ClientFilter;
use store::service;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiResult;
use crate::AppState;
use crate::envelope::{Envelope, ListEnvelope, created, list, ok};
use crate::extract::{Auth, Body, Id, Params};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_clients, create_client)).routes(routes!(get_client, update_client))
}

/// Clients by name; `search` matches name, e-mail or phone.
#[utoipa::path(get, path = "/clients", tag = "clients",
    params(("search" = Option<String>, Query), ("limit" = Option<i64>, Query, minimum = 1, maximum = 200),
           ("offset" = Option<i64>, Query, minimum = 0, maximum = 2147483647)),
    responses((status = 200, body = ListEnvelope<Client>)))]
async fn list_clients(State(state): State<AppState>, Auth(actor): Auth, Params(params): Params) -> ApiResult<Json<ListEnvelope<Client>>> {
    let filter = ClientFilter::parse(params)?;
    let (clients, total) = state.store.clients(actor.org_id, &filter).await?;
    Ok(list(clients, total, Some(filter.page)))
}

/// A client record; its e-mail must be unique in the organization.
#[utoipa::path(post, path = "/clients", tag = "clients", request_body = CreateClient,
    responses((status = 201, body = Envelope<Client>)))]
async fn create_client(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(input): Body<CreateClient>,
) -> ApiResult<(StatusCode, Json<Envelope<Client>>)> {
    Ok(created(service::create_client(state.store.as_ref(), &actor, input).await?))
}

/// One client of the caller's organization.
#[utoipa::path(get, path = "/clients/{id}", tag = "clients", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Envelope<Client>)))]
async fn get_client(State(state): State<AppState>, Auth(actor): Auth, Id(id): Id) -> ApiResult<Json<Envelope<Client>>> {
    let client = state.store.client(actor.org_id, id).await?.ok_or(Error::NotFound("client"))?;
    Ok(ok(client))
}

/// Changes the fields sent and leaves the others; the e-mail stays unique in the organization.
#[utoipa::path(patch, path = "/clients/{id}", tag = "clients", request_body = UpdateClient,
    params(("id" = uuid::Uuid, Path)), responses((status = 200, body = Envelope<Client>)))]
async fn update_client(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    Body(input): Body<UpdateClient>,
) -> ApiResult<Json<Envelope<Client>>> {
    Ok(ok(service::update_client(state.store.as_ref(), &actor, id, input).await?))
}
