//! The dashboard: the pipeline's figures from the same totals as `GET /opportunities/stats`
//! (read in constant time, never by loading leads), drawn as bar charts on the server (SVG, each
//! with a table of its numbers beside it), and the signed-in staff member's follow-ups due today
//! or overdue. Every figure links to the list of the leads behind it.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::calendar::{Day, TimeZone};
use domain::opportunity::{OpportunityView, Status};
use domain::query::{OpportunityFilter, QueryParams, StatsFilter};
use domain::report::{FunnelReport, LostReasonsReport, ReportQuery, ResponseTimesReport};
use domain::search::Total;
use domain::session::WebSession;
use domain::stats::{PipelineStats, SourceStats, StageTotals};
use domain::{Money, Timestamp};
use maud::{Markup, html};
use store::service;

use crate::WebState;
use crate::pages::{Filters, FollowUp, Section, error_page, label, leads, money, staff_page, time_zone};
use crate::session::SignedIn;

pub fn routes() -> Router<WebState> {
    Router::new().route("/dashboard", get(dashboard))
}

/// Follow-ups the dashboard lists before linking to the rest.
const FOLLOW_UPS_SHOWN: i64 = 20;

/// Sources charted one by one; the rest are summed as "Other sources" (a source is free text,
/// so an organization may have any number of them).
const SOURCES_CHARTED: usize = 8;

async fn dashboard(State(state): State<WebState>, SignedIn(session): SignedIn, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    // The totals are kept per owner and category only: source and search cannot narrow them.
    let filters = Filters { source: None, search: None, ..Filters::read(&pairs, &session) };
    let zone = match time_zone(&state, &session).await {
        Ok(zone) => zone,
        Err(error) => return error_page(&error),
    };
    let today = zone.day_of(Timestamp::now());
    let stats_filter = StatsFilter { assigned_to: filters.assigned_to, category_id: filters.category_id };
    let totals = match state.store.stats(session.org_id, &stats_filter, today).await {
        Ok(totals) => totals,
        Err(error) => return error_page(&error),
    };
    let (follow_ups, due) = match my_follow_ups(&state, &session, &zone).await {
        Ok(found) => found,
        Err(error) => return error_page(&error),
    };
    let reports = match last_90_days(&state, &session, &filters, today).await {
        Ok(reports) => reports,
        Err(error) => return error_page(&error),
    };
    let staff = state.store.staff_members(session.org_id).await.unwrap_or_default();
    let categories = state.store.categories(session.org_id, false).await.unwrap_or_default();
    let stats = PipelineStats::from_totals(&totals);
    let links = Links(&filters);
    let main = html! {
        h1 { "Dashboard" }
        form.filters.actions method="get" action="/dashboard" aria-label="Whose leads" {
            (filters.owner_and_category_fields(&staff, &categories))
            button type="submit" { "Show" }
        }
        (tiles(&stats, &links))
        div.dashboard {
            (follow_up_section(&session, &follow_ups, due, today))
            (stage_section(&totals.per_stage(None), &links))
            (source_section(&stats.by_source, &links))
        }
        (reports_section(&reports))
    };
    staff_page("Dashboard", &session, Section::Dashboard, main, &[]).into_response()
}

/// The signed-in member's leads whose follow-up is due by the end of today, soonest first, and
/// how many there are: the API's list with `follow_up_due=true`.
async fn my_follow_ups(state: &WebState, session: &WebSession, zone: &TimeZone) -> domain::Result<(Vec<OpportunityView>, Total)> {
    let pairs = [
        ("assigned_to", session.staff_id.to_string()),
        ("follow_up_due", "true".to_owned()),
        ("sort", "follow_up_date".to_owned()),
        ("limit", FOLLOW_UPS_SHOWN.to_string()),
    ];
    let filter =
        OpportunityFilter::parse(QueryParams::new(pairs.map(|(name, value)| (name.to_owned(), value)).to_vec())?, zone, Timestamp::now())?;
    state.store.opportunities(session.org_id, &filter).await
}

/// How many days back the dashboard's reports look, today included.
const REPORT_DAYS: i64 = 90;

struct Reports {
    funnel: FunnelReport,
    response_times: ResponseTimesReport,
    lost_reasons: LostReasonsReport,
}

/// The three reports of the API over the last [`REPORT_DAYS`] days, for the dashboard's owner
/// and category.
async fn last_90_days(state: &WebState, session: &WebSession, filters: &Filters, today: Day) -> domain::Result<Reports> {
    let query = ReportQuery {
        from: Day::from_number(today.number() - (REPORT_DAYS - 1)),
        to: today,
        assigned_to: filters.assigned_to,
        category_id: filters.category_id,
        source: None,
    };
    let (store, actor) = (state.store.as_ref(), session.actor());
    Ok(Reports {
        funnel: service::funnel_report(store, &actor, &query).await?,
        response_times: service::response_times_report(store, &actor, &query).await?,
        lost_reasons: service::lost_reasons_report(store, &actor, &query).await?,
    })
}

