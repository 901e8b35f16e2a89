//! The reports (any role): the funnel, response times per source and lost reasons, over the
//! organization's days `from` to `to`.

use axum::Json;
use axum::extract::State;
use domain::report::{FunnelReport, LostReasonsReport, ReportQuery, ResponseTimesReport};
use store::service;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiResult;
use crate::AppState;
use crate::envelope::{Envelope, ok};
use crate::extract::{Auth, Params};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(funnel)).routes(routes!(response_times)).routes(routes!(lost_reasons))
}

/// The window and filters every report takes. A missing or malformed date, `from` after `to`
/// or a window longer than 1,098 days is a 422 naming the field.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Only describes the query string, which `ReportQuery::parse` reads.
struct ReportParams {
    /// The first day, `YYYY-MM-DD`, in the organization's time zone (pipeline settings).
    from: String,
    /// The last day, included.
    to: String,
    assigned_to: Option<uuid::Uuid>,
    category_id: Option<uuid::Uuid>,
    source: Option<String>,
}

/// getFunnelReport: for the leads created in the window, per stage in pipeline order, how many
/// entered it, how many afterwards entered a later stage or were won, the conversion rate and
/// the median (nearest-rank) days of the stays in it that have ended; then won, lost, the win
/// rate and the median days from creation to close.
#[utoipa::path(get, path = "/reports/funnel", tag = "reports", params(ReportParams),
    responses((status = 200, body = Envelope<FunnelReport>)))]
async fn funnel(State(state): State<AppState>, Auth(actor): Auth, Params(params): Params) -> ApiResult<Json<Envelope<FunnelReport>>> {
    let query = ReportQuery::parse(params)?;
    Ok(ok(service::funnel_report(state.store.as_ref(), &actor, &query).await?))
}

/// getResponseTimesReport: per source (the most leads first), the leads created in the window,
/// how many were answered (a call, e-mail or meeting activity, or a move out of `open`), and the
/// median and 90th percentile (nearest-rank) of the minutes from creation to the first answer.
#[utoipa::path(get, path = "/reports/response-times", tag = "reports", params(ReportParams),
    responses((status = 200, body = Envelope<ResponseTimesReport>)))]
async fn response_times(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Params(params): Params,
) -> ApiResult<Json<Envelope<ResponseTimesReport>>> {
    let query = ReportQuery::parse(params)?;
    Ok(ok(service::response_times_report(state.store.as_ref(), &actor, &query).await?))
}

/// getLostReasonsReport: the leads closed as lost in the window, grouped by reason (trimmed,
/// ignoring case), with their count and estimated value, the most frequent first (at most 100,
/// `total` counts them all).
#[utoipa::path(get, path = "/reports/lost-reasons", tag = "reports", params(ReportParams),
    responses((status = 200, body = Envelope<LostReasonsReport>)))]
async fn lost_reasons(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Params(params): Params,
) -> ApiResult<Json<Envelope<LostReasonsReport>>> {
    let query = ReportQuery::parse(params)?;
    Ok(ok(service::lost_reasons_report(state.store.as_ref(), &actor, &query).await?))
}
