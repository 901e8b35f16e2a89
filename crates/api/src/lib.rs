//! The HTTP/JSON face of Opportunities: a thin layer that authenticates the caller, turns
//! requests into domain inputs, calls the store's use cases and wraps results in the envelope.

mod envelope;
mod error;
mod extract;
mod idempotency;
mod observe;
mod openapi;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use store::Store;
use utoipa_axum::router::OpenApiRouter;

pub use error::ApiError;

/// Requests larger than this are refused with 413: the longest note (10,000 characters of
/// four-byte UTF-8) fits with room to spare.
pub const BODY_LIMIT_BYTES: usize = 128 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
}

/// The whole service: `/api/v1/...`, `/healthz`, `/readyz`, `/metrics`, and envelopes for
/// unknown routes.
pub fn router(store: Arc<dyn Store>) -> Router {
    let state = AppState { store };
    let (api, openapi) = OpenApiRouter::new().nest("/api/v1", routes::api()).split_for_parts();
    let openapi = Arc::new(openapi::finish(openapi));
    api.layer(middleware::from_fn_with_state(state.clone(), idempotency::for_staff))
        .merge(routes::system::openapi_json(openapi))
        .merge(routes::system::health())
        .route("/metrics", get(observe::render))
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn(observe::record))
        .layer(observe::trace_layer())
        .layer(observe::request_ids())
        .with_state(state)
}
