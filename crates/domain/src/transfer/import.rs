//! An imported CSV file: its header matched to the fields of a lead, and each row turned into
//! a lead by the API's own constructors ([`Opportunity::created`], then
//! [`Opportunity::updated`] for a row that is already won or lost), so that an imported lead
//! obeys every rule and gets the stage history and activities a lead entered by hand gets.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::activity::{CreateNote, Note};
use crate::auth::{Actor, Staff};
use crate::calendar::{Day, TimeZone};
use crate::category::Category;
use crate::opportunity::{Change, CreateOpportunity, Creator, Opportunity, Status, UpdateOpportunity};
use crate::query::QueryParams;
use crate::settings::PipelineSettings;
use crate::{Error, FieldErrors, Money, Patch, Result, Timestamp, text};

/// The report lists this many row errors at most; `failed` counts every row that had one.
pub const ERRORS_LISTED_MAX: usize = 1_000;
/// A phone number with fewer digits than this (an extension, a typo) identifies nobody.
pub const PHONE_DIGITS_MIN: usize = 7;

/// A field of a lead that a column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    Title,
    ProspectName,
    ProspectEmail,
    ProspectPhone,
    Status,
    Probability,
    EstimatedValue,
    Source,
    OwnerEmail,
    Category,
    FollowUpDate,
    CreatedAt,
    ClosedAt,
    ClosedReason,
    TransactionId,
    Description,
    Notes,
}

impl Field {
    /// Each field with the header names (normalised, see [`normalised`]) that fill it; the
    /// first is its name in an export.
    const NAMES: [(Field, &[&str]); 17] = [
        (Field::Title, &["title", "opportunity", "subject"]),
        (Field::ProspectName, &["prospectname", "name", "fullname", "contact", "contactname"]),
        (Field::ProspectEmail, &["prospectemail", "email", "emailaddress"]),
        (Field::ProspectPhone, &["prospectphone", "phone", "phonenumber", "mobile", "telephone"]),
        (Field::Status, &["status", "stage"]),
        (Field::Probability, &["probability"]),
        (Field::EstimatedValue, &["estimatedvalue", "value", "amount"]),
        (Field::Source, &["source", "leadsource"]),
        (Field::OwnerEmail, &["owneremail", "owner", "assignedto", "assignee"]),
        (Field::Category, &["category", "categoryname"]),
        (Field::FollowUpDate, &["followupdate", "followup"]),
        (Field::CreatedAt, &["createdat", "created", "createddate"]),
        (Field::ClosedAt, &["closedat", "closed", "closeddate"]),
        (Field::ClosedReason, &["closedreason", "closereason", "reason"]),
        (Field::TransactionId, &["transactionid"]),
        (Field::Description, &["description", "details"]),
        (Field::Notes, &["notes", "note", "comments"]),
    ];

    fn of_header(normalised: &str) -> Option<Field> {
        Self::NAMES.iter().find(|(_, names)| names.contains(&normalised)).map(|(field, _)| *field)
    }

    /// The field a constructor's error names (`content` is a note's).
    fn of_error(name: &str) -> Option<Field> {
        let name = if name == "content" { "notes" } else { name };
        Self::of_header(&normalised(name))
    }

    fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::ProspectName => "prospect_name",
            Field::ProspectEmail => "prospect_email",
            Field::ProspectPhone => "prospect_phone",
            Field::Status => "status",
            Field::Probability => "probability",
            Field::EstimatedValue => "estimated_value",
            Field::Source => "source",
            Field::OwnerEmail => "owner_email",
            Field::Category => "category",
            Field::FollowUpDate => "follow_up_date",
            Field::CreatedAt => "created_at",
            Field::ClosedAt => "closed_at",
            Field::ClosedReason => "closed_reason",
            Field::TransactionId => "transaction_id",
            Field::Description => "description",
            Field::Notes => "notes",
        }
    }
}

