//! Extractors: a handler's signature says what it needs (a caller, a JSON body, an id, query
//! parameters), and every way of getting those wrong becomes an [`ApiError`] here.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use domain::auth::Actor;
use domain::query::QueryParams;
use domain::session::PublicUrl;
use domain::{Error, FieldErrors, Input, Timestamp};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{ApiError, AppState, BODY_LIMIT_BYTES, BodyLimit};

/// The authenticated caller, from `Authorization: Bearer <token>`.
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header =
            parts.headers.get(header::AUTHORIZATION).ok_or(ApiError::Unauthorized("send an API token as Authorization: Bearer <token>"))?;
        let token =
            header.to_str().ok().and_then(bearer_token).ok_or(ApiError::Unauthorized("the Authorization header must be Bearer <token>"))?;
        let actor = state.store.authenticate(&store::tokens::hash(token)).await?;
        let actor = actor.ok_or(ApiError::Unauthorized("the token is unknown, revoked, or its staff member is deactivated"))?;
        let now = Timestamp::now();
        if actor.token_use_is_stale(now) {
            // Bookkeeping only: a failure to record it must not fail the request.
            if let Err(error) = state.store.touch_token(&actor, now).await {
                tracing::warn!(%error, "could not record when a token was last used");
            }
        }
        Ok(Auth(actor))
    }
}

/// The token of an `Authorization` value such as `Bearer opp_…`. The scheme's name is
/// case-insensitive (RFC 9110, 11.1), so `bearer` and `BEARER` are the same scheme.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The server's public address (`--public-url`, `http://host:port` by default), for links in
/// responses. Taken from configuration, never from the request's `Host`, so a forged header
/// cannot put another site's address into a clinic's form snippet. Empty, so links stay relative
/// to the server, when the router was built without one.
pub struct SiteUrl(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SiteUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let configured = parts.extensions.get::<PublicUrl>();
        Ok(SiteUrl(configured.map(|url| url.as_str().to_owned()).unwrap_or_default()))
    }
}

/// The `{id}` of a route.
pub struct Id(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) =
            Path::<String>::from_request_parts(parts, state).await.map_err(|_| ApiError::InvalidPath("the path has no id".into()))?;
        uuid_in_path(&raw).map(Id)
    }
}

/// An id from the path, or the envelope's 400 naming it.
pub fn uuid_in_path(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::InvalidPath(format!("`{raw}` in the path is not a UUID")))
}

/// The version named by `If-Match`, if the request is conditional. `*` matches any version.
/// ETags are the opportunity's `version` in quotes (`"3"`); `W/"3"` and a bare `3` are
/// accepted too.
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else { return Ok(IfMatch(None)) };
        let text = value.to_str().unwrap_or("").trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        let tag = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
        tag.parse::<i64>()
            .map(|version| IfMatch(Some(version)))
            .map_err(|_| ApiError::InvalidHeader("If-Match must be the ETag of the version you read, such as \"3\""))
    }
}

/// `If-Match` as the OpenAPI document describes it.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatchHeader {
    /// The `ETag` of the version this change is based on, such as `"3"`: the change is refused
    /// with 412 if the opportunity has changed since.
    #[param(rename = "If-Match", value_type = String, required = false, pattern = r#"^(\*|(W/)?"?[0-9]+"?)$"#)]
    #[allow(dead_code)]
    if_match: Option<String>,
}

/// The query string as name/value pairs, for the domain's parsers.
pub struct Params(pub QueryParams);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::Domain(Error::parameter("query", "is not a valid query string")))?;
        Ok(Params(QueryParams::new(pairs)?))
    }
}

/// A JSON object body read into `T`. Malformed JSON is a 400. Unknown and mistyped fields are
/// left out of `T` and carried in the [`Input`], so that the domain's validation reports them
/// together with its own findings in one 422. An empty body counts as `{}`, so endpoints whose
/// fields are all optional can be called without one.
pub struct Body<T>(pub Input<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json =
            media_type(&request).map(|mime| mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")));
        let bytes = read_body(request, state).await?;
        let object = match (is_json, bytes.is_empty()) {
            (None, true) => Map::new(),
            (Some(true), _) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(object)) => object,
                Ok(_) => return Err(Error::field("body", "must be a JSON object").into()),
                Err(error) => return Err(ApiError::MalformedBody(error.to_string())),
            },
            _ => return Err(ApiError::UnsupportedMediaType("application/json")),
        };
        deserialize_fields(object).map(Body).map_err(|errors| Error::Validation(errors).into())
    }
}

