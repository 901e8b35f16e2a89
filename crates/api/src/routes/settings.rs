use axum::Json;
use axum::extract::State;
use domain::settings::{PipelineSettings, UpdatePipelineSettings};
use store::service;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiResult;
use crate::AppState;
use crate::envelope::{Envelope, ok};
use crate::extract::{Auth, Body};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_pipeline_settings, update_pipeline_settings))
}

/// The organization's pipeline settings: the time zone its days are counted in, and for each
/// stage a lead is worked in, the default probability and after how many days a lead rots.
#[utoipa::path(get, path = "/pipeline-settings", tag = "pipeline settings",
    responses((status = 200, body = Envelope<PipelineSettings>)))]
async fn get_pipeline_settings(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Json<Envelope<PipelineSettings>>> {
    Ok(ok(service::pipeline_settings(state.store.as_ref(), &actor).await?))
}

/// Changes the pipeline settings (owners and admins): only the fields given, each stage's
/// fields one by one. A new time zone applies at once to `needsFollowUp`, `follow_up_due` and
/// everything else that counts days; leads keep their probabilities when defaults change.
#[utoipa::path(patch, path = "/pipeline-settings", tag = "pipeline settings", request_body = UpdatePipelineSettings,
    responses((status = 200, body = Envelope<PipelineSettings>)))]
async fn update_pipeline_settings(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(input): Body<UpdatePipelineSettings>,
) -> ApiResult<Json<Envelope<PipelineSettings>>> {
    Ok(ok(service::update_pipeline_settings(state.store.as_ref(), &actor, input).await?))
}