/// Columns an export writes that an import reads past: they name what the importing
/// organization gives anew (ids, the client link, the time of the last change).
const EXPORT_ONLY: [&str; 4] = ["id", "clientid", "clientname", "updatedat"];

/// A header as matched: case, spaces, `_` and `-` ignored (`E-mail`, `Assigned to`).
fn normalised(header: &str) -> String {
    header.chars().filter(|c| !c.is_whitespace() && *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

/// What to do with a row whose e-mail or phone a lead already has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnDuplicate {
    #[default]
    Skip,
    Update,
    Create,
}

/// The query of an import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    pub dry_run: bool,
    pub on_duplicate: OnDuplicate,
}

impl ImportOptions {
    pub fn parse(mut params: QueryParams) -> Result<Self> {
        let on_duplicate = match params.one("on_duplicate")?.as_deref() {
            None | Some("skip") => OnDuplicate::Skip,
            Some("update") => OnDuplicate::Update,
            Some("create") => OnDuplicate::Create,
            Some(_) => return Err(Error::parameter("on_duplicate", "must be skip, update or create")),
        };
        let options = ImportOptions { dry_run: params.bool("dry_run")?.unwrap_or(false), on_duplicate };
        params.finish()?;
        Ok(options)
    }
}

/// A problem with one cell (or one row) of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowError {
    /// The row as a spreadsheet numbers it: the header is row 1.
    pub row: u64,
    /// The column's header as the file writes it, or the field's name when no column gave it.
    pub column: String,
    pub message: String,
}

/// What an import did, or with `dry_run` would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportReport {
    /// Rows read (blank rows are passed over).
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    /// Duplicates left alone: of a lead that exists, or of an earlier row of the file.
    pub skipped: u64,
    /// Rows not imported because of an error.
    pub failed: u64,
    /// The first 1,000 errors, in row order.
    pub errors: Vec<RowError>,
    /// Headers that match no field, as the file writes them; their cells are not imported.
    pub unknown_columns: Vec<String>,
    pub dry_run: bool,
    /// The rows created, updated or skipped whose e-mail or phone digits an open lead or a
    /// client had before the import, with those records; the first 1,000 such rows, in row
    /// order.
    pub possible_duplicates: Vec<RowDuplicates>,
}

/// The records a row of an import may duplicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowDuplicates {
    /// The row as a spreadsheet numbers it: the header is row 1.
    pub row: u64,
    pub possible_duplicates: Vec<crate::duplicates::PossibleDuplicate>,
}

impl ImportReport {
    /// Counts a row that failed and lists its errors while the list has room.
    pub fn fail(&mut self, errors: Vec<RowError>) {
        self.failed += 1;
        let room = ERRORS_LISTED_MAX.saturating_sub(self.errors.len());
        self.errors.extend(errors.into_iter().take(room));
    }

    /// Lists the records a row that was imported or skipped may duplicate, while the list has room.
    pub fn note_duplicates(&mut self, row: u64, possible_duplicates: Vec<crate::duplicates::PossibleDuplicate>) {
        if !possible_duplicates.is_empty() && self.possible_duplicates.len() < ERRORS_LISTED_MAX {
            self.possible_duplicates.push(RowDuplicates { row, possible_duplicates });
        }
    }
}

/// A file's header and its rows, read but not yet checked.
#[derive(Debug, Clone)]
pub struct ImportFile {
    pub rows: Vec<Row>,
    pub unknown_columns: Vec<String>,
    /// Each field a column fills, with that column's header as written.
    headers: HashMap<Field, String>,
}

/// One row's non-blank cells.
#[derive(Debug, Clone)]
pub struct Row {
    pub number: u64,
    cells: HashMap<Field, String>,
    /// A problem that spoils the whole row (bad UTF-8, too many cells).
    broken: Option<String>,
}

