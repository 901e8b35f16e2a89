//! What one request may cost: responses, searches and error messages stay small however much
//! history a lead has or however much a client sends.

mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

suite!(a_search_counts_each_word_once_and_takes_at_most_eight, a_validation_error_echoes_a_bounded_amount);

async fn get(app: &TestApp, path: &str) -> common::Reply {
    app.get(&app.owner, path).await.expect(200)
}

async fn a_search_counts_each_word_once_and_takes_at_most_eight(app: TestApp) {
    app.lead(&app.owner, json!({"title": "A botox consultation for Friday", "prospect_name": "Jane B Doe"})).await.expect(201);
    let total = |search: String| {
        let app = &app;
        async move { get(app, &format!("/opportunities?search={search}")).await.body["meta"]["total"].clone() }
    };
    assert_eq!(total(vec!["a"; 100].join("%20")).await, 1, "one word, a hundred times");
    assert_eq!(total(format!("{}%20botox%20jane%20doe", vec!["a"; 20].join("%20"))).await, 1);
    assert_eq!(total("a%20b%20botox%20consultation%20jane%20doe%20for%20fri".into()).await, 1, "eight different words");
    assert_eq!(total("a%20b%20botox%20consultation%20jane%20doe%20for%20zz".into()).await, 0);
    let nine = app.get(&app.owner, "/opportunities?search=a%20b%20c%20d%20e%20f%20g%20h%20i").await.expect_error(400, "bad_request");
    assert_eq!(nine.body["error"]["details"]["parameter"], "search");
    assert!(nine.body["error"]["message"].as_str().unwrap().contains('8'), "{}", nine.body);
}

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
