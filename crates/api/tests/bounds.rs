//! What one request may cost: responses, searches and error messages stay small however much
//! history a lead has or however much a client sends.

mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

suite!(
    the_detail_embeds_the_latest_history_and_the_lists_page_it,
    a_search_counts_each_word_once_and_takes_at_most_eight,
    a_validation_error_echoes_a_bounded_amount,
);

/// Adds `count` records through `path`, numbered from 0 in the order written.
async fn add(app: &TestApp, path: &str, count: usize, body: impl Fn(usize) -> Value) {
    for i in 0..count {
        app.post(&app.owner, path, body(i)).await.expect(201);
    }
}

fn texts<'a>(records: &'a Value, field: &str) -> Vec<&'a str> {
    records.as_array().expect("a list").iter().map(|record| record[field].as_str().expect("text")).collect()
}

/// What `count` records numbered newest first from `newest` are called.
fn numbered(prefix: &str, newest: usize, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix} {}", newest - i)).collect()
}

async fn get(app: &TestApp, path: &str) -> common::Reply {
    app.get(&app.owner, path).await.expect(200)
}

async fn the_detail_embeds_the_latest_history_and_the_lists_page_it(app: TestApp) {
    let lead = app.lead(&app.owner, json!({})).await.expect(201).id();
    let path = format!("/opportunities/{lead}");
    add(&app, &format!("{path}/notes"), 55, |i| json!({"content": format!("note {i}")})).await;
    add(&app, &format!("{path}/activities"), 51, |i| json!({"activity_type": "call", "description": format!("call {i}")})).await;

    let detail = get(&app, &path).await;
    assert_eq!(texts(&detail.data()["notes"], "content"), numbered("note", 54, 50), "the latest 50, newest first");
    assert_eq!(texts(&detail.data()["activities"], "description"), numbered("call", 50, 50));
    assert_eq!((detail.data()["notes_count"].clone(), detail.data()["activities_count"].clone()), (json!(55), json!(51)));

    let notes = get(&app, &format!("{path}/notes")).await;
    assert_eq!(texts(notes.data(), "content"), numbered("note", 54, 50), "no parameters: the first page of 50");
    assert_eq!(notes.body["meta"], json!({"total": 55, "total_exact": true, "limit": 50, "offset": 0}));
    let mut paged = Vec::new();
    for offset in (0..60).step_by(20) {
        let page = get(&app, &format!("{path}/notes?limit=20&offset={offset}")).await;
        assert_eq!(page.body["meta"], json!({"total": 55, "total_exact": true, "limit": 20, "offset": offset}));
        paged.extend(texts(page.data(), "content").into_iter().map(str::to_owned));
    }
    assert_eq!(paged, numbered("note", 54, 55), "pages neither overlap nor skip");
    let past_the_end = get(&app, &format!("{path}/activities?offset=51")).await;
    assert_eq!((past_the_end.data().clone(), past_the_end.body["meta"]["total"].clone()), (json!([]), json!(51)));
    let last = get(&app, &format!("{path}/activities?limit=1&offset=50")).await;
    assert_eq!(texts(last.data(), "description"), ["call 0"]);

    for query in ["limit=0", "limit=201", "offset=-1", "page=2", "limit=5&limit=6"] {
        app.get(&app.owner, &format!("{path}/notes?{query}")).await.expect_error(400, "bad_request");
        app.get(&app.owner, &format!("{path}/activities?{query}")).await.expect_error(400, "bad_request");
    }
    let elsewhere = app.other_org().await;
    for list in ["notes", "activities"] {
        app.get(&elsewhere, &format!("{path}/{list}?offset=100")).await.expect_error(404, "not_found");
    }
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
    assert_eq!(total("botox&offset=9950".into()).await, 1, "a search pages through its first 10,000 matches");
    let deep = app.get(&app.owner, "/opportunities?search=botox&offset=9951").await.expect_error(400, "bad_request");
    assert_eq!(deep.body["error"]["details"]["parameter"], "offset");
    get(&app, "/opportunities?offset=100000").await;
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
