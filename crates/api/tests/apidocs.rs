//! The served API description: what OpenAPI validators and reference pages need of it, checked
//! here so that `cargo test` catches a regression before the linters in CI do.

mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::Value;

suite!(every_operation_has_a_summary_and_every_response_a_description);

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn every_operation_has_a_summary_and_every_response_a_description(app: TestApp) {
    let document = app.call(None, Method::GET, "//api/v1/openapi.json", None).await.expect(200).body;
    let mut missing = Vec::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            let name = format!("{} {path}", method.to_uppercase());
            if !has_text(&operation["summary"]) {
                missing.push(format!("{name}: summary"));
            }
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                if response.get("$ref").is_none() && !has_text(&response["description"]) {
                    missing.push(format!("{name} {status}: description"));
                }
            }
        }
    }
    for (name, response) in document["components"]["responses"].as_object().into_iter().flatten() {
        if !has_text(&response["description"]) {
            missing.push(format!("components.responses.{name}: description"));
        }
    }
    assert!(missing.is_empty(), "the document lacks {missing:#?}");
    let servers = document["servers"].as_array().map(Vec::len).unwrap_or(0);
    assert!(servers > 0, "the document names no server: {}", document["servers"]);
}

fn has_text(value: &Value) -> bool {
    value.as_str().is_some_and(|text| !text.trim().is_empty())
}
