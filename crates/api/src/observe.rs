//! Operating the service: a request id on every request and response, a log line per
//! request inside a span that carries that id, and Prometheus metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Seconds; from half a millisecond (a cached read) to seconds (a stuck database).
const LATENCY_BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Methods named in metrics as themselves; any other (anyone may invent one) counts as `other`,
/// so an outsider cannot add label values, series and memory at will.
const KNOWN_METHODS: [Method; 9] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS, Method::CONNECT, Method::TRACE];

/// The router's own registry, not the process-wide one: two routers in one process (a test
/// binary serving each backend) count and show only their own requests.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Metrics {
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new();
        let recorder = builder.set_buckets(&LATENCY_BUCKETS).unwrap_or_else(|_| PrometheusBuilder::new()).build_recorder();
        let handle = recorder.handle();
        Metrics { recorder, handle }
    }

    fn record(&self, record: impl FnOnce()) {
        metrics::with_local_recorder(&self.recorder, record);
    }
}

/// Counts and times each request by method, route template and status: label values all come
/// from fixed sets (known methods, the router's templates, the statuses the handlers answer).
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = request.method();
    let method = if KNOWN_METHODS.contains(method) { method.as_str() } else { "other" }.to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = [("method", method), ("route", route), ("status", response.status().as_u16().to_string())];
    state.metrics.record(|| {
        metrics::counter!("http_requests_total", &labels).increment(1);
        metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    });
    response
}

/// `GET /metrics` in the Prometheus text format, with the database pool's state as of now.
pub async fn render(State(state): State<AppState>) -> Response {
    let pool = state.store.pool_state();
    state.metrics.record(|| {
        metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
        metrics::gauge!("db_pool_connections", "state" => "in_use").set(f64::from(pool.size.saturating_sub(pool.idle)));
        if let Some(backups) = &state.backups {
            backups.record_metrics();
        }
    });
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.handle.render()).into_response()
}

/// Keeps a caller's `x-request-id` or makes one, and returns it on the response.
pub fn request_ids() -> (SetRequestIdLayer<MakeRequestUuid>, PropagateRequestIdLayer) {
    (SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid), PropagateRequestIdLayer::new(REQUEST_ID))
}

/// One log line per request (method, path, status, latency) in a span carrying the request id,
/// so an error logged while handling it names the request it belongs to.
pub fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&Request) -> tracing::Span + Clone,
    tower_http::trace::DefaultOnRequest,
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}
