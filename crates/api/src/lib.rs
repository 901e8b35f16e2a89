//! The HTTP/JSON face of Opportunities: a thin layer that authenticates the caller, turns
//! requests into domain inputs, calls the store's use cases and wraps results in the envelope.

#![forbid(unsafe_code)]

mod backups;
mod envelope;
mod error;
mod extract;
mod idempotency;
mod intake;
mod observe;
mod openapi;
mod routes;
mod serve;
mod visitor;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use axum::{Extension, Router};
use domain::Timestamp;
use domain::webhook::TargetPolicy;
use store::Store;
use utoipa_axum::router::OpenApiRouter;

pub use backups::{BackupHealth, BackupState};
pub use error::{ApiError, DATABASE_RETRY_AFTER_SECS};
use intake::IntakeGuard;
pub use intake::IntakeLimits;
use observe::Metrics;
pub use routes::transfer::opportunities_csv;
pub use serve::{ServeLimits, serve};
pub use visitor::{Refusal, VisitorPages};

/// Requests larger than this are refused with 413: the longest note (10,000 characters of
/// four-byte UTF-8) fits with room to spare.
pub const BODY_LIMIT_BYTES: usize = 128 * 1024;

/// A website inquiry is a few fields of text.
pub const PUBLIC_BODY_LIMIT_BYTES: usize = 16 * 1024;

/// A CSV import may be this large (64 MiB): a spreadsheet of a few hundred thousand leads. The
/// whole file must also arrive within the server's body timeout (`--body-timeout-ms`).
pub const IMPORT_BODY_LIMIT_BYTES: usize = 64 * 1024 * 1024;

/// The body limit of the routes a layer of [`body_limit`] wraps. axum enforces the limit but does
/// not say which it was; the 413 states it.
#[derive(Clone, Copy)]
struct BodyLimit(usize);

fn body_limit(bytes: usize) -> (DefaultBodyLimit, Extension<BodyLimit>) {
    (DefaultBodyLimit::max(bytes), Extension(BodyLimit(bytes)))
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    intake: Arc<IntakeGuard>,
    metrics: Arc<Metrics>,
    /// Which URLs webhooks may be given.
    webhook_targets: TargetPolicy,
    /// Pages for browsers posting a website form; without them, every answer is JSON.
    visitor_pages: Option<Arc<dyn VisitorPages>>,
    clock: Clock,
    /// The scheduled backups' outcomes, when this process takes them.
    backups: Option<Arc<BackupHealth>>,
}

/// What time it is, for the answers that depend on the day (the follow-ups due today). Tests
/// pin it to a moment of their choosing: a minute before a clinic's midnight, a day when the
/// clocks change.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// A clock that always says `at`.
    pub fn fixed(at: Timestamp) -> Clock {
        Clock(Arc::new(move || at))
    }

    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock(Arc::new(Timestamp::now))
    }
}

/// The API: `/api/v1/...`, `/healthz`, `/readyz`, `/metrics`, and envelopes for unknown routes.
pub fn router(store: Arc<dyn Store>) -> Router {
    router_with(store, AppOptions::default())
}

/// What a deployment plugs into the API besides its store. The default serves the API alone.
#[derive(Default)]
pub struct AppOptions {
    /// Limits on public lead-form submissions.
    pub intake: IntakeLimits,
    /// Which URLs webhooks may be given (private addresses or not).
    pub webhook_targets: TargetPolicy,
    /// The web UI, served beside the API behind the same transport guards, metrics and request log.
    pub pages: Router,
    /// Pages for browsers posting a website form; without them, every answer is JSON.
    pub visitor_pages: Option<Arc<dyn VisitorPages>>,
    /// The system clock unless a test pins it.
    pub clock: Clock,
    /// The scheduled backups' outcomes, shown by `/metrics` and `/readyz`, when this process
    /// takes them (`serve --backup-dir`).
    pub backups: Option<Arc<BackupHealth>>,
}

/// [`router`] with what `options` plugs in.
pub fn router_with(store: Arc<dyn Store>, options: AppOptions) -> Router {
    let AppOptions { intake, webhook_targets, pages, visitor_pages, clock, backups } = options;
    let state = AppState {
        store,
        intake: Arc::new(IntakeGuard::new(intake)),
        metrics: Arc::new(Metrics::new()),
        webhook_targets,
        visitor_pages,
        clock,
        backups,
    };
    let idempotent = || middleware::from_fn_with_state(state.clone(), idempotency::for_staff);
    // The import's limit is set outside the idempotency layer, which reads the body first.
    let imports = routes::imports().layer(idempotent()).layer(body_limit(IMPORT_BODY_LIMIT_BYTES));
    let staff = routes::api().layer(idempotent()).merge(imports);
    let public = routes::public(state.clone()).layer(body_limit(PUBLIC_BODY_LIMIT_BYTES));
    let (api, openapi) = OpenApiRouter::new().nest("/api/v1", staff.merge(public)).split_for_parts();
    api.merge(routes::system::openapi_json(&openapi::finish(openapi)))
        .merge(routes::system::health())
        .merge(routes::system::reference_page())
        .route("/metrics", get(observe::render))
        .with_state(state.clone())
        .merge(pages)
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(body_limit(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn(serve::guard))
        .layer(middleware::from_fn_with_state(state.clone(), observe::record))
        .layer(observe::trace_layer())
        .layer(observe::request_ids())
}
