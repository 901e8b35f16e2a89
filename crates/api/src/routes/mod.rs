//! One file per resource, each with a `router()`; `api()` merges them.

mod agenda;
mod categories;
mod clients;
mod lead_forms;
mod opportunities;
mod reports;
mod settings;
mod staff;
pub mod system;
pub(crate) mod transfer;
mod webhooks;

use utoipa_axum::router::OpenApiRouter;

use crate::{ApiError, AppState};

type ApiResult<T> = Result<T, ApiError>;

/// Every route under `/api/v1` that needs a token.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(lead_forms::router())
        .merge(categories::router())
        .merge(opportunities::router())
        .merge(settings::router())
        .merge(reports::router())
        .merge(agenda::router())
        .merge(clients::router())
        .merge(staff::router())
        .merge(webhooks::router())
        .merge(transfer::exports())
}

/// The routes that read a CSV import, which have a larger body limit than the rest.
pub fn imports() -> OpenApiRouter<AppState> {
    transfer::imports()
}

/// Routes under `/api/v1` that anyone may call.
pub fn public(state: AppState) -> OpenApiRouter<AppState> {
    lead_forms::public(state)
}
