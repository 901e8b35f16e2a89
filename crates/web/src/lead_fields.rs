//! A lead's fields as its forms show them, shared by the new-lead form and the lead page: each
//! drawn with its label and its error beside it, and read back from the typed text. A value that
//! does not read as its type (an amount, a date) is reported together with the domain's own
//! findings, through [`Input::new`].

use domain::opportunity::{CreateOpportunity, OpportunityView, UpdateOpportunity};
use domain::{FieldErrors, Input, Money, Patch, Timestamp};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use crate::WebState;
use crate::pages::SOURCES;
use crate::pages::sentence;

/// The fields the new-lead form and the lead page's edit form share, as typed: every field text.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct LeadFields {
    pub title: String,
    pub prospect_name: String,
    pub prospect_email: String,
    pub prospect_phone: String,
    pub category_id: String,
    pub estimated_value: String,
    pub source: String,
    pub assigned_to: String,
    /// `YYYY-MM-DDTHH:MM` from a `datetime-local` input, taken as UTC.
    pub follow_up_date: String,
    pub description: String,
}

impl LeadFields {
    /// The lead's fields as the edit form shows them.
    pub fn of(view: &OpportunityView) -> LeadFields {
        let lead = &view.opportunity;
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        LeadFields {
            title: lead.title.clone(),
            prospect_name: text(&lead.prospect_name),
            prospect_email: text(&lead.prospect_email),
            prospect_phone: text(&lead.prospect_phone),
            category_id: lead.category_id.map(|id| id.to_string()).unwrap_or_default(),
            estimated_value: lead.estimated_value.map(|value| value.to_string()).unwrap_or_default(),
            source: text(&lead.source),
            assigned_to: lead.assigned_to.map(|id| id.to_string()).unwrap_or_default(),
            follow_up_date: lead.follow_up_date.map(local_time_value).unwrap_or_default(),
            description: text(&lead.description),
        }
    }

    /// The typed text as the create use case's input: blank fields are left out.
    pub fn create_input(&self) -> Input<CreateOpportunity> {
        let mut reader = Reader::default();
        let fields = CreateOpportunity {
            title: text(&self.title),
            prospect_name: text(&self.prospect_name),
            prospect_email: text(&self.prospect_email),
            prospect_phone: text(&self.prospect_phone),
            category_id: reader.category(&self.category_id),
            estimated_value: reader.amount(&self.estimated_value),
            source: text(&self.source),
            assigned_to: reader.owner(&self.assigned_to),
            follow_up_date: reader.date_time("follow_up_date", &self.follow_up_date),
            description: text(&self.description),
            ..CreateOpportunity::default()
        };
        Input::new(fields, reader.unreadable)
    }

    /// The fields of `update` for what the typed text changes from `current` (the lead as the
    /// form showed it): only those, so that an untouched field is not sent as if someone chose
    /// it. Blank text clears a field; text that does not read is noted in `reader`.
    pub fn changes(&self, current: &LeadFields, reader: &mut Reader, update: &mut UpdateOpportunity) {
        let changed = |typed: &str, shown: &str| typed.trim() != shown.trim();
        let cleared_or = |value: &str| text(value).map_or(Patch::Null, Patch::Value);
        if changed(&self.title, &current.title) {
            update.title = Patch::Value(self.title.trim().to_owned());
        }
        if changed(&self.prospect_name, &current.prospect_name) {
            update.prospect_name = cleared_or(&self.prospect_name);
        }
        if changed(&self.prospect_email, &current.prospect_email) {
            update.prospect_email = cleared_or(&self.prospect_email);
        }
        if changed(&self.prospect_phone, &current.prospect_phone) {
            update.prospect_phone = cleared_or(&self.prospect_phone);
        }
        if changed(&self.category_id, &current.category_id) {
            update.category_id = reader.patch(&self.category_id, |reader| reader.category(&self.category_id));
        }
        if changed(&self.estimated_value, &current.estimated_value) {
            update.estimated_value = reader.patch(&self.estimated_value, |reader| reader.amount(&self.estimated_value));
        }
        if changed(&self.source, &current.source) {
            update.source = cleared_or(&self.source);
        }
        if changed(&self.assigned_to, &current.assigned_to) {
            update.assigned_to = reader.patch(&self.assigned_to, |reader| reader.owner(&self.assigned_to));
        }
        if changed(&self.follow_up_date, &current.follow_up_date) {
            update.follow_up_date = reader.patch(&self.follow_up_date, |reader| reader.date_time("follow_up_date", &self.follow_up_date));
        }
        if changed(&self.description, &current.description) {
            update.description = cleared_or(&self.description);
        }
    }