impl ImportFile {
    /// Reads the header and rows of a CSV file (a UTF-8 byte order mark is allowed). A file with
    /// no header, or whose header names a field twice, is refused as a whole.
    pub fn read(bytes: &[u8]) -> Result<ImportFile> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(bytes);
        let mut records = reader.byte_records();
        let header = match records.next() {
            Some(Ok(header)) => header,
            _ => return Err(Error::field("file", "must be CSV with a header row naming its columns")),
        };
        let (columns, headers, unknown_columns) = match_header(&header)?;
        let mut rows = Vec::new();
        for (index, record) in records.enumerate() {
            let number = index as u64 + 2;
            let row = match record {
                Ok(record) => Row::of_record(number, &record, &columns),
                Err(error) => Row { number, cells: HashMap::new(), broken: Some(format!("is not valid CSV: {error}")) },
            };
            if row.broken.is_some() || !row.cells.is_empty() {
                rows.push(row);
            }
        }
        Ok(ImportFile { rows, unknown_columns, headers })
    }

    /// The column a field's error is reported under.
    fn column(&self, field: Field) -> String {
        self.headers.get(&field).cloned().unwrap_or_else(|| field.name().to_owned())
    }

    /// The errors of a constructor, each under its column.
    fn row_errors(&self, row: u64, errors: &FieldErrors) -> Vec<RowError> {
        errors
            .iter()
            .map(|(name, message)| RowError {
                row,
                column: Field::of_error(name).map_or_else(|| name.to_owned(), |field| self.column(field)),
                message: message.to_owned(),
            })
            .collect()
    }

    /// The lead a row creates, imported as of its `created_at` (now if blank); a won or lost row
    /// then closes as of its `closed_at` (its `created_at` if blank), so its history shows both.
    pub fn lead(
        &self,
        row: &Row,
        actor: &Actor,
        settings: &PipelineSettings,
        lookups: &Lookups,
        now: Timestamp,
    ) -> std::result::Result<NewLead, Vec<RowError>> {
        let mut errors = FieldErrors::default();
        let mut cells = Cells { row, errors: &mut errors, zone: &settings.timezone };
        let fields = cells.fields(lookups);
        let created_at = cells.instant(Field::CreatedAt).unwrap_or(now);
        let closed_at = cells.instant(Field::ClosedAt);
        let closing = fields.status.filter(|status| status.is_closed());
        if closing.is_none() {
            for field in [Field::ClosedAt, Field::ClosedReason, Field::TransactionId] {
                if row.cells.contains_key(&field) {
                    errors.add(field.name(), "only a won or lost opportunity has one");
                }
            }
        }
        let input = CreateOpportunity {
            status: if closing.is_some() { Some(Status::Open) } else { fields.status },
            probability: if closing.is_some() { None } else { fields.probability },
            ..fields.create.clone()
        };
        let created = Opportunity::created(settings, Creator::Staff(actor.staff_id), input, created_at);
        let lead = created.and_then(|(created, _)| {
            errors.into_result(())?;
            let mut lead = NewLead::from(created);
            if let Some(status) = closing {
                let closed_at = closed_at.unwrap_or(created_at);
                if closed_at < created_at {
                    return Err(Error::field("closed_at", "is before created_at"));
                }
                let update = UpdateOpportunity { status: Patch::Value(status), ..fields.closing.clone() };
                lead.follow(lead.opportunity.updated(actor, settings, update, closed_at)?.0);
            }
            lead.notes = note(actor, &lead.opportunity, fields.notes.clone(), created_at)?;
            Ok(lead)
        });
        lead.map_err(|error| self.errors_of(row.number, error))
    }

    /// The change a row makes to the lead it duplicates, as of now: its non-blank cells replace
    /// the lead's fields (its creation and closing times stay), and its notes are added.
    pub fn update(
        &self,
        row: &Row,
        existing: &Opportunity,
        actor: &Actor,
        settings: &PipelineSettings,
        lookups: &Lookups,
        now: Timestamp,
    ) -> std::result::Result<(Change, Vec<Note>), Vec<RowError>> {
        let mut errors = FieldErrors::default();
        let fields = Cells { row, errors: &mut errors, zone: &settings.timezone }.fields(lookups);
        let c = fields.create;
        let update = UpdateOpportunity {
            title: Patch::given(c.title),
            prospect_name: Patch::given(c.prospect_name),
            prospect_email: Patch::given(c.prospect_email),
            prospect_phone: Patch::given(c.prospect_phone),
            category_id: Patch::given(c.category_id),
            description: Patch::given(c.description),
            estimated_value: Patch::given(c.estimated_value),
            probability: Patch::given(fields.probability),
            status: Patch::given(fields.status),
            source: Patch::given(c.source),
            assigned_to: Patch::given(c.assigned_to),
            follow_up_date: Patch::given(c.follow_up_date),
            ..fields.closing
        };
        let changed = errors.into_result(()).and_then(|()| {
            let (change, _) = existing.updated(actor, settings, update, now)?;
            let notes = note(actor, existing, fields.notes, now)?;
            Ok((change, notes))
        });
        changed.map_err(|error| self.errors_of(row.number, error))
    }

    /// A row's errors: each field's under its column, anything else under the row's own.
    fn errors_of(&self, row: u64, error: Error) -> Vec<RowError> {
        match error {
            Error::Validation(errors) => self.row_errors(row, &errors),
            other => vec![RowError { row, column: String::new(), message: other.describe() }],
        }
    }

    /// What makes the row's person the same as another lead's.
    pub fn keys(&self, row: &Row) -> DuplicateKeys {
        DuplicateKeys {
            email: row.cells.get(&Field::ProspectEmail).map(|email| email.to_lowercase()),
            phone_digits: row.cells.get(&Field::ProspectPhone).and_then(|phone| phone_digits(phone)),
        }
    }

    /// A row that cannot be read at all.
    pub fn broken(&self, row: &Row) -> Option<Vec<RowError>> {
        row.broken.clone().map(|message| vec![RowError { row: row.number, column: String::new(), message }])
    }
}

