//! Every error response, in one place: status, code, message and details.

use std::time::Duration;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::Error;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::serve::{HEAD_LIMIT_BYTES, HEADERS_LIMIT, URI_LIMIT_BYTES};
use crate::visitor::Refused;

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
    /// The body is not of the media type the route reads, which this names with its header.
    UnsupportedMediaType(&'static str),
    RouteNotFound,
    MethodNotAllowed,
    NotReady,
    IdempotencyKeyReused,
    RateLimited {
        retry_after_secs: u64,
    },
    IdempotencyKeyInProgress,
    // The transport's refusals (see `serve`): hyper could not parse the request line or a
    // header, the head or the target was too long, the body did not arrive in time, or the
    // server is at its connection limit.
    MalformedRequestHead,
    RequestHeadTooLarge,
    UriTooLong,
    BodyTimeout(Duration),
    Overloaded,
    TokenAlreadyIssued(uuid::Uuid),
}

/// What a 503 `database_unavailable` (and `/readyz`'s 503, and a page's) asks a client to wait: a restart or
/// a failover takes seconds, and clients coming back at once would meet a database that is
/// still replaying its log.
pub const DATABASE_RETRY_AFTER_SECS: u64 = 2;

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
    /// `conflict`, `already_closed`, `already_converted`, `token_already_issued`, `payload_too_large`,
    /// `unsupported_media_type`, `validation_failed`, `internal`, `request_timeout`,
    /// `uri_too_long`, `headers_too_large`, `overloaded`, `took_too_long`, `database_unavailable`, ...
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
                Error::Conflict(_) | Error::Contention => (S::CONFLICT, "conflict", message(&error), json!({})),
                Error::Forbidden(_) => (S::FORBIDDEN, "forbidden", message(&error), json!({})),
                Error::TookTooLong => (S::SERVICE_UNAVAILABLE, "took_too_long", message(&error), json!({})),
                Error::DatabaseUnavailable(_) => {
                    tracing::warn!(error = %error.describe(), "database unavailable");
                    let details = json!({ "retry_after_seconds": DATABASE_RETRY_AFTER_SECS });
                    (S::SERVICE_UNAVAILABLE, "database_unavailable", message(&error), details)
                }
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
            ApiError::UnsupportedMediaType(expected) => {
                (S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", format!("send the body with Content-Type: {expected}"), json!({}))
            }
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
            ApiError::TokenAlreadyIssued(token_id) => (
                S::CONFLICT,
                "token_already_issued",
                format!(
                    "the first request with this Idempotency-Key issued token {token_id}, and its secret is shown only once; \
                     if that response was lost, revoke the token (DELETE /api/v1/tokens/{token_id}) and issue a new one with a new key"
                ),
                json!({ "token_id": token_id }),
            ),
            ApiError::NotReady => {
                (S::SERVICE_UNAVAILABLE, "not_ready", "the database is not reachable; try again shortly".into(), json!({}))
            }
            ApiError::MethodNotAllowed => {
                (S::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method".into(), json!({}))
            }
            ApiError::MalformedRequestHead => {
                (S::BAD_REQUEST, "bad_request", "the request line or a header is not valid HTTP/1.1".into(), json!({}))
            }
            ApiError::RequestHeadTooLarge => (
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                format!("the request line and headers exceed {HEAD_LIMIT_BYTES} bytes or {HEADERS_LIMIT} headers"),
                json!({}),
            ),
            ApiError::UriTooLong => {
                (S::URI_TOO_LONG, "uri_too_long", format!("the request target is longer than {URI_LIMIT_BYTES} bytes"), json!({}))
            }
            ApiError::BodyTimeout(limit) => {
                (S::REQUEST_TIMEOUT, "request_timeout", format!("the body did not arrive within {} ms", limit.as_millis()), json!({}))
            }
            ApiError::Overloaded => {
                (S::SERVICE_UNAVAILABLE, "overloaded", "the server is at its connection limit; try again shortly".into(), json!({}))
            }
        }
    }

    /// The status and the envelope as JSON bytes, for answers written below the router.
    pub(crate) fn into_json(self) -> (StatusCode, Vec<u8>) {
        let (status, envelope) = self.envelope();
        // Serializing our own plain struct cannot fail; an empty body would still be an answer.
        (status, serde_json::to_vec(&envelope).unwrap_or_default())
    }

    fn envelope(self) -> (StatusCode, ErrorEnvelope) {
        let (status, code, message, details) = self.parts();
        (status, ErrorEnvelope { success: false, error: ErrorBody { code, message, details } })
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
            ApiError::Overloaded => Some((header::RETRY_AFTER, header::HeaderValue::from(1))),
            ApiError::Domain(Error::DatabaseUnavailable(_)) | ApiError::NotReady => {
                Some((header::RETRY_AFTER, header::HeaderValue::from(DATABASE_RETRY_AFTER_SECS)))
            }
            // The rest of the body is still on its way, and will not be read: the connection cannot
            // carry another request. Saying so keeps a client from sending its next request on a
            // connection the server is closing.
            ApiError::BodyTimeout(_) | ApiError::PayloadTooLarge(_) => {
                Some((header::CONNECTION, header::HeaderValue::from_static("close")))
            }
            _ => None,
        };
        let (status, body) = self.envelope();
        let refused = Refused { message: body.error.message.clone(), details: body.error.details.clone() };
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(refused);
        if let Some((name, value)) = extra_header {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
