//! How the lead page looks: the header with the stage stepper, the contact card, closing,
//! the edit form, the activity timeline, the notes and the stage history; and the page that
//! confirms a delete.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::activity::{Activity, ActivityType, EMBEDDED_LATEST, Note};
use domain::duplicates::{MatchedOn, PossibleDuplicate, RecordKind};
use domain::opportunity::{OpportunityView, StageSpan, Status};
use domain::query::Page;
use domain::session::WebSession;
use domain::{FieldErrors, Timestamp};
use maud::{Markup, html};
use store::service;
use uuid::Uuid;

use super::{ActivityForm, CloseForm, EditForm, NoteForm, Notice, Offsets, Refused, Shown};
use crate::WebState;
use crate::assets::NOTICE_SCRIPT;
use crate::board::ago;
use crate::lead_fields::{Choices, FieldSet, option_text};
use crate::pages::label;
use crate::pages::{Section, csrf_field, error_page, sentence, staff_page};

/// Stage history entries the page shows: the latest ones.
const HISTORY_SHOWN: i64 = 50;

/// The activity types a person logs (status changes are the service's own; notes have their box).
const LOGGED_TYPES: [(ActivityType, &str); 5] = [
    (ActivityType::Call, "Call"),
    (ActivityType::Email, "E-mail"),
    (ActivityType::Meeting, "Meeting"),
    (ActivityType::Task, "Task"),
    (ActivityType::Other, "Other"),
];

/// The stages a lead is worked in, in order; won, lost and stale are shown when it is in them.
const WORKING_STAGES: [Status; 4] = [Status::Open, Status::Contacted, Status::Qualified, Status::Proposal];

/// A page of notes or activities: the newest come with the lead; older ones are read a page at
/// a time.
fn page_at(offset: i64) -> Page {
    Page { limit: EMBEDDED_LATEST, offset }
}

/// What the page shows, read through the use cases.
struct Lead {
    view: OpportunityView,
    notes: Vec<Note>,
    activities: Vec<Activity>,
    offsets: Offsets,
    history: Vec<StageSpan>,
    history_total: i64,
    names: HashMap<Uuid, String>,
    choices: Choices,
    /// The open leads and clients that may be the same person, each with its title or name.
    duplicates: Vec<(PossibleDuplicate, String)>,
}

impl Lead {
    fn name_of(&self, id: Option<Uuid>) -> &str {
        id.and_then(|id| self.names.get(&id)).map_or("the system", String::as_str)
    }
}

async fn load(state: &WebState, session: &WebSession, id: Uuid, offsets: Offsets) -> domain::Result<Lead> {
    let store = state.store.as_ref();
    let actor = session.actor();
    let detail = service::opportunity(store, &actor, id).await?;
    let notes = match offsets.notes {
        0 => detail.notes,
        offset => service::notes(store, &actor, id, page_at(offset)).await?.0,
    };
    let activities = match offsets.activities {
        0 => detail.activities,
        offset => service::activities(store, &actor, id, page_at(offset)).await?.0,
    };
    let latest = Page { limit: HISTORY_SHOWN, offset: 0 };
    let (mut history, history_total) = service::stage_history(store, &actor, id, latest).await?;
    if history_total > HISTORY_SHOWN {
        history = service::stage_history(store, &actor, id, Page { offset: history_total - HISTORY_SHOWN, ..latest }).await?.0;
    }
    let names = store.staff_members(session.org_id).await?.into_iter().map(|member| (member.id, member.name)).collect();
    let choices = Choices::load(state, session.org_id, Some(&detail.view)).await;
    let duplicates = named_duplicates(state, session, &detail.view).await?;
    Ok(Lead { view: detail.view, notes, activities, offsets, history, history_total, names, choices, duplicates })
}