/// Matches each header to a field: the field of each column (`None`: not imported), each
/// field's header, and the unknown headers.
#[allow(clippy::type_complexity)]
fn match_header(header: &csv::ByteRecord) -> Result<(Vec<Option<Field>>, HashMap<Field, String>, Vec<String>)> {
    let mut columns = Vec::new();
    let mut headers: HashMap<Field, String> = HashMap::new();
    let mut unknown = Vec::new();
    for cell in header {
        let name = String::from_utf8_lossy(cell).trim().to_owned();
        let key = normalised(&name);
        let field = Field::of_header(&key);
        match field {
            Some(field) => {
                if let Some(earlier) = headers.insert(field, name.clone()) {
                    let message = format!("the columns \"{earlier}\" and \"{name}\" both give {}; keep one", field.name());
                    return Err(Error::field("file", message));
                }
            }
            None if EXPORT_ONLY.contains(&key.as_str()) || key.is_empty() => {}
            None => unknown.push(name),
        }
        columns.push(field);
    }
    Ok((columns, headers, unknown))
}

impl Row {
    fn of_record(number: u64, record: &csv::ByteRecord, columns: &[Option<Field>]) -> Row {
        let mut row = Row { number, cells: HashMap::new(), broken: None };
        for (i, cell) in record.iter().enumerate() {
            let Ok(text) = std::str::from_utf8(cell) else {
                row.broken = Some("is not valid UTF-8 text".into());
                return row;
            };
            let text = text.trim();
            match columns.get(i) {
                Some(Some(field)) if !text.is_empty() => drop(row.cells.insert(*field, text.to_owned())),
                Some(_) => {}
                None if text.is_empty() => {}
                None => row.broken = Some(format!("has more cells than the header has columns ({})", columns.len())),
            }
        }
        row
    }
}