fn optional(value: Option<f64>, unit: &str) -> String {
    value.map_or_else(|| "–".to_owned(), |value| format!("{value}{unit}"))
}

/// The funnel, response times and lost reasons as tables (the funnel with a chart of how many
/// entered each stage), each titled with its window.
fn reports_section(reports: &Reports) -> Markup {
    let funnel = &reports.funnel;
    let bars: Vec<Bar> = funnel
        .stages
        .iter()
        .map(|stage| Bar {
            name: label(stage.status).to_owned(),
            length: stage.entered,
            figure: format!("{} · {} on", stage.entered, optional(stage.conversion_rate, "%")),
            class: format!("stage-{}", stage.status.as_str()),
        })
        .collect();
    html! {
        section.panel.reports aria-labelledby="reports-heading" {
            h2 #reports-heading { "Last " (REPORT_DAYS) " days (" (funnel.from) " to " (funnel.to) ")" }
            h3 #funnel-heading { "Funnel of the leads created" }
            div.chart-and-table {
                (bar_chart("funnel-chart", "Bar chart of the leads that entered each stage; the table beside it has the figures", &bars))
                div.table-scroll role="region" aria-labelledby="funnel-caption" tabindex="0" {
                    table {
                        caption #funnel-caption { "Won " (funnel.won) ", lost " (funnel.lost) ", win rate " (optional(funnel.win_rate, "%"))
                            ", median " (optional(funnel.median_days_to_close, " days")) " to close" }
                        thead { tr { th scope="col" { "Stage" } th.number scope="col" { "Entered" } th.number scope="col" { "Went on" }
                            th.number scope="col" { "Conversion" } th.number scope="col" { "Median days" } } }
                        tbody {
                            @for stage in &funnel.stages {
                                tr data-stage=(stage.status.as_str()) {
                                    th scope="row" { (label(stage.status)) }
                                    td.number { (stage.entered) } td.number { (stage.advanced) }
                                    td.number { (optional(stage.conversion_rate, "%")) } td.number { (optional(stage.median_days_in_stage, "")) }
                                }
                            }
                        }
                    }
                }
            }
            h3 #response-heading { "Response times by source" }
            div.table-scroll role="region" aria-labelledby="response-heading" tabindex="0" {
                table {
                    thead { tr { th scope="col" { "Source" } th.number scope="col" { "Leads" } th.number scope="col" { "Answered" }
                        th.number scope="col" { "Median minutes" } th.number scope="col" { "90th percentile" } } }
                    tbody {
                        @for source in &reports.response_times.sources {
                            tr {
                                th scope="row" { (source.source.as_deref().unwrap_or("No source")) }
                                td.number { (source.created) } td.number { (source.answered) }
                                td.number { (optional(source.median_minutes, "")) } td.number { (optional(source.p90_minutes, "")) }
                            }
                        }
                    }
                }
            }
            h3 #lost-heading { "Lost reasons" }
            div.table-scroll role="region" aria-labelledby="lost-heading" tabindex="0" {
                table {
                    thead { tr { th scope="col" { "Reason" } th.number scope="col" { "Leads" } th.number scope="col" { "Value" } } }
                    tbody {
                        @for reason in &reports.lost_reasons.reasons {
                            tr {
                                th scope="row" { (reason.reason.as_deref().unwrap_or("No reason given")) }
                                td.number { (reason.count) } td.number { (money(reason.estimated_value)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Links to the list of the leads behind a figure, with the dashboard's owner and category.
struct Links<'a>(&'a Filters);

impl Links<'_> {
    fn to(&self, extra: &[(&'static str, &str)]) -> String {
        let mut pairs = self.0.link_pairs();
        pairs.extend(extra.iter().map(|(name, value)| (*name, (*value).to_owned())));
        format!("/leads?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
    }

    fn stages(&self, statuses: &[Status]) -> String {
        self.to(&statuses.iter().map(|status| ("status", status.as_str())).collect::<Vec<_>>())
    }
}

const IN_PIPELINE: [Status; 4] = [Status::Open, Status::Contacted, Status::Qualified, Status::Proposal];

fn tiles(stats: &PipelineStats, links: &Links) -> Markup {
    let open = stats.counts.open + stats.counts.contacted + stats.counts.qualified + stats.counts.proposal;
    let win_rate = stats.win_rate.map_or_else(|| "–".to_owned(), percent);
    let closed = format!("{} won, {} lost", stats.counts.won, stats.counts.lost);
    html! {
        section aria-labelledby="figures-heading" {
            h2 #figures-heading.visually-hidden { "Figures" }
            ul.tiles {
                (tile("Open pipeline", &money(stats.total_value), "total-value", &format!("{open} open {}", leads(open)), &links.stages(&IN_PIPELINE)))
                (tile("Weighted value", &money(stats.weighted_value), "weighted-value", "value × probability", &links.stages(&IN_PIPELINE)))
                (tile("Follow-ups due", &stats.needs_follow_up.to_string(), "needs-follow-up", "today or overdue",
                    &links.to(&[("follow_up_due", "true"), ("sort", "follow_up_date")])))
                (tile("Win rate", &win_rate, "win-rate", &closed, &links.stages(&[Status::Won, Status::Lost])))
                (tile("All leads", &stats.total.to_string(), "total", "every stage", &links.to(&[])))
            }
        }
    }
}

fn tile(name: &str, figure: &str, key: &str, detail: &str, href: &str) -> Markup {
    html! {
        li.tile {
            a href=(href) {
                span.tile-name { (name) }
                span.tile-figure.money data-stat=(key) { (figure) }
                span.tile-detail.small { (detail) }
            }
        }
    }
}

fn percent(rate: f64) -> String {
    format!("{:.0}%", rate * 100.0)
}

fn follow_up_section(session: &WebSession, leads: &[OpportunityView], due: Total, today: Day) -> Markup {
    let all = format!("/leads?assigned_to={}&follow_up_due=true&sort=follow_up_date", session.staff_id);
    let overdue: Vec<&OpportunityView> =
        leads.iter().filter(|view| matches!(follow_up_of(view, today), FollowUp::Overdue { .. })).collect();
    let due_today: Vec<&OpportunityView> = leads.iter().filter(|view| follow_up_of(view, today) == FollowUp::Today).collect();
    html! {
        section.panel.follow-ups aria-labelledby="follow-ups-heading" {
            h2 #follow-ups-heading { "My follow-ups" }
            @if leads.is_empty() {
                p { "Nothing due today. " a href="/board" { "Open the board" } }
            }
            @if !overdue.is_empty() {
                h3 #overdue-heading { "Overdue" }
                ul.follow-up-list aria-labelledby="overdue-heading" { @for view in overdue { (follow_up_item(view, today)) } }
            }
            @if !due_today.is_empty() {
                h3 #today-heading { "Today" }
                ul.follow-up-list aria-labelledby="today-heading" { @for view in due_today { (follow_up_item(view, today)) } }
            }
            @if due.count > leads.len() as i64 {
                p { a href=(all) { "All " (due.count) @if !due.exact { "+" } " follow-ups due" } }
            }
        }
    }
}

fn follow_up_of(view: &OpportunityView, today: Day) -> FollowUp {
    FollowUp::of(view.opportunity.follow_up_day, view.opportunity.stage.status(), today)
}

fn follow_up_item(view: &OpportunityView, today: Day) -> Markup {
    let lead = &view.opportunity;
    let who = view.client.as_ref().map(|client| client.name.as_str()).or(lead.prospect_name.as_deref());
    let phone = lead.prospect_phone.as_deref();
    html! {
        li data-id=(lead.id) {
            a href={ "/leads/" (lead.id) } { (lead.title) }
            " " (follow_up_of(view, today).chip())
            @if let Some(who) = who { br; span.small.muted { (who) } }
            @if let Some(phone) = phone { " · " a.small href={ "tel:" (phone) } { (phone) } }
        }
    }
}

/// One bar of a chart: what it stands for, its length, the figure written beside it, and a
/// class for its colour.
struct Bar {
    name: String,
    length: i64,
    figure: String,
    class: String,
}

/// A horizontal bar chart drawn on the server: each bar under its name, its figure at the right.
/// An image to assistive technology, named by its title; the table beside it has the numbers.
fn bar_chart(id: &str, title: &str, bars: &[Bar]) -> Markup {
    const WIDTH: i64 = 320;
    const ROW: i64 = 40;
    let longest = bars.iter().map(|bar| bar.length).max().unwrap_or(0).max(1);
    let height = ROW * bars.len().max(1) as i64;
    let title_id = format!("{id}-title");
    html! {
        svg.chart #(id) role="img" aria-labelledby=(title_id) viewBox={ "0 0 " (WIDTH) " " (height) } xmlns="http://www.w3.org/2000/svg" {
            title #(title_id) { (title) }
            @for (index, bar) in bars.iter().enumerate() {
                @let top = index as i64 * ROW;
                @let length = (bar.length * WIDTH / longest).max(if bar.length > 0 { 2 } else { 0 });
                g {
                    text x="0" y=(top + 14) { (clipped(&bar.name)) }
                    text x=(WIDTH) y=(top + 14) text-anchor="end" { (bar.figure) }
                    rect.track x="0" y=(top + 20) width=(WIDTH) height="12" rx="2" {}
                    rect class={ "bar " (bar.class) } x="0" y=(top + 20) width=(length) height="12" rx="2" {}
                }
            }
        }
    }
}

/// A name short enough for a chart's row; the table beside it has it whole.
fn clipped(name: &str) -> String {
    const LONGEST: usize = 22;
    if name.chars().count() <= LONGEST { name.to_owned() } else { format!("{}…", name.chars().take(LONGEST - 1).collect::<String>()) }
}

fn stage_section(stages: &[StageTotals], links: &Links) -> Markup {
    let bars: Vec<Bar> = stages
        .iter()
        .map(|stage| Bar {
            name: label(stage.status).to_owned(),
            length: stage.count,
            figure: format!("{} · {}", stage.count, money(stage.value)),
            class: format!("stage-{}", stage.status.as_str()),
        })
        .collect();
    html! {
        section.panel aria-labelledby="stages-heading" {
            h2 #stages-heading { "Leads per stage" }
            div.chart-and-table {
                (bar_chart("stages-chart", "Bar chart of leads per stage; the table beside it has the figures", &bars))
                div.table-scroll role="region" aria-labelledby="stages-caption" tabindex="0" {
                    table {
                        caption #stages-caption.visually-hidden { "Leads, value and weighted value per stage" }
                        thead {
                            tr { th scope="col" { "Stage" } th.number scope="col" { "Leads" } th.number scope="col" { "Value" } th.number scope="col" { "Weighted" } }
                        }
                        tbody {
                            @for stage in stages {
                                tr {
                                    th scope="row" { a href=(links.stages(&[stage.status])) { (label(stage.status)) } }
                                    td.number data-stat={ "count-" (stage.status.as_str()) } { (stage.count) }
                                    td.number data-stat={ "value-" (stage.status.as_str()) } { (money(stage.value)) }
                                    td.number { (money(stage.weighted_value)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The charted sources: the first [`SOURCES_CHARTED`] (most leads first, as the stats order
/// them), then the rest summed.
fn charted_sources(sources: &[SourceStats]) -> Vec<SourceStats> {
    let mut charted: Vec<SourceStats> = sources.iter().take(SOURCES_CHARTED).cloned().collect();
    let rest = &sources[charted.len()..];
    if !rest.is_empty() {
        let (won, lost) = (rest.iter().map(|s| s.won).sum::<i64>(), rest.iter().map(|s| s.lost).sum::<i64>());
        charted.push(SourceStats {
            source: Some(format!("Other sources ({})", rest.len())),
            total: rest.iter().map(|s| s.total).sum(),
            won,
            lost,
            win_rate: (won + lost > 0).then(|| won as f64 / (won + lost) as f64),
            won_value: Money::from_cents(rest.iter().map(|s| s.won_value.cents()).sum()),
        });
    }
    charted
}

fn source_section(sources: &[SourceStats], links: &Links) -> Markup {
    let charted = charted_sources(sources);
    let named = |source: &SourceStats| source.source.clone().unwrap_or_else(|| "No source".to_owned());
    let bars: Vec<Bar> = charted
        .iter()
        .map(|source| Bar {
            name: named(source),
            length: source.total,
            figure: format!("{} · {} won", source.total, source.win_rate.map_or_else(|| "–".to_owned(), percent)),
            class: "source".to_owned(),
        })
        .collect();
    html! {
        section.panel aria-labelledby="sources-heading" {
            h2 #sources-heading { "Leads by source" }
            @if sources.is_empty() {
                p { "No leads yet." }
            } @else {
                div.chart-and-table {
                    (bar_chart("sources-chart", "Bar chart of leads by source; the table beside it has the figures", &bars))
                    div.table-scroll role="region" aria-labelledby="sources-caption" tabindex="0" {
                        table {
                            caption #sources-caption.visually-hidden { "Leads, wins, losses and won value by source" }
                            thead {
                                tr {
                                    th scope="col" { "Source" } th.number scope="col" { "Leads" } th.number scope="col" { "Won" }
                                    th.number scope="col" { "Lost" } th.number scope="col" { "Win rate" } th.number scope="col" { "Won value" }
                                }
                            }
                            tbody {
                                @for (index, source) in charted.iter().enumerate() {
                                    tr {
                                        th scope="row" {
                                            // The summed rest has no single source to list.
                                            @match (&source.source, index < SOURCES_CHARTED) {
                                                (Some(name), true) => a href=(links.to(&[("source", name)])) { (name) },
                                                _ => (named(source)),
                                            }
                                        }
                                        td.number { (source.total) }
                                        td.number { (source.won) }
                                        td.number { (source.lost) }
                                        td.number { (source.win_rate.map_or_else(|| "–".to_owned(), percent)) }
                                        td.number { (money(source.won_value)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