/// A CSV file (`text/csv`), read whole within the route's body limit.
pub struct CsvBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for CsvBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if media_type(&request).as_deref() != Some("text/csv") {
            return Err(ApiError::UnsupportedMediaType("text/csv"));
        }
        read_body(request, state).await.map(CsvBody)
    }
}

/// The request's media type, lowercased, without parameters such as `charset`.
fn media_type(request: &Request) -> Option<String> {
    let value = request.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    value.split(';').next().map(|mime| mime.trim().to_ascii_lowercase())
}

/// Like [`Body`], but an HTML form post (`application/x-www-form-urlencoded`) is accepted too,
/// so a plain web page can submit without JavaScript.
pub struct FormOrJson<T>(pub Input<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for FormOrJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Body::from_request(request, state).await.map(|Body(input)| FormOrJson(input));
        }
        let bytes = read_body(request, state).await?;
        // Decoding replaces invalid UTF-8 silently, so check first, as the JSON parser does. The
        // whole body at once is enough: `&` and `=` are ASCII and break any multi-byte sequence.
        if percent_encoding::percent_decode(&bytes).decode_utf8().is_err() {
            return Err(ApiError::MalformedForm);
        }
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&bytes).map_err(|error| ApiError::MalformedBody(error.to_string()))?;
        let object = pairs.into_iter().map(|(name, value)| (name, Value::String(value))).collect();
        deserialize_fields(object).map(FormOrJson).map_err(|errors| Error::Validation(errors).into())
    }
}

async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    let limit = request.extensions().get::<BodyLimit>().map_or(BODY_LIMIT_BYTES, |BodyLimit(bytes)| *bytes);
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(limit)
        } else {
            ApiError::MalformedBody(rejection.body_text())
        }
    })
}

/// Deserializes `object` into `T`, noting every bad field rather than only the first: request
/// types make every field optional, so a field that fails can be dropped and the rest tried
/// again. Fails only if no subset of the fields can be read.
fn deserialize_fields<T: DeserializeOwned>(mut object: Map<String, Value>) -> Result<Input<T>, FieldErrors> {
    let mut errors = FieldErrors::default();
    let known = serde_aux::serde_introspection::serde_introspect::<T>();
    object.retain(|field, _| {
        let is_known = known.contains(&field.as_str());
        if !is_known {
            errors.add_unknown(field);
        }
        is_known
    });
    loop {
        match serde_path_to_error::deserialize::<_, T>(Value::Object(object.clone())) {
            Ok(value) => return Ok(Input::new(value, errors)),
            Err(error) => {
                let field = error.path().iter().next().map(ToString::to_string).unwrap_or_else(|| "body".into());
                errors.add(&field, error.inner().to_string());
                if object.remove(&field).is_none() {
                    return Err(errors);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::opportunity::CreateOpportunity;
    use serde_json::json;

    fn fields(body: Value) -> Vec<(String, String)> {
        let Value::Object(object) = body else { unreachable!() };
        let input = deserialize_fields::<CreateOpportunity>(object).expect("some fields are readable");
        match input.check(|_| Ok(())) {
            Err(Error::Validation(errors)) => errors.iter().map(|(f, m)| (f.to_owned(), m.to_owned())).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn every_unknown_and_mistyped_field_is_named() {
        let errors = fields(json!({"title": 5, "probability": "high", "colour": "red", "status": "done", "prospect_name": "J"}));
        let named: Vec<_> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(named, ["colour", "probability", "status", "title"]);
    }

    #[test]
    fn a_well_typed_body_passes() {
        assert!(fields(json!({"title": "Botox", "prospect_name": "Jane", "estimated_value": 500.5})).is_empty());
    }
}