/// The active categories by name and active staff by e-mail that rows may name.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    categories: HashMap<String, Uuid>,
    staff: HashMap<String, Uuid>,
}

impl Lookups {
    pub fn new(categories: &[Category], staff: &[Staff]) -> Self {
        Lookups {
            categories: categories.iter().filter(|c| c.is_active).map(|c| (c.name_key(), c.id)).collect(),
            staff: staff.iter().filter(|s| s.is_active).map(|s| (s.email.to_lowercase(), s.id)).collect(),
        }
    }
}

/// A row's cells as the typed fields of a lead, with a field error for each that is not one.
struct Cells<'a> {
    row: &'a Row,
    errors: &'a mut FieldErrors,
    /// Where a date without a time of day begins.
    zone: &'a TimeZone,
}

/// What a row's cells say, typed.
struct RowFields {
    create: CreateOpportunity,
    status: Option<Status>,
    probability: Option<i64>,
    /// The closing fields, for the update that closes a won or lost lead.
    closing: UpdateOpportunity,
    notes: Option<String>,
}

impl Cells<'_> {
    fn fields(&mut self, lookups: &Lookups) -> RowFields {
        let create = CreateOpportunity {
            title: self.text(Field::Title),
            client_id: None,
            prospect_name: self.text(Field::ProspectName),
            prospect_email: self.text(Field::ProspectEmail),
            prospect_phone: self.text(Field::ProspectPhone),
            category_id: self.parsed(Field::Category, "is not the name of an active category", |name| {
                lookups.categories.get(&text::name_key(name)).copied()
            }),
            description: self.text(Field::Description),
            estimated_value: self.parsed(Field::EstimatedValue, "must be an amount such as 1500 or 1500.50", Money::parse),
            probability: None,
            status: None,
            source: self.text(Field::Source),
            assigned_to: self.parsed(Field::OwnerEmail, "is not the e-mail of an active staff member", |email| {
                lookups.staff.get(&email.to_lowercase()).copied()
            }),
            follow_up_date: self.instant(Field::FollowUpDate),
        };
        let status = self.parsed(Field::Status, "must be open, contacted, qualified, proposal, won, lost or stale", |status| {
            Status::parse(&status.to_lowercase())
        });
        let probability = self.parsed(Field::Probability, "must be a whole number from 0 to 100", |p| p.parse().ok());
        let closing = UpdateOpportunity {
            probability: Patch::given(probability),
            closed_reason: Patch::given(self.text(Field::ClosedReason)),
            transaction_id: Patch::given(self.parsed(Field::TransactionId, "must be a UUID", |id| Uuid::parse_str(id).ok())),
            ..UpdateOpportunity::default()
        };
        RowFields { create, status, probability, closing, notes: self.text(Field::Notes) }
    }

    fn text(&self, field: Field) -> Option<String> {
        self.row.cells.get(&field).cloned()
    }

    fn parsed<T>(&mut self, field: Field, message: &str, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        let cell = self.row.cells.get(&field)?;
        let value = parse(cell);
        if value.is_none() {
            self.errors.add(field.name(), message);
        }
        value
    }

    /// An instant in RFC 3339, or a day (`2026-03-01`: its start in the organization's zone).
    fn instant(&mut self, field: Field) -> Option<Timestamp> {
        let zone = self.zone;
        self.parsed(field, "must be a date (2026-03-01) or an instant in RFC 3339 (2026-03-01T09:30:00Z)", |cell| {
            Timestamp::parse(cell).or_else(|| Day::parse(cell).and_then(|day| zone.start_of(day)))
        })
    }
}

fn note(actor: &Actor, lead: &Opportunity, content: Option<String>, now: Timestamp) -> Result<Vec<Note>> {
    content.map(|content| Note::new(actor, lead.id, CreateNote { content: Some(content) }, now)).into_iter().collect()
}