    /// Where this typed text differs from `now` (the lead as it now is), as `(label, typed,
    /// now)` in the words the form shows.
    pub fn differences(&self, now: &LeadFields, choices: &Choices) -> Vec<(&'static str, String, String)> {
        let pairs = [
            ("title", &self.title, &now.title),
            ("prospect_name", &self.prospect_name, &now.prospect_name),
            ("prospect_phone", &self.prospect_phone, &now.prospect_phone),
            ("prospect_email", &self.prospect_email, &now.prospect_email),
            ("category_id", &self.category_id, &now.category_id),
            ("estimated_value", &self.estimated_value, &now.estimated_value),
            ("source", &self.source, &now.source),
            ("assigned_to", &self.assigned_to, &now.assigned_to),
            ("follow_up_date", &self.follow_up_date, &now.follow_up_date),
            ("description", &self.description, &now.description),
        ];
        pairs
            .into_iter()
            .filter(|(_, typed, now)| typed.trim() != now.trim())
            .map(|(name, typed, now)| (label(name), choices.words(name, typed), choices.words(name, now)))
            .collect()
    }

    /// The fields, in the order a person fills them in; `required` marks the title and name.
    pub fn draw(&self, set: &FieldSet, choices: &Choices) -> Markup {
        html! {
            (set.input("title", label("title"), "text", &self.title, true))
            (set.input("prospect_name", label("prospect_name"), "text", &self.prospect_name, true))
            (set.input("prospect_phone", label("prospect_phone"), "tel", &self.prospect_phone, false))
            (set.input("prospect_email", label("prospect_email"), "email", &self.prospect_email, false))
            (set.select("category_id", label("category_id"), &choices.categories, &self.category_id))
            (set.input("estimated_value", label("estimated_value"), "text", &self.estimated_value, false))
            (set.select("source", label("source"), &source_options(&self.source), &self.source))
            (set.select("assigned_to", label("assigned_to"), &choices.owners, &self.assigned_to))
            (set.input("follow_up_date", label("follow_up_date"), "datetime-local", &self.follow_up_date, false))
            (set.textarea("description", label("description"), &self.description, false))
        }
    }
}

/// The label a lead's field has on every form.
fn label(field: &str) -> &'static str {
    match field {
        "title" => "Title",
        "prospect_name" => "Name",
        "prospect_phone" => "Phone",
        "prospect_email" => "E-mail",
        "category_id" => "Category",
        "estimated_value" => "Estimated value",
        "source" => "Source",
        "assigned_to" => "Owner",
        "follow_up_date" => "Follow up on (UTC)",
        _ => "Description",
    }
}

/// What the lead forms' selects offer, as `(value, label)`: the active categories and staff, and
/// the lead's own category and owner even when no longer active, so that saving a form that
/// shows them keeps them.
pub struct Choices {
    categories: Vec<(String, String)>,
    owners: Vec<(String, String)>,
}

impl Choices {
    pub async fn load(state: &WebState, org_id: Uuid, lead: Option<&OpportunityView>) -> Choices {
        let categories = state.store.categories(org_id, false).await.unwrap_or_default();
        let staff = state.store.staff_members(org_id).await.unwrap_or_default();
        let mut category_options = vec![(String::new(), "None".to_owned())];
        category_options.extend(categories.iter().map(|category| (category.id.to_string(), category.name.clone())));
        let mut owners = vec![(String::new(), "Nobody yet".to_owned())];
        owners.extend(staff.iter().filter(|member| member.is_active).map(|member| (member.id.to_string(), member.name.clone())));
        if let Some(view) = lead {
            let keep = |options: &mut Vec<(String, String)>, id: Uuid, name: &str| {
                if !options.iter().any(|(value, _)| *value == id.to_string()) {
                    options.push((id.to_string(), format!("{name} (inactive)")));
                }
            };
            if let Some(category) = &view.category {
                keep(&mut category_options, category.id, &category.name);
            }
            if let Some(owner) = &view.assigned_staff {
                keep(&mut owners, owner.id, &owner.name);
            }
        }
        Choices { categories: category_options, owners }
    }

    /// A field's value in the words its form shows.
    fn words(&self, field: &str, value: &str) -> String {
        match field {
            "category_id" => option_text(&self.categories, value),
            "assigned_to" => option_text(&self.owners, value),
            "source" => option_text(&source_options(value), value),
            _ => option_text(&[], value),
        }
    }
}

/// The label of the option `value` chooses, the value itself when no option has it, and
/// "(blank)" for nothing.
pub fn option_text(options: &[(String, String)], value: &str) -> String {
    let value = value.trim();
    match options.iter().find(|(option, _)| option == value) {
        Some((_, label)) => label.clone(),
        None if value.is_empty() => "(blank)".to_owned(),
        None => value.to_owned(),
    }
}

/// The seed's sources, the lead's own when it is another (so saving keeps it), and "None" for a
/// lead without one.
fn source_options(current: &str) -> Vec<(String, String)> {
    let current = current.trim();
    let mut options = Vec::new();
    if current.is_empty() {
        options.push((String::new(), "None".to_owned()));
    }
    options.extend(SOURCES.iter().map(|source| (source.to_string(), source.replace('_', " "))));
    if !current.is_empty() && !SOURCES.contains(&current) {
        options.push((current.to_owned(), current.replace('_', " ")));
    }
    options
}

