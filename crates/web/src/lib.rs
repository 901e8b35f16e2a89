//! The pages staff and website visitors use in a browser: HTML rendered on the server (maud)
//! over the same use cases as the JSON API, with a little vendored JavaScript for what a form
//! cannot do. Everything the pages need is in the binary.

#![forbid(unsafe_code)]

mod assets;
mod forms;
mod layout;

use std::sync::Arc;

use axum::Router;
use store::Store;

/// What every page handler reads.
#[derive(Clone)]
pub struct WebState {
    pub store: Arc<dyn Store>,
}

/// The pages and their assets, for the binary to serve beside the API.
pub fn router(store: Arc<dyn Store>) -> Router {
    let state = WebState { store };
    Router::new().merge(assets::routes()).merge(forms::routes()).with_state(state)
}

/// The pages a browser is shown when it posts a website form to the API's public route.
pub fn visitor_pages() -> Arc<dyn api::VisitorPages> {
    Arc::new(forms::VisitorPages)
}
