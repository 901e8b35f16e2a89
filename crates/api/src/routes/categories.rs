use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::category::{Category, CreateCategory, UpdateCategory};
use store::service;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiResult;
use crate::AppState;
use crate::envelope::{Envelope, ListEnvelope, created, list, ok};
use crate::extract::{Auth, Body, Id, Params};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_categories, create_category)).routes(routes!(update_category))
}

/// getOpportunityCategories: active categories by sort_order, then name.
#[utoipa::path(get, path = "/opportunity-categories", tag = "categories",
    params(("include_inactive" = Option<bool>, Query, description = "Also list inactive categories.")),
    responses((status = 200, body = ListEnvelope<Category>)))]
async fn list_categories(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Params(mut params): Params,
) -> ApiResult<Json<ListEnvelope<Category>>> {
    let include_inactive = params.bool("include_inactive")?.unwrap_or(false);
    params.finish()?;
    let categories = state.store.categories(actor.org_id, include_inactive).await?;
    let total = categories.len() as i64;
    Ok(list(categories, total, None))
}

/// createOpportunityCategory (owners and admins).
#[utoipa::path(post, path = "/opportunity-categories", tag = "categories", request_body = CreateCategory,
    responses((status = 201, body = Envelope<Category>)))]
async fn create_category(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(input): Body<CreateCategory>,
) -> ApiResult<(StatusCode, Json<Envelope<Category>>)> {
    Ok(created(service::create_category(state.store.as_ref(), &actor, input).await?))
}

/// Renames, recolours, reorders or deactivates a category (owners and admins).
#[utoipa::path(patch, path = "/opportunity-categories/{id}", tag = "categories", request_body = UpdateCategory,
    params(("id" = uuid::Uuid, Path)), responses((status = 200, body = Envelope<Category>)))]
async fn update_category(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Id(id): Id,
    Body(input): Body<UpdateCategory>,
) -> ApiResult<Json<Envelope<Category>>> {
    Ok(ok(service::update_category(state.store.as_ref(), &actor, id, input).await?))
}
