//! The served API description: what OpenAPI validators and reference pages need of it, checked
//! here so that `cargo test` catches a regression before the linters in CI do.

mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

suite!(
    every_operation_has_a_summary_and_every_response_a_description,
    the_reference_page_loads_everything_from_the_server_itself,
    pipeline_totals_fit_their_schema_above_one_leads_largest_value
);

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

/// Two leads at the largest value one lead may have: the stats' sums exceed it, and the document
/// must still describe them (a fuzzer checking answers against it found this).
async fn pipeline_totals_fit_their_schema_above_one_leads_largest_value(app: TestApp) {
    for title in ["Clinic building", "Second building"] {
        app.lead(&app.owner, json!({"title": title, "estimated_value": 100_000_000, "probability": 100})).await.expect(201);
    }
    let stats = app.get(&app.owner, "/opportunities/stats").await.expect(200).body["data"].clone();
    let document = app.call(None, Method::GET, "//api/v1/openapi.json", None).await.expect(200).body;
    let properties = &document["components"]["schemas"]["PipelineStats"]["properties"];
    for field in ["totalValue", "weightedValue"] {
        let answered = stats[field].as_f64().unwrap_or_default();
        assert_eq!(answered, 200_000_000.0, "{field}: {stats}");
        if let Some(maximum) = resolved(&document, &properties[field])["maximum"].as_f64() {
            panic!("{field} is {answered}, above the document's maximum {maximum}");
        }
    }
}

/// A schema, following a `$ref` into the document's components.
fn resolved<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|path| path.strip_prefix("#/")) {
        Some(path) => path.split('/').fold(document, |node, key| &node[key]),
        None => schema,
    }
}

fn has_text(value: &Value) -> bool {
    value.as_str().is_some_and(|text| !text.trim().is_empty())
}

/// The reference page must render with no network: every file it loads comes from this server,
/// none from a CDN, and it reads the document from this server too.
async fn the_reference_page_loads_everything_from_the_server_itself(app: TestApp) {
    let (status, page) = text(&app, "//api/docs/").await;
    assert_eq!(status, 200, "{page}");
    let assets = attribute_values(&page);
    assert!(assets.iter().any(|asset| asset.ends_with(".js")), "the page loads no script: {page}");
    for asset in assets {
        assert!(!asset.contains("//") && !asset.contains(':'), "{asset} is not on this server");
        let (status, body) = text(&app, &format!("//api/docs/{}", asset.trim_start_matches("./"))).await;
        assert_eq!(status, 200, "{asset}");
        assert!(!body.contains("https://cdn") && !body.contains("http://cdn"), "{asset} loads from a CDN");
    }
    let (_, initializer) = text(&app, "//api/docs/swagger-initializer.js").await;
    assert!(initializer.contains("\"/api/v1/openapi.json\""), "{initializer}");
    assert!(initializer.contains("\"validatorUrl\": \"none\""), "the page would send the document to a validator: {initializer}");
    // Like the document, the page needs no token.
    let (status, _) = text(&app, "//api/docs").await;
    assert_eq!(status, 200, "GET /api/docs redirects to the page");
}

async fn text(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.request(Method::GET, path).send().await.expect("the server answers");
    (response.status().as_u16(), response.text().await.expect("a body"))
}

/// The values of the page's `src` and `href` attributes.
fn attribute_values(page: &str) -> Vec<&str> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attribute| page.match_indices(attribute).map(move |(at, _)| &page[at + attribute.len()..]))
        .filter_map(|rest| rest.split('"').next())
        .collect()
}
