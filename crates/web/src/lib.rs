//! The pages staff and website visitors use in a browser: HTML rendered on the server (maud)
//! over the same use cases as the JSON API, with a little vendored JavaScript for what a form
//! cannot do. Everything the pages need is in the binary.

#![forbid(unsafe_code)]

mod agenda;
mod assets;
mod board;
mod dashboard;
mod forms;
mod layout;
mod lead;
mod lead_fields;
mod list;
mod new_lead;
mod pages;
mod session;
mod settings;
mod sign_in;

use std::sync::Arc;

use axum::Router;
use domain::session::PublicUrl;
use store::Store;

pub use session::SignInLimits;

/// How the pages are served.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Where staff reach the server (links to choose a password, the `Origin` forms come from).
    pub public_url: PublicUrl,
    /// Session cookies only over TLS.
    pub secure_cookies: bool,
}

/// What every page handler reads.
#[derive(Clone)]
pub struct WebState {
    pub store: Arc<dyn Store>,
    pub config: Arc<WebConfig>,
    sign_in_limits: Arc<SignInLimits>,
}

/// The pages and their assets, for the binary to serve beside the API.
pub fn router(store: Arc<dyn Store>, config: WebConfig) -> Router {
    router_with_limits(store, config, SignInLimits::default())
}

/// [`router`] with the given sign-in rate limits (tests use small ones).
pub fn router_with_limits(store: Arc<dyn Store>, config: WebConfig, sign_in_limits: SignInLimits) -> Router {
    let state = WebState { store, config: Arc::new(config), sign_in_limits: Arc::new(sign_in_limits) };
    Router::new()
        .merge(settings::routes(state.clone()))
        .merge(assets::routes())
        .merge(sign_in::routes())
        .merge(agenda::routes())
        .merge(board::routes())
        .merge(new_lead::routes())
        .merge(lead::routes())
        .merge(list::routes())
        .merge(dashboard::routes())
        .merge(forms::routes())
        .with_state(state)
}

/// The pages a browser is shown when it posts a website form to the API's public route.
pub fn visitor_pages() -> Arc<dyn api::VisitorPages> {
    Arc::new(forms::VisitorPages)
}
