//! One file per resource, each with a `router()`; `api()` merges them.

mod categories;
mod clients;
mod opportunities;
mod staff;
pub mod system;

use utoipa_axum::router::OpenApiRouter;

use crate::{ApiError, AppState};

type ApiResult<T> = Result<T, ApiError>;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(categories::router())
        .merge(opportunities::router())
        .merge(clients::router())
        .merge(staff::router())
}
