use axum::Json;
use axum::extract::State;
use domain::agenda::{Agenda, AgendaQuery};
use store::service;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiResult;
use crate::AppState;
use crate::envelope::{Envelope, ok};
use crate::extract::{Auth, Params};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_agenda))
}

/// The follow-up agenda: the follow-up dates of leads not won or lost and the scheduled
/// activities not yet completed, of the leads assigned to the staff member, split into
/// `overdue` (due before today began), `today` and `upcoming` (the `days` days after today),
/// by the days of the organization's time zone (pipeline settings). Each section is ordered by
/// `due_at` and holds at most 500 items, the earliest due; `truncated` says which were cut.
#[utoipa::path(get, path = "/agenda", tag = "agenda",
    params(
        ("staff_id" = Option<String>, Query, description = "`me` (the default), a staff member's id, or `all` (every lead, assigned or not). Members may only ask for themselves: anything else is a 403."),
        ("days" = Option<i64>, Query, minimum = 1, maximum = 90, description = "How many days after today `upcoming` covers; default 7. Out of range is a 422.")),
    responses((status = 200, body = Envelope<Agenda>)))]
async fn get_agenda(State(state): State<AppState>, Auth(actor): Auth, Params(params): Params) -> ApiResult<Json<Envelope<Agenda>>> {
    let query = AgendaQuery::parse(params, &actor)?;
    Ok(ok(service::agenda(state.store.as_ref(), &actor, query, state.clock.now()).await?))
}
