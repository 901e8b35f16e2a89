//! Data in and out as CSV: exports streamed page by page (a keyset walk through the store, so a
//! million rows take the memory of one page), and the import of a spreadsheet of leads.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use domain::client::Client;
use domain::opportunity::OpportunityView;
use domain::query::{ClientFilter, OpportunityFilter};
use domain::transfer::export::{CLIENT_COLUMNS, OPPORTUNITY_COLUMNS, client_record, opportunity_record};
use domain::transfer::import::{ImportFile, ImportOptions, ImportReport};
use futures_util::stream;
use store::{Store, service};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::ApiResult;
use crate::envelope::{Envelope, ok};
use crate::error::ErrorEnvelope;
use crate::extract::{Auth, CsvBody, Params};
use crate::{ApiError, AppState};

/// Rows an export reads from the database at a time.
const EXPORT_PAGE: i64 = 1_000;

pub fn exports() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_opportunities)).routes(routes!(export_clients))
}

/// Behind its own body limit (see `IMPORT_BODY_LIMIT_BYTES`).
pub fn imports() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_opportunities))
}

/// Every opportunity the list's filters match, as CSV (RFC 4180, UTF-8, CRLF line ends), with
/// a header row of stable column names, in the order the leads were created. Streamed: a client
/// may read any number of rows; an error after the first row cuts the download short.
#[utoipa::path(get, path = "/opportunities/export", tag = "import and export",
    params(
        ("status" = Option<Vec<domain::opportunity::Status>>, Query, description = "Repeatable and/or comma-separated.", explode = true),
        ("assigned_to" = Option<uuid::Uuid>, Query), ("category_id" = Option<uuid::Uuid>, Query), ("client_id" = Option<uuid::Uuid>, Query),
        ("source" = Option<String>, Query),
        ("search" = Option<String>, Query, description = "As for the opportunity list."),
        ("follow_up_due" = Option<bool>, Query, description = "Only leads not won or lost whose follow-up is due by the end of today in the organization's time zone.")),
    responses((status = 200, description = "The header row `id,title,prospect_name,prospect_email,prospect_phone,client_id,client_name,\
        category,owner_email,status,probability,estimated_value,source,follow_up_date,closed_at,closed_reason,transaction_id,description,\
        created_at,updated_at`, then one row per lead.", content_type = "text/csv", body = String)))]
async fn export_opportunities(State(state): State<AppState>, Auth(actor): Auth, Params(params): Params) -> ApiResult<Response> {
    let filter = super::opportunities::opportunity_filter(&state, actor.org_id, params).await?;
    Ok(opportunities_csv(state.store.clone(), actor.org_id, filter))
}

/// The organization's leads that `filter` matches (its page and sort aside), as the streamed
/// CSV download of `GET /opportunities/export`: also what the web UI's list exports.
pub fn opportunities_csv(store: Arc<dyn Store>, org_id: Uuid, filter: OpportunityFilter) -> Response {
    let filter = Arc::new(filter);
    let page = move |after| {
        let (store, filter) = (store.clone(), filter.clone());
        async move { store.export_opportunities(org_id, &filter, after, EXPORT_PAGE).await }
    };
    csv_download("opportunities.csv", OPPORTUNITY_COLUMNS, page, |view: &OpportunityView| view.opportunity.id, opportunity_record)
}

/// Every client (`search` as for the client list), as CSV like the opportunity export.
#[utoipa::path(get, path = "/clients/export", tag = "import and export",
    params(("search" = Option<String>, Query)),
    responses((status = 200, description = "The header row `id,name,email,phone,created_at,updated_at`, then one row per client.",
        content_type = "text/csv", body = String)))]
async fn export_clients(State(state): State<AppState>, Auth(actor): Auth, Params(params): Params) -> ApiResult<Response> {
    let filter = Arc::new(ClientFilter::parse(params)?);
    let store: Arc<dyn Store> = state.store.clone();
    let page = move |after| {
        let (store, filter) = (store.clone(), filter.clone());
        async move { store.export_clients(actor.org_id, &filter, after, EXPORT_PAGE).await }
    };
    Ok(csv_download("clients.csv", CLIENT_COLUMNS, page, |client: &Client| client.id, client_record))
}