/// Draws form fields, each with its label and, when it has one, its error under it (linked by
/// `aria-describedby`). Ids are the field's name after `prefix`, so that several forms can
/// share a page.
pub struct FieldSet<'a> {
    pub prefix: &'a str,
    pub errors: &'a FieldErrors,
}

impl FieldSet<'_> {
    pub fn input(&self, name: &str, label: &str, kind: &str, value: &str, required: bool) -> Markup {
        self.field(name, label, required, |id, invalid, described_by| {
            html! { input id=(id) name=(name) type=(kind) value=(value) aria-invalid=[invalid] aria-describedby=[described_by]; }
        })
    }

    pub fn textarea(&self, name: &str, label: &str, value: &str, required: bool) -> Markup {
        self.field(name, label, required, |id, invalid, described_by| {
            html! { textarea id=(id) name=(name) aria-invalid=[invalid] aria-describedby=[described_by] { (value) } }
        })
    }

    /// A select of `(value, label)` options with `selected` chosen.
    pub fn select(&self, name: &str, label: &str, options: &[(String, String)], selected: &str) -> Markup {
        self.field(name, label, false, |id, invalid, described_by| {
            html! {
                select id=(id) name=(name) aria-invalid=[invalid] aria-describedby=[described_by] {
                    @for (value, text) in options { option value=(value) selected[value == selected.trim()] { (text) } }
                }
            }
        })
    }

    /// Above a form that was refused: how many fields need a change (each says why beside it).
    pub fn summary(&self, refused: &str) -> Markup {
        html! {
            @if !self.errors.is_empty() {
                div.error-summary id={ (self.prefix) "error-summary" } role="alert" tabindex="-1" data-focus {
                    (refused) ": " (self.errors.iter().count()) " field(s) need a change, marked below."
                }
            }
        }
    }

    fn field(&self, name: &str, label: &str, required: bool, control: impl FnOnce(&str, Option<&str>, Option<&str>) -> Markup) -> Markup {
        let id = format!("{}{name}", self.prefix);
        let error = self.errors.iter().find(|(field, _)| *field == name).map(|(_, message)| message);
        let error_id = format!("{id}-error");
        html! {
            div.field {
                label for=(id) { (label) @if required { " (required)" } }
                (control(&id, error.map(|_| "true"), error.map(|_| error_id.as_str())))
                @if let Some(error) = error { div.error id=(error_id) { (sentence(&format!("{label} {error}"))) } }
            }
        }
    }
}

/// Reads typed text into values. What does not read is noted as a field error, for the use
/// case to report together with its own ([`Input::new`]).
#[derive(Default)]
pub struct Reader {
    unreadable: FieldErrors,
}

impl Reader {
    /// `value` parsed, or `None` when blank or unreadable (and then noted).
    pub fn read<T>(&mut self, field: &str, value: &str, parse: impl FnOnce(&str) -> Option<T>, message: &str) -> Option<T> {
        let value = text(value)?;
        let parsed = parse(&value);
        if parsed.is_none() {
            self.unreadable.add(field, message);
        }
        parsed
    }

    /// As a partial update's field: blank clears it, and text that does not read leaves it as
    /// it is (the error says why).
    pub fn patch<T>(&mut self, value: &str, read: impl FnOnce(&mut Reader) -> Option<T>) -> Patch<T> {
        if text(value).is_none() { Patch::Null } else { Patch::given(read(self)) }
    }

    pub fn category(&mut self, value: &str) -> Option<Uuid> {
        self.read("category_id", value, id, "is not one of the categories")
    }

    pub fn owner(&mut self, value: &str) -> Option<Uuid> {
        self.read("assigned_to", value, id, "is not one of the staff")
    }

    pub fn amount(&mut self, value: &str) -> Option<Money> {
        self.read("estimated_value", value, Money::parse, "must be an amount such as 1500 or 1500.50")
    }

    pub fn date_time(&mut self, field: &str, value: &str) -> Option<Timestamp> {
        self.read(field, value, local_time, "must be a date and time")
    }

    /// Notes a field the page asks for although the use case would take it blank.
    pub fn refuse(&mut self, field: &str, message: &str) {
        self.unreadable.add(field, message);
    }

    /// What did not read.
    pub fn unreadable(self) -> FieldErrors {
        self.unreadable
    }
}

/// Trimmed text, `None` when blank.
pub fn text(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|value| !value.is_empty())
}

fn id(value: &str) -> Option<Uuid> {
    Uuid::parse_str(value).ok()
}

/// A `datetime-local` value (`2026-12-01T10:00`), taken as UTC like every time the API shows.
fn local_time(value: &str) -> Option<Timestamp> {
    Timestamp::parse(&format!("{value}:00Z")).or_else(|| Timestamp::parse(&format!("{value}Z")))
}

/// A time as a `datetime-local` input shows it, to the minute.
pub fn local_time_value(at: Timestamp) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    at.datetime().format(&format).unwrap_or_default()
}
