//! The website visitor's side of the public submission route. A browser that posts a plain HTML
//! form (and so asks for `text/html`) is sent on to a thank-you page with a 303, or shown a
//! readable page when its submission is refused; every other caller gets the JSON answers.
//!
//! The choice is made here, once, around the route: handlers and the error mapping stay JSON
//! and only leave notes in the response's extensions ([`Accepted`], [`Refused`],
//! [`Submitted`]). The pages themselves are drawn by a [`VisitorPages`] the binary passes in
//! (the web crate's), so this crate has no HTML in it and does not depend on the web crate.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use domain::lead_form::Submission;
use serde_json::Value;

use crate::AppState;

/// Draws the pages a visitor's browser is shown instead of JSON.
pub trait VisitorPages: Send + Sync {
    /// The page for a submission that was refused, sent with `refusal.status`.
    fn refusal(&self, refusal: &Refusal<'_>) -> String;
}

/// What a visitor is told when a submission is refused.
pub struct Refusal<'a> {
    pub status: StatusCode,
    /// The error envelope's message.
    pub message: &'a str,
    /// Each bad field with its message, on 422.
    pub fields: Vec<(&'a str, &'a str)>,
    /// The public key of the form in the URL, so a refilled form can post again.
    pub form_key: &'a str,
    /// What the visitor sent, to refill the form with.
    pub submitted: Option<&'a Submission>,
    /// The page the visitor came from, when it is an http(s) URL: the way back.
    pub back: Option<&'a str>,
    /// Seconds until another submission is admitted, on 429.
    pub retry_after_secs: Option<u64>,
}

/// Left by the handler on success: where the visitor's browser goes next.
#[derive(Clone)]
pub(crate) struct Accepted(pub String);

/// Left by every error response: its message and details (see `ApiError::into_response`).
#[derive(Clone)]
pub(crate) struct Refused {
    pub message: String,
    pub details: Value,
}

/// Left by the handler: what the visitor sent.
#[derive(Clone)]
pub(crate) struct Submitted(pub Submission);

/// A browser navigating with a form asks for HTML first; `fetch`, curl and API clients do not
/// mention it (`*/*` or `application/json`).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|range| range.split(';').next().is_some_and(|kind| kind.trim() == "text/html")))
}

/// The `Referer`, when it is an http(s) URL: anything else is not a page to send people back to.
fn way_back(headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let url = url::Url::parse(referer).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.into())
}

/// Turns the route's JSON answers into a redirect or a page for a browser's form post.
pub(crate) async fn negotiate(State(state): State<AppState>, Path(form_key): Path<String>, request: Request, next: Next) -> Response {
    let Some(pages) = state.visitor_pages.clone() else { return next.run(request).await };
    if !wants_html(request.headers()) {
        return next.run(request).await;
    }
    let back = way_back(request.headers());
    let response = next.run(request).await;
    if let Some(Accepted(location)) = response.extensions().get::<Accepted>() {
        return see_other(location);
    }
    let Some(refused) = response.extensions().get::<Refused>() else { return response };
    let fields = refused.details["fields"]
        .as_object()
        .map(|fields| fields.iter().filter_map(|(field, message)| Some((field.as_str(), message.as_str()?))).collect())
        .unwrap_or_default();
    let refusal = Refusal {
        status: response.status(),
        message: &refused.message,
        fields,
        form_key: &form_key,
        submitted: response.extensions().get::<Submitted>().map(|Submitted(submission)| submission),
        back: back.as_deref(),
        retry_after_secs: refused.details["retry_after_seconds"].as_u64(),
    };
    let mut page = (refusal.status, Html(pages.refusal(&refusal))).into_response();
    if let Some(retry_after) = response.headers().get(header::RETRY_AFTER) {
        page.headers_mut().insert(header::RETRY_AFTER, retry_after.clone());
    }
    page
}

fn see_other(location: &str) -> Response {
    match HeaderValue::try_from(location) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        // Stored URLs are validated and hosted paths are built from a checked form key.
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &'static str) -> HeaderMap {
        HeaderMap::from_iter([(header::ACCEPT, HeaderValue::from_static(value))])
    }

    #[test]
    fn browsers_navigating_want_html_and_api_clients_do_not() {
        assert!(wants_html(&accept("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")));
        assert!(wants_html(&accept("text/html")));
        assert!(!wants_html(&accept("*/*")));
        assert!(!wants_html(&accept("application/json")));
        assert!(!wants_html(&HeaderMap::new()));
    }

    #[test]
    fn the_way_back_is_an_http_page_only() {
        let referer = |value: &'static str| HeaderMap::from_iter([(header::REFERER, HeaderValue::from_static(value))]);
        assert_eq!(way_back(&referer("https://clinic.example/contact")).as_deref(), Some("https://clinic.example/contact"));
        assert_eq!(way_back(&referer("javascript:history.back()")), None);
        assert_eq!(way_back(&referer("/contact")), None);
    }
}
