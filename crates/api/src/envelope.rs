//! The seed's result shape: `{"success": true, "data": …}` (lists add `meta`).

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::query::Page;
use domain::search::Total;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
}

#[derive(Serialize, ToSchema)]
pub struct ListEnvelope<T> {
    /// Always `true`.
    pub success: bool,
    pub data: Vec<T>,
    pub meta: Meta,
}

#[derive(Serialize, ToSchema)]
pub struct Meta {
    /// How many match, across all pages.
    pub total: i64,
    /// False when a search matches more than 1,000 leads: `total` is then 1000 and more match.
    pub total_exact: bool,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub id: uuid::Uuid,
}

/// An opportunity in the envelope, with its version as the `ETag` for conditional requests.
pub struct Tagged<T> {
    status: StatusCode,
    version: i64,
    data: T,
}

impl<T: Serialize> IntoResponse for Tagged<T> {
    fn into_response(self) -> Response {
        let etag = format!("\"{}\"", self.version);
        (self.status, [(header::ETAG, etag)], ok(self.data)).into_response()
    }
}

pub fn tagged<T>(status: StatusCode, version: i64, data: T) -> Tagged<T> {
    Tagged { status, version, data }
}

pub fn ok<T>(data: T) -> Json<Envelope<T>> {
    Json(Envelope { success: true, data })
}

pub fn created<T>(data: T) -> (StatusCode, Json<Envelope<T>>) {
    (StatusCode::CREATED, ok(data))
}

pub fn list<T>(data: Vec<T>, total: impl Into<Total>, page: Option<Page>) -> Json<ListEnvelope<T>> {
    let count = i64::try_from(data.len()).unwrap_or(i64::MAX);
    let page = page.unwrap_or(Page { limit: count, offset: 0 });
    let Total { count: total, exact } = total.into();
    Json(ListEnvelope { success: true, data, meta: Meta { total, total_exact: exact, limit: page.limit, offset: page.offset } })
}
