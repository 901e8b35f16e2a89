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

async fn metrics_count_requests_by_route_and_status(app: TestApp) {
    let lead = app.lead(&app.owner, json!({})).await.expect(201);
    app.get(&app.owner, &format!("/opportunities/{}", lead.id())).await.expect(200);
    app.get(&app.owner, &format!("/opportunities/{}", uuid::Uuid::now_v7())).await.expect(404);
    let response = app.request(Method::GET, "//metrics").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for expected in [
        r#"http_requests_total{method="GET",route="/api/v1/opportunities/{id}",status="200"}"#,
        r#"http_requests_total{method="GET",route="/api/v1/opportunities/{id}",status="404"}"#,
        r#"http_requests_total{method="POST",route="/api/v1/opportunities",status="201"}"#,
        r#"http_request_duration_seconds_bucket{method="POST",route="/api/v1/opportunities",status="201",le="0.5"}"#,
        r#"db_pool_connections{state="idle"}"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
}
