//! Routes that are about the service rather than the pipeline.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::{ApiError, AppState};

/// `GET /healthz`: the process is up and serving. `GET /readyz`: and its database answers, so a
/// load balancer may send it traffic. Neither needs a token.
pub fn health() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({ "success": true, "data": { "status": "ok" } })) }))
        .route("/readyz", get(ready))
}

/// How long `/readyz` waits for the database. A load balancer's health check typically gives
/// up after a second or two, and one that times out learns less than a 503: the readiness
/// answer must come sooner than the acquire timeout requests wait while the database is down.
const READY_WITHIN: Duration = Duration::from_millis(500);

async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(READY_WITHIN, state.store.ping()).await {
        Ok(Ok(())) => {
            // Ready even when backups fail: the replica serves as well as before (see backups.rs).
            let mut data = json!({ "status": "ready" });
            if let Some(backups) = &state.backups {
                data["backups"] = json!(backups.state());
            }
            Ok(Json(json!({ "success": true, "data": data })))
        }
        Ok(Err(error)) => {
            tracing::warn!(error = %error.describe(), "not ready: the database is not reachable");
            Err(ApiError::NotReady)
        }
        Err(_) => {
            tracing::warn!(within_ms = READY_WITHIN.as_millis(), "not ready: the database did not answer in time");
            Err(ApiError::NotReady)
        }
    }
}

const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// `GET /api/v1/openapi.json`: the OpenAPI document generated from the handlers. Public, like
/// any API reference, so tools can read it before they hold a token.
pub fn openapi_json(document: &OpenApi) -> Router<AppState> {
    // Serialized once: the document does not change while the process runs.
    let body = Bytes::from(serde_json::to_vec(document).unwrap_or_else(|_| b"{}".to_vec()));
    let respond = move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body) }
    };
    Router::new().route(OPENAPI_PATH, get(respond))
}

/// `GET /api/docs/`: a browsable reference of that document (Swagger UI). Its files are built
/// into the binary, so the page works with no network; like the document, it needs no token
/// (a reader pastes one into "Authorize" to try requests).
pub fn reference_page() -> Router<AppState> {
    // "none": Swagger UI would otherwise send the document to validator.swagger.io for a badge.
    let config = Config::from(OPENAPI_PATH).validator_url("none");
    SwaggerUi::new("/api/docs").config(config).into()
}
