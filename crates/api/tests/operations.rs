//! What an operator relies on: health and readiness probes, request ids, metrics.

mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::json;

suite!(probes_need_no_token, every_response_carries_a_request_id, metrics_count_requests_by_route_and_status);

async fn probes_need_no_token(app: TestApp) {
    let health = app.call(None, Method::GET, "//healthz", None).await.expect(200);
    assert_eq!(health.body, json!({"success": true, "data": {"status": "ok"}}));
    let ready = app.call(None, Method::GET, "//readyz", None).await.expect(200);
    assert_eq!(ready.body["data"]["status"], "ready");
}

async fn every_response_carries_a_request_id(app: TestApp) {
    let made = app.get(&app.owner, "/me").await.expect(200);
    let id = made.headers["x-request-id"].to_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).map(|u| u.get_version_num()), Ok(4), "a fresh id: {id}");
    let request = app.request(Method::GET, "/nowhere").header("x-request-id", "trace-abc-123");
    let kept = TestApp::reply(request).await.expect_error(404, "not_found");
    assert_eq!(kept.headers["x-request-id"], "trace-abc-123", "the caller's id is kept");
}

/// Exact counts: each test's server has its own registry, so the other backend's run of this
/// test, in the same process, cannot make these lines appear or change their counts.
async fn metrics_count_requests_by_route_and_status(app: TestApp) {
    let lead = app.lead(&app.owner, json!({})).await.expect(201);
    app.get(&app.owner, &format!("/opportunities/{}", lead.id())).await.expect(200);
    app.get(&app.owner, &format!("/opportunities/{}", uuid::Uuid::now_v7())).await.expect(404);
    let text = metrics(&app).await;
    for expected in [
        r#"http_requests_total{method="GET",route="/api/v1/opportunities/{id}",status="200"} 1"#,
        r#"http_requests_total{method="GET",route="/api/v1/opportunities/{id}",status="404"} 1"#,
        r#"http_requests_total{method="POST",route="/api/v1/opportunities",status="201"} 1"#,
        r#"http_request_duration_seconds_bucket{method="POST",route="/api/v1/opportunities",status="201",le="0.5"}"#,
        r#"db_pool_connections{state="idle"}"#,
    ] {
        assert!(text.lines().any(|line| line == expected || line.starts_with(&format!("{expected} "))), "missing {expected} in:\n{text}");
    }
}

/// One backend: these requests end at the router's fallbacks and never reach the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_methods_and_paths_add_no_metric_series() {
    let app = TestApp::sqlite().await;
    let before = metrics(&app).await.len();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (base, client) = (app.base.clone(), reqwest::Client::new());
        senders.spawn(async move {
            for _ in 0..125 {
                let invented = format!("{:X<200}", uuid::Uuid::new_v4().simple().to_string().to_uppercase());
                let method = Method::from_bytes(invented.as_bytes()).unwrap();
                TestApp::reply(client.request(method.clone(), format!("{base}/api/v1/opportunities"))).await.expect(405);
                TestApp::reply(client.request(method, format!("{base}/nowhere/{}", uuid::Uuid::new_v4()))).await.expect(404);
            }
        });
    }
    senders.join_all().await;
    let text = metrics(&app).await;
    // A few series and their histograms, not some per invented method or path.
    assert!(text.len() < before + 32 * 1024, "/metrics grew from {before} to {} bytes", text.len());
    for expected in [
        r#"http_requests_total{method="other",route="/api/v1/opportunities",status="405"} 1000"#,
        r#"http_requests_total{method="other",route="unmatched",status="404"} 1000"#,
    ] {
        assert!(text.lines().any(|line| line == expected), "missing {expected} in:\n{text}");
    }
}

async fn metrics(app: &TestApp) -> String {
    let response = app.request(Method::GET, "//metrics").send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}
