//! What one request may cost: responses, searches and error messages stay small however much
//! history a lead has or however much a client sends.

mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

suite!(a_validation_error_echoes_a_bounded_amount);

async fn a_validation_error_echoes_a_bounded_amount(app: TestApp) {
    let mut body = serde_json::Map::new();
    for i in 0..4_000 {
        body.insert(format!("unknown_{i:05}"), json!(1));
    }
    body.insert("x".repeat(20_000), json!(1));
    body.insert("probability".into(), json!("9".repeat(20_000)));
    let request = app.request(Method::POST, "/opportunities").bearer_auth(&app.owner.token);
    let response = request.json(&Value::Object(body)).send().await.expect("the server answers");
    assert_eq!(response.status(), 422);
    let size = response.content_length();
    let bytes = response.bytes().await.expect("a body");
    assert!(bytes.len() < 8_000, "a 422 for a 100 KB body is small, not {} bytes ({size:?})", bytes.len());
    let reply: Value = serde_json::from_slice(&bytes).expect("JSON");
    let fields = reply["error"]["details"]["fields"].as_object().expect("fields");
    for field in ["title", "prospect_name", "probability"] {
        assert!(fields.contains_key(field), "the request's own mistakes are named first: {field} in {reply}");
    }
    assert_eq!(fields.len(), 20 + 3, "20 unknown fields named, and the 3 known ones");
    assert_eq!(reply["error"]["details"]["unknown_fields_not_named"], 4_001 - 20);
    assert!(fields.iter().all(|(field, message)| field.chars().count() <= 201 && message.as_str().unwrap().chars().count() <= 201));
}
