//! Who is signed in, and the guards every page shares: the session cookie, the CSRF token every
//! state-changing form carries (checked here and nowhere else), the `Origin` check, and the
//! sign-in rate limits. The pages for signing in, choosing a password and signing out are in
//! [`crate::sign_in`].

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use domain::session::{SESSION_ABSOLUTE, WebSession};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use store::sign_in;

use crate::WebState;
use crate::pages::message_page;

/// The session cookie's name. Its value is the session's secret; the database holds its hash.
pub const COOKIE: &str = "opp_session";

/// The name of the hidden field that carries the session's CSRF token in every form.
pub const CSRF_FIELD: &str = "csrf";

/// The signed-in staff member of a page's request. Without a live session, a page answers with
/// a redirect to the sign-in page.
pub struct SignedIn(pub WebSession);

impl FromRequestParts<WebState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        // A guard in front of the page (the settings' role check) has found it already.
        if let Some(session) = parts.extensions.get::<WebSession>() {
            return Ok(SignedIn(session.clone()));
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(secret) = jar.get(COOKIE).map(|cookie| cookie.value().to_owned()) else { return Err(to_sign_in()) };
        match sign_in::session(state.store.as_ref(), &secret).await {
            Ok(Some(session)) => Ok(SignedIn(session)),
            Ok(None) => Err(to_sign_in()),
            Err(error) => Err(crate::pages::error_page(&error)),
        }
    }
}

fn to_sign_in() -> Response {
    Redirect::to("/sign-in").into_response()
}

/// A state-changing form of a signed-in staff member, read into `T` only after its CSRF token
/// matched the session's and its `Origin` (when the browser sends one) is this site. Every
/// form post of a signed-in page takes this extractor, so the check lives here alone.
pub struct CheckedForm<T> {
    pub session: WebSession,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<WebState> for CheckedForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let SignedIn(session) = SignedIn::from_request_parts(&mut parts, state).await?;
        if !same_origin(&parts.headers, state) {
            return Err(refused());
        }
        let body = Bytes::from_request(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).map_err(|_| bad_form())?;
        let sent = pairs.iter().find(|(name, _)| name == CSRF_FIELD).map(|(_, value)| value.as_str());
        if !sent.is_some_and(|sent| same_secret(sent, &session.csrf_token)) {
            return Err(refused());
        }
        let form = serde_urlencoded::from_bytes(&body).map_err(|_| bad_form())?;
        Ok(CheckedForm { session, form })
    }
}

/// Compares digests, so the time taken says nothing about how much of the token was right.
fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

fn refused() -> Response {
    let body = message_page(
        "Form refused",
        "This form could not be accepted: it came from another site, or the page was open too long. Reload the page and try again.",
    );
    (StatusCode::FORBIDDEN, body).into_response()
}

fn bad_form() -> Response {
    (StatusCode::BAD_REQUEST, message_page("Form not understood", "The form's fields could not be read. Reload the page and try again."))
        .into_response()
}

/// Whether a form post comes from this site's own pages: a browser names the page's origin in
/// `Origin` on every cross-site post, so one that names another origin is refused. Without the
/// header (old browsers), the SameSite cookie and the CSRF token still stand.
pub fn same_origin(headers: &HeaderMap, state: &WebState) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok()).unwrap_or("");
    origin == state.config.public_url.origin() || origin == format!("http://{host}") || origin == format!("https://{host}")
}

/// The session cookie for a new session: only the server reads it (HttpOnly), it goes along
/// with top-level navigation but not with cross-site posts (Lax), and only over TLS when the
/// site is served over TLS.
pub fn session_cookie(state: &WebState, secret: String) -> Cookie<'static> {
    Cookie::build((COOKIE, secret))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .max_age(time::Duration::seconds(SESSION_ABSOLUTE.whole_seconds()))
        .build()
}

/// Clears the session cookie.
pub fn removal_cookie(state: &WebState) -> Cookie<'static> {
    let mut cookie = session_cookie(state, String::new());
    cookie.make_removal();
    cookie
}

/// Sign-in attempts allowed per e-mail and per client address: enough for a person who
/// mistypes, far too few to guess a 12-character password.
pub struct SignInLimits {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
}

/// Keys a limiter remembers before it forgets the ones that are back to a full allowance, so
/// that a flood of made-up e-mails cannot grow memory without bound.
const REMEMBERED_KEYS: usize = 10_000;

impl SignInLimits {
    pub fn new(per_account_per_minute: NonZeroU32, per_address_per_minute: NonZeroU32) -> Self {
        SignInLimits {
            per_account: RateLimiter::keyed(Quota::per_minute(per_account_per_minute)),
            per_address: RateLimiter::keyed(Quota::per_minute(per_address_per_minute)),
        }
    }

    /// Counts an attempt; false when either allowance is used up.
    pub fn allow(&self, email: &str, address: IpAddr) -> bool {
        for limiter_len in [self.per_account.len(), self.per_address.len()] {
            if limiter_len > REMEMBERED_KEYS {
                self.per_account.retain_recent();
                self.per_address.retain_recent();
            }
        }
        self.per_address.check_key(&address).is_ok() && self.per_account.check_key(&email.trim().to_lowercase()).is_ok()
    }
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits::new(NonZeroU32::new(5).expect("non-zero"), NonZeroU32::new(20).expect("non-zero"))
    }
}

/// The client's address, as the server saw the connection.
pub fn client_address(parts_extensions: &axum::http::Extensions) -> IpAddr {
    parts_extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(peer)| peer.ip())
}
