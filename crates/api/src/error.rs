//! Every error response, in one place: status, code, message and details.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::Error;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Why a request failed: a domain error, or one that only HTTP can cause.
#[derive(Debug)]
pub enum ApiError {
    Domain(Error),
    MalformedBody(String),
    /// A form post whose text is not UTF-8 once decoded.
    MalformedForm,
    InvalidPath(String),
    InvalidHeader(&'static str),
    Unauthorized(&'static str),
    /// Over the route's limit, in bytes.
    PayloadTooLarge(usize),
    UnsupportedMediaType,
    RouteNotFound,
    MethodNotAllowed,
    NotReady,
    IdempotencyKeyReused,
    RateLimited {
        retry_after_secs: u64,
    },
    IdempotencyKeyInProgress,
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError::Domain(error)
    }
}

#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable and machine-readable: `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `conflict`, `already_closed`, `already_converted`, `payload_too_large`,
    /// `unsupported_media_type`, `validation_failed`, `internal`, ...
    pub code: &'static str,
    /// For people: what went wrong and what to do about it.
    pub message: String,
    /// More about the failure. On 422, `fields` maps each bad field to a message; unknown fields
    /// are named up to 20, and `unknown_fields_not_named` counts the rest. On 413, `limit_bytes`.
    #[schema(value_type = Object)]
    pub details: Value,
}

impl ApiError {
    fn parts(self) -> (StatusCode, &'static str, String, Value) {
        use StatusCode as S;
        let message = |e: &Error| e.to_string();
        match self {
            ApiError::Domain(error) => match &error {
                Error::NotFound(_) => (S::NOT_FOUND, "not_found", message(&error), json!({})),
                Error::InvalidParameter { parameter, .. } => {
                    (S::BAD_REQUEST, "bad_request", message(&error), json!({ "parameter": parameter }))
                }
                Error::Validation(fields) => (S::UNPROCESSABLE_ENTITY, "validation_failed", message(&error), validation_details(fields)),
                Error::Duplicate { existing_id, .. } => (S::CONFLICT, "conflict", message(&error), json!({ "existing_id": existing_id })),
                Error::AlreadyClosed { status } => (S::CONFLICT, "already_closed", message(&error), json!({ "status": status })),
                Error::AlreadyConverted { client_id } => {
                    (S::CONFLICT, "already_converted", message(&error), json!({ "client_id": client_id }))
                }
                Error::Conflict(_) => (S::CONFLICT, "conflict", message(&error), json!({})),
                Error::Forbidden(_) => (S::FORBIDDEN, "forbidden", message(&error), json!({})),
                Error::PreconditionFailed { current_version } => {
                    (S::PRECONDITION_FAILED, "precondition_failed", message(&error), json!({ "current_version": current_version }))
                }
                Error::Internal(source) => {
                    tracing::error!(error = %source, "request failed");
                    (S::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side; try again".into(), json!({}))
                }
            },
            ApiError::MalformedBody(why) => (S::BAD_REQUEST, "bad_request", format!("the body is not valid JSON: {why}"), json!({})),
            ApiError::InvalidPath(why) => (S::BAD_REQUEST, "bad_request", why, json!({})),
            ApiError::InvalidHeader(why) => (S::BAD_REQUEST, "bad_request", why.into(), json!({})),
            ApiError::Unauthorized(why) => (S::UNAUTHORIZED, "unauthorized", why.into(), json!({})),
            ApiError::MalformedForm => {
                (S::BAD_REQUEST, "bad_request", "the form body is not valid UTF-8 once percent-decoded".into(), json!({}))
            }
            ApiError::PayloadTooLarge(limit) => (
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than {limit} bytes"),
                json!({ "limit_bytes": limit }),
            ),
            ApiError::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json".into(),
                json!({}),
            ),
            ApiError::RouteNotFound => (S::NOT_FOUND, "not_found", "no such route; the API lives under /api/v1".into(), json!({})),
            ApiError::RateLimited { retry_after_secs } => (
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many submissions; try again in {retry_after_secs} seconds"),
                json!({ "retry_after_seconds": retry_after_secs }),
            ),
            ApiError::IdempotencyKeyReused => (
                S::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request; use a new key for a new request".into(),
                json!({}),
            ),
            ApiError::IdempotencyKeyInProgress => (
                S::CONFLICT,
                "idempotency_key_in_progress",
                "a request with this Idempotency-Key is still being processed; retry in a moment".into(),
                json!({}),
            ),
            ApiError::NotReady => {
                (S::SERVICE_UNAVAILABLE, "not_ready", "the database is not reachable; try again shortly".into(), json!({}))
            }
            ApiError::MethodNotAllowed => {
                (S::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method".into(), json!({}))
            }
        }
    }
}

/// `fields`, and when some unknown fields went unnamed, how many (`unknown_fields_not_named`).
fn validation_details(fields: &domain::FieldErrors) -> Value {
    match fields.unknown_not_named() {
        0 => json!({ "fields": fields }),
        more => json!({ "fields": fields, "unknown_fields_not_named": more }),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let extra_header = match &self {
            ApiError::Unauthorized(_) => Some((header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"))),
            ApiError::RateLimited { retry_after_secs } => Some((header::RETRY_AFTER, header::HeaderValue::from(*retry_after_secs))),
            _ => None,
        };
        let (status, code, message, details) = self.parts();
        let body = ErrorEnvelope { success: false, error: ErrorBody { code, message, details } };
        let mut response = (status, Json(body)).into_response();
        if let Some((name, value)) = extra_header {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