/// The lead's possible duplicates, each with the title of the lead or the name of the client (a
/// record deleted since the look-up is left out).
async fn named_duplicates(
    state: &WebState,
    session: &WebSession,
    view: &OpportunityView,
) -> domain::Result<Vec<(PossibleDuplicate, String)>> {
    let store = state.store.as_ref();
    let mut named = Vec::new();
    for duplicate in service::possible_duplicates(store, &session.actor(), &view.opportunity).await? {
        let name = match duplicate.kind {
            RecordKind::Opportunity => store.opportunity_view(session.org_id, duplicate.id).await?.map(|lead| lead.opportunity.title),
            RecordKind::Client => store.client(session.org_id, duplicate.id).await?.map(|client| client.name),
        };
        if let Some(name) = name {
            named.push((duplicate, name));
        }
    }
    Ok(named)
}

/// The page with `status`, or the error page when the lead cannot be read (another
/// organization's lead is "not found", like a missing one).
pub(super) async fn respond(
    state: &WebState,
    session: &WebSession,
    id: Uuid,
    status: StatusCode,
    shown: Shown,
    offsets: Offsets,
) -> Response {
    match load(state, session, id, offsets).await {
        Ok(lead) => (status, render(session, &lead, &shown)).into_response(),
        Err(error) => error_page(&error),
    }
}

fn render(session: &WebSession, lead: &Lead, shown: &Shown) -> Markup {
    let opportunity = &lead.view.opportunity;
    let status = opportunity.stage.status();
    let main = html! {
        nav.breadcrumb aria-label="Breadcrumb" {
            ol { li { a href="/board" { "Board" } } li { span aria-current="page" { (opportunity.title) } } }
        }
        h1 { (opportunity.title) }
        (stepper(status))
        div.actions.lead-actions {
            a.button href="#log-activity" { "Log activity" }
            @if !status.is_closed() { a.button href="#close-lead" { "Close won or lost" } }
            a.button.danger href={ "/leads/" (opportunity.id) "/delete" } { "Delete" }
        }
        @if let Some(notice) = &shown.notice { (notice_of(notice, lead)) }
        div.lead {
            div.lead-rail {
                (contact(session, lead))
                @if !lead.duplicates.is_empty() { (possible_duplicates(lead)) }
                (outcome(session, lead, shown.close.as_ref()))
                (details(session, lead, shown.edit.as_ref()))
            }
            div.lead-main {
                (activity(session, lead, shown.activity.as_ref()))
                (notes(session, lead, shown.note.as_ref()))
                (history(lead))
            }
        }
    };
    staff_page(&opportunity.title, session, Section::Lead, main, &[&NOTICE_SCRIPT])
}

/// The stages in order, the lead's marked; words, not colour alone.
fn stepper(current: Status) -> Markup {
    let extra = (!WORKING_STAGES.contains(&current)).then_some(current);
    html! {
        ol.stepper aria-label="Stage" {
            @for stage in WORKING_STAGES.into_iter().chain(extra) {
                @if stage == current {
                    li.current aria-current="step" data-stage=(stage.as_str()) { (label(stage)) span.visually-hidden { " (current stage)" } }
                } @else {
                    li data-stage=(stage.as_str()) { (label(stage)) }
                }
            }
        }
    }
}

