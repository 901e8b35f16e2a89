//! Completes the generated OpenAPI document with what is common to every operation: bearer
//! authentication and the error envelope for every error status the API can answer.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use utoipa::openapi::info::LicenseBuilder;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, ObjectBuilder, OpenApi, Ref, RefOr, Required, Response, ResponseBuilder, Server, Type,
    content::ContentBuilder,
};
use utoipa::{PartialSchema, ToSchema};

use crate::error::{ErrorBody, ErrorEnvelope};

const ERRORS: [(&str, &str); 14] = [
    ("400", "Malformed JSON, a bad query parameter, a bad id in the path, or a request that is not HTTP/1.1 (`bad_request`)."),
    ("401", "No token, or an unknown or revoked one (`unauthorized`)."),
    ("403", "The caller's role may not do this (`forbidden`)."),
    ("404", "No such record in the caller's organization (`not_found`)."),
    (
        "409",
        "`conflict` (also when other requests changed the same records at the same moment: try again), `already_closed`, \
             `already_converted`, `idempotency_key_in_progress` or `token_already_issued`.",
    ),
    ("412", "`If-Match` names a version that is no longer current (`precondition_failed`)."),
    ("413", "The body is too large (`payload_too_large`)."),
    ("415", "The body is not JSON (`unsupported_media_type`)."),
    ("422", "Invalid fields, each named in `details.fields` (`validation_failed`)."),
    ("500", "An unexpected failure on the server (`internal`)."),
    ("408", "The body did not arrive within the server's body timeout (`request_timeout`)."),
    ("414", "The request target is longer than 8 KiB (`uri_too_long`)."),
    ("431", "The request line and headers exceed 32 KiB or 100 headers (`headers_too_large`)."),
    (
        "503",
        "The server is at its connection limit (`overloaded`), or the database is unavailable: down, restarting or \
             failing over (`database_unavailable`); both say when to retry in `Retry-After`. Or the database took too \
             long (`took_too_long`).",
    ),
];

/// Every POST takes an `Idempotency-Key`.
fn idempotency_key() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "A unique key (such as a UUID) that makes retries safe: a retry with the same key and body \
             by the same caller in the same role gets the first response again (with `Idempotent-Replayed: true`); \
             the same key with another body, or after the caller's role changed, is refused with 422 \
             `idempotency_key_reused`. Keys are the caller's own (a staff member's, or a public form's): \
             another caller's key of the same text is another key. A retry of a token issuance answers \
             409 `token_already_issued` with the token's id, since its secret is shown only once. \
             Kept at least 24 hours.",
        ))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(255))))
        .build()
}

pub fn finish(mut openapi: OpenApi) -> OpenApi {
    openapi.info = InfoBuilder::new()
        .title("Opportunities API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some("Sales pipeline for service businesses: leads, stages, notes, activities, statistics and conversion to clients."))
        .license(Some(LicenseBuilder::new().name(env!("CARGO_PKG_LICENSE")).identifier(Some(env!("CARGO_PKG_LICENSE"))).build()))
        .build();
    let components = openapi.components.take().unwrap_or_else(|| ComponentsBuilder::new().build());
    let mut components = ComponentsBuilder::from(components)
        .schema(ErrorEnvelope::name(), ErrorEnvelope::schema())
        .schema(ErrorBody::name(), ErrorBody::schema())
        .security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()))
        .build();
    for (status, description) in ERRORS {
        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(ErrorEnvelope::name()))).build();
        let response = ResponseBuilder::new().description(description).content("application/json", content).build();
        components.responses.insert(format!("Error{status}"), response.into());
    }
    openapi.components = Some(components);
    openapi.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    // Relative, so the document holds wherever the service is deployed (and a reader's "try it"
    // goes to the server that served it).
    openapi.servers = Some(vec![Server::new("/")]);
    for item in openapi.paths.paths.values_mut() {
        if let Some(post) = item.post.as_mut() {
            post.parameters.get_or_insert_with(Vec::new).push(idempotency_key().into());
        }
        // An empty body reads as `{}`; whether fields are missing is then a 422 naming them.
        for operation in [&mut item.post, &mut item.patch].into_iter().flatten() {
            if let Some(utoipa::openapi::RefOr::T(body)) = operation.request_body.as_mut() {
                body.required = Some(Required::False);
            }
        }
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            for (status, _) in ERRORS {
                let reference = Ref::new(format!("#/components/responses/Error{status}"));
                operation.responses.responses.entry(status.to_owned()).or_insert(reference.into());
            }
            describe_responses(&mut operation.responses.responses);
        }
    }
    openapi
}

/// OpenAPI requires a description on every response; the handlers' annotations give one only
/// where there is more to say than the status, so the rest get the status's reason phrase.
fn describe_responses(responses: &mut BTreeMap<String, RefOr<Response>>) {
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            let reason = status.parse().ok().and_then(|code| StatusCode::from_u16(code).ok()).and_then(|code| code.canonical_reason());
            response.description = reason.unwrap_or("Response").to_owned();
        }
    }
}