/// A lead to create, with its stage history, activities and notes.
#[derive(Debug, Clone)]
pub struct NewLead {
    pub opportunity: Opportunity,
    pub activities: Vec<crate::activity::Activity>,
    pub entries: Vec<crate::opportunity::StageEntry>,
    pub notes: Vec<Note>,
}

impl From<Change> for NewLead {
    fn from(change: Change) -> Self {
        NewLead {
            opportunity: change.opportunity,
            activities: change.activities,
            entries: change.entered.into_iter().collect(),
            notes: vec![],
        }
    }
}

impl NewLead {
    /// Takes on a later change of the lead, keeping the history of both.
    fn follow(&mut self, change: Change) {
        self.opportunity = change.opportunity;
        self.activities.extend(change.activities);
        self.entries.extend(change.entered);
    }
}

/// What makes two leads the same person: the e-mail (stored lowercased) or the phone's digits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DuplicateKeys {
    pub email: Option<String>,
    pub phone_digits: Option<String>,
}

/// The digits of a phone number, if it has enough to identify someone.
pub fn phone_digits(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= PHONE_DIGITS_MIN).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn actor() -> Actor {
        crate::auth::test_actor(Role::Member)
    }

    fn settings(actor: &Actor) -> PipelineSettings {
        PipelineSettings::standard(actor.org_id)
    }

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn headers_match_by_alias_ignoring_case_spaces_and_dashes() {
        let file = ImportFile::read(b"\xEF\xBB\xBFFull Name,E-mail,assigned_to,id,Colour\r\n").unwrap();
        assert_eq!(file.column(Field::ProspectName), "Full Name");
        assert_eq!(file.column(Field::ProspectEmail), "E-mail");
        assert_eq!(file.column(Field::OwnerEmail), "assigned_to");
        assert_eq!(file.unknown_columns, ["Colour"], "an export's id is read past, not reported");
        assert!(ImportFile::read(b"Email,E-mail\r\n").is_err(), "two columns for one field");
    }

    #[test]
    fn a_won_row_enters_open_then_won_at_its_own_times() {
        let actor = actor();
        let mut settings = settings(&actor);
        settings.timezone = TimeZone::named("America/Los_Angeles").unwrap();
        let file =
            ImportFile::read(b"title,name,status,probability,created,closed at\r\nBotox,Ann,Won,,2026-01-01,2026-01-15\r\n").unwrap();
        let lead = file.lead(&file.rows[0], &actor, &settings, &Lookups::default(), Timestamp::now()).unwrap();
        let o = &lead.opportunity;
        assert_eq!((o.stage.status(), o.stage.probability()), (Status::Won, 100));
        assert_eq!(o.created_at, at("2026-01-01T08:00:00Z"), "a date starts at midnight in the organization's zone");
        assert_eq!(o.stage.closed_at(), Some(at("2026-01-15T08:00:00Z")));
        let entered: Vec<_> = lead.entries.iter().map(|e| (e.status, e.entered_at)).collect();
        assert_eq!(entered, [(Status::Open, o.created_at), (Status::Won, at("2026-01-15T08:00:00Z"))]);
        assert_eq!(lead.activities.len(), 1, "the move to won is logged");
    }

    #[test]
    fn a_row_breaking_a_rule_is_reported_under_its_columns() {
        let file = ImportFile::read(b"title,name,Stage,Probability,Closed\r\nBotox,Ann,won,50,\r\nBotox,Bob,open,,2026-01-01\r\n").unwrap();
        let actor = actor();
        let errors = |row: &Row| file.lead(row, &actor, &settings(&actor), &Lookups::default(), Timestamp::now()).unwrap_err();
        assert_eq!(errors(&file.rows[0])[0].column, "Probability", "a won lead is always 100");
        assert_eq!(errors(&file.rows[1])[0].column, "Closed");
        assert_eq!(phone_digits("+1 (555) 010-2000").as_deref(), Some("15550102000"));
        assert_eq!(phone_digits("ext. 12"), None);
    }
}