/// Where an export stands.
enum Position {
    Header,
    After(Option<Uuid>),
    End,
}

/// A CSV download of the header and then every page `page` reads, each after the last row of
/// the one before. The stream reads a page only when the client has taken the previous one, and
/// stops when the client hangs up (hyper drops it).
fn csv_download<T, const N: usize, F>(
    filename: &str,
    header: [&'static str; N],
    page: impl Fn(Option<Uuid>) -> F + Send + Sync + 'static,
    id: fn(&T) -> Uuid,
    record: fn(&T) -> [String; N],
) -> Response
where
    T: Send + 'static,
    F: Future<Output = domain::Result<Vec<T>>> + Send + 'static,
{
    let rows = stream::try_unfold(Position::Header, move |position| {
        let next = match position {
            Position::End => None,
            Position::Header => Some(page(None)),
            Position::After(after) => Some(page(after)),
        };
        let first = matches!(position, Position::Header);
        async move {
            let Some(next) = next else { return Ok(None) };
            let rows = next.await.inspect_err(|error| tracing::error!(%error, "an export stopped"))?;
            let position = match rows.last() {
                Some(last) if rows.len() as i64 == EXPORT_PAGE => Position::After(Some(id(last))),
                _ => Position::End,
            };
            let header = first.then(|| header.map(str::to_owned));
            Ok::<_, axum::BoxError>(Some((encode(header.into_iter().chain(rows.iter().map(record)))?, position)))
        }
    });
    let disposition = format!("attachment; filename=\"{filename}\"");
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], Body::from_stream(rows))
        .into_response()
}

/// Records as RFC 4180 CSV: fields quoted when they need it, lines ended by CRLF.
fn encode<const N: usize>(records: impl Iterator<Item = [String; N]>) -> Result<Bytes, csv::Error> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    for record in records {
        writer.write_record(&record)?;
    }
    writer.into_inner().map(Bytes::from).map_err(|error| error.into_error().into())
}

/// Imports leads from a CSV file (`text/csv`, UTF-8, at most 64 MiB) with a header row. Columns
/// are matched by name, ignoring case, spaces, `_` and `-`, with common aliases (see the README);
/// the columns an export writes import back. Each row is checked like a created lead (a won row
/// gets probability 100) and keeps its `created_at`, `closed_at`, `status` and `closed_reason`.
/// Rows with errors are reported and left out; all others are written in one transaction.
/// A row whose e-mail or phone digits a lead of the organization (or an earlier row) has is a
/// duplicate: `on_duplicate` skips it (the default), updates that lead with its non-blank cells,
/// or creates it anyway.
#[utoipa::path(post, path = "/imports/opportunities", tag = "import and export",
    params(("dry_run" = Option<bool>, Query, description = "Check and count, but write nothing."),
           ("on_duplicate" = Option<String>, Query, description = "skip (default), update or create.")),
    request_body(content = String, content_type = "text/csv", description = "A CSV file with a header row."),
    responses((status = 200, body = Envelope<ImportReport>),
              (status = 413, description = "The file is larger than 64 MiB (`payload_too_large`).", body = ErrorEnvelope),
              (status = 415, description = "The body is not `text/csv` (`unsupported_media_type`).", body = ErrorEnvelope)))]
async fn import_opportunities(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Params(params): Params,
    CsvBody(bytes): CsvBody,
) -> ApiResult<Json<Envelope<ImportReport>>> {
    let options = ImportOptions::parse(params)?;
    // Reading tens of megabytes takes a while: off the threads that serve requests.
    let file = tokio::task::spawn_blocking(move || ImportFile::read(&bytes))
        .await
        .map_err(|error| ApiError::from(domain::Error::internal(error)))??;
    Ok(ok(service::import_opportunities(state.store.as_ref(), &actor, &file, options).await?))
}