fn notice_of(notice: &Notice, lead: &Lead) -> Markup {
    match notice {
        Notice::Done(done) => match done_message(done, &lead.view) {
            Some(message) => html! { p.panel.notice #notice data-announce { (message) } },
            None => html! {},
        },
        Notice::Changed { what_failed, typed } => {
            let differences = typed.as_deref().map(|typed| differences(typed, lead)).unwrap_or_default();
            html! {
                div.error-summary #notice role="alert" tabindex="-1" data-focus data-announce="urgent" {
                    p {
                        (what_failed) ": this lead was changed by someone else after you opened the page (last change "
                        (ago(lead.view.opportunity.updated_at)) "). The page now shows the lead as it is."
                    }
                    @if !differences.is_empty() {
                        table.differences {
                            caption { "Where your form differs from the lead as it is now" }
                            thead { tr { th scope="col" { "Field" } th scope="col" { "Yours (not saved)" } th scope="col" { "Now" } } }
                            tbody {
                                @for (field, yours, now) in &differences {
                                    tr { th scope="row" { (field) } td { (yours) } td { (now) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        Notice::Refused(message) => html! {
            div.error-summary #notice role="alert" tabindex="-1" data-focus data-announce="urgent" { (sentence(message)) }
        },
    }
}

/// What a post that worked did, by the flag it redirected with.
fn done_message(done: &str, view: &OpportunityView) -> Option<String> {
    let client = view.client.as_ref().map_or("", |client| client.name.as_str());
    Some(match done {
        "saved" => "Changes saved.".to_owned(),
        "unchanged" => "Nothing to save: the form matched the lead.".to_owned(),
        "note" => "Note added.".to_owned(),
        "activity" => "Activity logged.".to_owned(),
        "won" => "Closed as won.".to_owned(),
        "lost" => "Closed as lost.".to_owned(),
        "client-created" => format!("Converted: a new client, {client}, was created from this lead."),
        "merged" => "Merged: the other lead's notes, activities and history are now this lead's.".to_owned(),
        "client-linked" => format!("Converted: linked to the existing client {client}, who has the same e-mail."),
        _ => return None,
    })
}

/// The fields where a refused edit differs from the lead as it now is.
fn differences(typed: &EditForm, lead: &Lead) -> Vec<(&'static str, String, String)> {
    let now = EditForm::of(&lead.view);
    let mut differences = typed.fields.differences(&now.fields, &lead.choices);
    if typed.status.trim() != now.status {
        let stages = stage_options(Status::Open);
        differences.push(("Stage", option_text(&stages, &typed.status), option_text(&stages, &now.status)));
    }
    if typed.probability.trim() != now.probability {
        differences.push(("Probability (%)", option_text(&[], &typed.probability), now.probability));
    }
    differences
}

/// Every stage as a select offers it; the edit form offers the working stages and stale, and
/// the lead's own stage (closing has its own forms, which ask for the sale or the reason).
fn stage_options(current: Status) -> Vec<(String, String)> {
    Status::ALL
        .into_iter()
        .filter(|&stage| !stage.is_closed() || stage == current)
        .map(|stage| (stage.as_str().to_owned(), label(stage).to_owned()))
        .collect()
}

fn section(id: &str, title: &str, body: Markup) -> Markup {
    html! {
        section.panel id=(id) aria-labelledby={ (id) "-title" } {
            h2 id={ (id) "-title" } { (title) }
            (body)
        }
    }
}

fn contact(session: &WebSession, lead: &Lead) -> Markup {
    let opportunity = &lead.view.opportunity;
    let body = html! {
        @if let Some(name) = &opportunity.prospect_name { p.contact-name { (name) } }
        @if let Some(phone) = &opportunity.prospect_phone { p { "Phone: " a href={ "tel:" (phone) } { (phone) } } }
        @if let Some(email) = &opportunity.prospect_email { p { "E-mail: " a href={ "mailto:" (email) } { (email) } } }
        @match &lead.view.client {
            Some(client) => {
                p { "Client: " strong.client-name { (client.name) } }
                @if let Some(email) = &client.email { p.small { "Client e-mail: " a href={ "mailto:" (email) } { (email) } } }
            }
            None => {
                form method="post" action={ "/leads/" (opportunity.id) "/convert" } {
                    (csrf_field(session))
                    input type="hidden" name="version" value=(opportunity.version);
                    button type="submit" { "Convert to client" }
                }
                p.small.muted { "Creates a client from the name, e-mail and phone, or links the client who has the same e-mail." }
            }
        }
    };
    section("contact", "Contact", body)
}

/// Who else this person may be: links to the leads (each with a merge into this one, asked
/// first on its own page, like a delete) and the clients.
fn possible_duplicates(lead: &Lead) -> Markup {
    let id = lead.view.opportunity.id;
    let matched = |duplicate: &PossibleDuplicate| -> String {
        let keys: Vec<&str> = duplicate.matched_on.iter().map(|key| if *key == MatchedOn::Email { "e-mail" } else { "phone" }).collect();
        format!("same {}", keys.join(" and "))
    };
    let body = html! {
        p.small.muted { "Open leads and clients with the same e-mail or phone number." }
        ul {
            @for (duplicate, name) in &lead.duplicates {
                li {
                    @match duplicate.kind {
                        RecordKind::Opportunity => {
                            "Lead " a href={ "/leads/" (duplicate.id) } { (name) } " (" (matched(duplicate)) ") "
                            a.button href={ "/leads/" (id) "/merge?from=" (duplicate.id) } { "Merge into this lead" }
                        }
                        RecordKind::Client => { "Client " strong { (name) } " (" (matched(duplicate)) ")" }
                    }
                }
            }
        }
    };
    section("duplicates", "Possible duplicates", body)
}

fn outcome(session: &WebSession, lead: &Lead, refused: Option<&Refused<CloseForm>>) -> Markup {
    let opportunity = &lead.view.opportunity;
    let stage = &opportunity.stage;
    if stage.status().is_closed() {
        let body = html! {
            p {
                strong { (label(stage.status())) }
                @if let Some(at) = stage.closed_at() { " on " (when(at)) }
                "."
            }
            @if let Some(reason) = stage.closed_reason() { p { "Reason: " (reason) } }
            @if let Some(sale) = stage.transaction_id() { p.small { "Sale: " code { (sale) } } }
            p.small.muted { "To reopen it, choose another stage under Details and save." }
        };
        return section("close-lead", "Outcome", body);
    }
    let no_errors = FieldErrors::default();
    let (typed, errors) = match refused {
        Some(refused) => (&refused.form, &refused.errors),
        None => (&CloseForm::default(), &no_errors),
    };
    let close_form = |outcome: &str, button: &str| {
        let typed = (typed.outcome == outcome).then_some(typed);
        let set =
            FieldSet { prefix: if outcome == "won" { "won-" } else { "lost-" }, errors: if typed.is_some() { errors } else { &no_errors } };
        let field = if outcome == "won" {
            set.input("transaction_id", "Sale id (optional)", "text", typed.map_or("", |typed| &typed.transaction_id), false)
        } else {
            set.input("reason", "Why was it lost?", "text", typed.map_or("", |typed| &typed.reason), true)
        };
        html! {
            form method="post" action={ "/leads/" (opportunity.id) "/close" } novalidate {
                (csrf_field(session))
                input type="hidden" name="outcome" value=(outcome);
                input type="hidden" name="version" value=(opportunity.version);
                (set.summary("The lead was not closed"))
                (field)
                button.primary type="submit" { (button) }
            }
        }
    };
    let body = html! {
        h3 { "Won" }
        (close_form("won", "Close as won"))
        h3 { "Lost" }
        (close_form("lost", "Close as lost"))
    };
    section("close-lead", "Close", body)
}

fn details(session: &WebSession, lead: &Lead, refused: Option<&Refused<EditForm>>) -> Markup {
    let opportunity = &lead.view.opportunity;
    let stage = &opportunity.stage;
    let no_errors = FieldErrors::default();
    let current = EditForm::of(&lead.view);
    let (form, errors) = refused.map_or((&current, &no_errors), |refused| (&refused.form, &refused.errors));
    let set = FieldSet { prefix: "", errors };
    let body = html! {
        (set.summary("The changes were not saved"))
        form method="post" action={ "/leads/" (opportunity.id) } novalidate {
            (csrf_field(session))
            input type="hidden" name="version" value=(form.version);
            (set.select("status", "Stage", &stage_options(stage.status()), &form.status))
            @if let Some(sale) = stage.transaction_id() {
                div.field.checkbox {
                    input #unlink_sale type="checkbox" name="unlink_sale" value="yes" checked[form.unlink_sale.is_some()];
                    label for="unlink_sale" { "Unlink the sale " code { (sale) } " (needed to move the lead out of Won)" }
                }
            }
            (set.input("probability", "Probability (%)", "number", &form.probability, true))
            (form.fields.draw(&set, &lead.choices))
            div.actions { button.primary type="submit" { "Save changes" } }
        }
        dl.facts.small {
            dt { "Created" } dd { (when(opportunity.created_at)) " by " (lead.name_of(Some(opportunity.created_by))) }
            dt { "Last changed" } dd { (when(opportunity.updated_at)) }
        }
    };
    section("details", "Details", body)
}

fn activity(session: &WebSession, lead: &Lead, refused: Option<&Refused<ActivityForm>>) -> Markup {
    let id = lead.view.opportunity.id;
    let no_errors = FieldErrors::default();
    let blank = ActivityForm { activity_type: "call".into(), ..ActivityForm::default() };
    let (form, errors) = refused.map_or((&blank, &no_errors), |refused| (&refused.form, &refused.errors));
    let set = FieldSet { prefix: "activity-", errors };
    let types: Vec<(String, String)> = LOGGED_TYPES.iter().map(|(kind, label)| (kind.as_str().to_owned(), (*label).to_owned())).collect();
    let body = html! {
        form #log-activity method="post" action={ "/leads/" (id) "/activities" } novalidate {
            (csrf_field(session))
            (set.summary("The activity was not logged"))
            (set.select("activity_type", "Type", &types, &form.activity_type))
            (set.textarea("description", "Description", &form.description, true))
            (set.input("outcome", "Outcome", "text", &form.outcome, false))
            (set.input("scheduled_at", "Scheduled for (UTC, optional)", "datetime-local", &form.scheduled_at, false))
            button.primary type="submit" { "Log activity" }
        }
        @if lead.activities.is_empty() { p.muted { "Nothing logged yet." } }
        ol.timeline aria-label="Activity, newest first" {
            @for entry in &lead.activities {
                li.entry data-type=(entry.activity_type.as_str()) {
                    p {
                        span.chip.info { (type_label(entry.activity_type)) } " "
                        (entry.description)
                    }
                    @if let Some(outcome) = &entry.outcome { p { "Outcome: " (outcome) } }
                    @if let Some(at) = entry.scheduled_at { p { span.chip { "Scheduled for " (when(at)) } } }
                    p.small.muted { (lead.name_of(Some(entry.created_by))) ", " (when(entry.created_at)) }
                }
            }
        }
        (pager(id, "activities_offset", lead.offsets.activities, lead.activities.len(), lead.view.activities_count, "activity", "activity"))
    };
    section("activity", "Activity", body)
}

fn type_label(kind: ActivityType) -> &'static str {
    match kind {
        ActivityType::StatusChange => "Stage change",
        ActivityType::Note => "Note",
        other => LOGGED_TYPES.iter().find(|(kind, _)| *kind == other).map_or("Other", |(_, label)| label),
    }
}

fn notes(session: &WebSession, lead: &Lead, refused: Option<&Refused<NoteForm>>) -> Markup {
    let id = lead.view.opportunity.id;
    let no_errors = FieldErrors::default();
    let blank = NoteForm::default();
    let (form, errors) = refused.map_or((&blank, &no_errors), |refused| (&refused.form, &refused.errors));
    let set = FieldSet { prefix: "note-", errors };
    let body = html! {
        form method="post" action={ "/leads/" (id) "/notes" } novalidate {
            (csrf_field(session))
            (set.summary("The note was not added"))
            (set.textarea("content", "New note", &form.content, true))
            button.primary type="submit" { "Add note" }
        }
        @if lead.notes.is_empty() { p.muted { "No notes yet." } }
        ol.notes aria-label="Notes, newest first" {
            @for note in &lead.notes {
                li.entry {
                    p.note-content { (note.content) }
                    p.small.muted { (lead.name_of(Some(note.created_by))) ", " (when(note.created_at)) }
                }
            }
        }
        (pager(id, "notes_offset", lead.offsets.notes, lead.notes.len(), lead.view.notes_count, "notes", "notes"))
    };
    section("notes", "Notes", body)
}

/// "Show older" and "Show newest" for a list that is read a page at a time.
fn pager(id: Uuid, parameter: &str, offset: i64, shown: usize, total: i64, what: &str, anchor: &str) -> Markup {
    let next = offset + shown as i64;
    html! {
        @if offset > 0 || next < total {
            p.actions.pager {
                @if offset > 0 { a href={ "/leads/" (id) "#" (anchor) } { "Show the newest " (what) } }
                @if next < total { a href={ "/leads/" (id) "?" (parameter) "=" (next) "#" (anchor) } { "Show older " (what) " (" (total - next) " more)" } }
            }
        }
    }
}

fn history(lead: &Lead) -> Markup {
    let hidden = lead.history_total - lead.history.len() as i64;
    let body = html! {
        @if hidden > 0 { p.small.muted { "The latest " (lead.history.len()) " stages; " (hidden) " earlier ones are not shown." } }
        div.table-scroll tabindex="0" role="region" aria-label="Stage history, oldest first" {
        table {
            caption.visually-hidden { "Stages this lead was in, oldest first, with the time spent in each" }
            thead { tr { th scope="col" { "Stage" } th scope="col" { "Entered" } th scope="col" { "Left" } th scope="col" { "Time in stage" } th scope="col" { "Moved by" } } }
            tbody {
                @for span in &lead.history {
                    tr {
                        th scope="row" { (label(span.status)) }
                        td { (when(span.entered_at)) }
                        td { @match span.left_at { Some(at) => (when(at)), None => "Still there" } }
                        td.number { (duration(span.seconds_in_stage)) }
                        td { (lead.name_of(span.changed_by)) }
                    }
                }
            }
        }
        }
    };
    section("history", "Stage history", body)
}

/// Whole seconds as the two largest units that matter to a person: "3 d 4 h", "2 h 5 min".
fn duration(seconds: i64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, seconds % 86_400 / 3_600, seconds % 3_600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => "under a minute".to_owned(),
        (0, 0, minutes) => format!("{minutes} min"),
        (0, hours, minutes) => format!("{hours} h {minutes} min"),
        (days, hours, _) => format!("{days} d {hours} h"),
    }
}

/// A time as people read it, in UTC like every time the service shows, machine-readable too.
fn when(at: Timestamp) -> Markup {
    let format =
        time::macros::format_description!("[weekday repr:short] [day padding:none] [month repr:short] [year], [hour]:[minute] UTC");
    html! { time datetime=(at.to_string()) { (at.datetime().format(&format).unwrap_or_default()) } }
}

/// The page that asks before merging the lead `from` into `into`; the merge is its form's post.
pub(super) fn confirm_merge(session: &WebSession, into: &OpportunityView, from: &OpportunityView) -> Markup {
    let (kept, merged) = (&into.opportunity, &from.opportunity);
    let main = html! {
        div.narrow.panel {
            h1 { "Merge “" (merged.title) "” into “" (kept.title) "”?" }
            p {
                "Its " (from.notes_count) " note(s), " (from.activities_count) " activity entries and its stage history move to “"
                (kept.title) "”; its details fill the fields “" (kept.title) "” leaves empty, and it is then deleted. "
                "“" (kept.title) "” keeps its stage. This cannot be undone."
            }
            form method="post" action={ "/leads/" (kept.id) "/merge" } {
                (csrf_field(session))
                input type="hidden" name="version" value=(kept.version);
                input type="hidden" name="from_id" value=(merged.id);
                div.actions {
                    button.danger type="submit" { "Merge and delete “" (merged.title) "”" }
                    a href={ "/leads/" (kept.id) } { "Cancel" }
                }
            }
        }
    };
    staff_page("Merge leads", session, Section::Lead, main, &[])
}

/// The page that asks before deleting; the delete itself is its form's post.
pub(super) fn confirm_delete(session: &WebSession, view: &OpportunityView) -> Markup {
    let opportunity = &view.opportunity;
    let main = html! {
        div.narrow.panel {
            h1 { "Delete “" (opportunity.title) "”?" }
            p {
                "Its " (view.notes_count) " note(s), " (view.activities_count)
                " activity entries and its stage history are deleted with it. This cannot be undone."
            }
            form method="post" action={ "/leads/" (opportunity.id) "/delete" } {
                (csrf_field(session))
                input type="hidden" name="version" value=(opportunity.version);
                div.actions {
                    button.danger type="submit" { "Delete this lead" }
                    a href={ "/leads/" (opportunity.id) } { "Cancel, keep it" }
                }
            }
        }
    };
    staff_page("Delete lead", session, Section::Lead, main, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_their_two_largest_units() {
        let read: Vec<String> = [0, 59, 60, 3_599, 3_600 + 300, 86_400 * 3 + 3_600 * 4 + 59].into_iter().map(duration).collect();
        assert_eq!(read, ["under a minute", "under a minute", "1 min", "59 min", "1 h 5 min", "3 d 4 h"]);
    }
}
