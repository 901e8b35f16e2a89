use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

pub type Result<T> = std::result::Result<T, Error>;

/// Every failure the service can report. The HTTP layer maps each variant to a status and an
/// error code in one place; messages here are written for the person calling the API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("query parameter `{parameter}` {message}")]
    InvalidParameter { parameter: String, message: String },
    #[error("the request has invalid fields")]
    Validation(FieldErrors),
    #[error("{message}")]
    Duplicate { message: String, existing_id: Uuid },
    #[error("this opportunity is already {status}; reopen it by changing its status first")]
    AlreadyClosed { status: &'static str },
    #[error("this opportunity is already linked to a client")]
    AlreadyConverted { client_id: Uuid },
    #[error("{0}")]
    Conflict(String),
    #[error("the opportunity changed since you read it (it is now version {current_version}); read it again and retry")]
    PreconditionFailed { current_version: i64 },
    #[error("{0}")]
    Forbidden(&'static str),
    /// The database turned the write away because of another one running at the same moment:
    /// a deadlock, a serialization failure, or a unique value the other had just committed.
    /// The use case runs again from the start; a caller sees this only when every attempt met one.
    #[error("other requests were changing the same records at the same moment; try again")]
    Contention,
    /// The database did not answer in time (PostgreSQL's statement timeout, or no connection
    /// free for that long): the request is valid but asked for more than the service allows.
    #[error("the database took too long to answer this request; narrow it (a longer search word, a filter) or try again later")]
    TookTooLong,
    /// The database cannot be reached or cannot be written right now: it is restarting or
    /// failing over, no connection could be had within the acquire timeout, a connection broke
    /// mid-request, or (SQLite) its file cannot be written. The transaction did not commit, or
    /// (a connection that broke during COMMIT) its fate is unknown; either way the request was
    /// not acknowledged, and the same request may succeed once the database is back.
    #[error("the database is unavailable right now; try again shortly")]
    DatabaseUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Internal(Box::new(error))
    }

    pub fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::DatabaseUnavailable(Box::new(error))
    }

    pub fn parameter(parameter: &str, message: impl Into<String>) -> Self {
        Error::InvalidParameter { parameter: parameter.to_owned(), message: message.into() }
    }

    /// The message with every cause after it, for an operator reading a log.
    pub fn describe(&self) -> String {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        message
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        Error::Validation(errors)
    }
}

/// How many unknown fields one 422 names; it counts the rest. A request has no reason to send
/// more than a few, and echoing thousands turned a small request into a large response.
pub const UNKNOWN_FIELDS_NAMED: usize = 20;

/// The longest field name or message a 422 echoes, in characters: a message about a value of
/// the wrong type quotes the value, and an unknown field's name is whatever the client sent.
pub const ECHO_MAX_CHARS: usize = 200;

/// Bad fields of one request, each with a message saying what a valid value looks like.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors {
    fields: BTreeMap<String, String>,
    /// Unknown fields counted but not named (past [`UNKNOWN_FIELDS_NAMED`]).
    #[serde(skip)]
    unknown_not_named: usize,
}

impl FieldErrors {
    /// Keeps the first message for a field: later checks usually follow from the first failure.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.fields.entry(echoed(field)).or_insert_with(|| echoed(&message.into()));
    }

    /// Notes a field the request type does not have: named while there are few, else counted.
    pub fn add_unknown(&mut self, field: &str) {
        let named = self.fields.values().filter(|message| *message == UNKNOWN_FIELD).count();
        if named < UNKNOWN_FIELDS_NAMED {
            self.add(field, UNKNOWN_FIELD);
        } else {
            self.unknown_not_named += 1;
        }
    }

    /// How many unknown fields were left unnamed.
    pub fn unknown_not_named(&self) -> usize {
        self.unknown_not_named
    }

    pub fn merge(&mut self, other: FieldErrors) {
        for (field, message) in other.fields {
            self.add(&field, message);
        }
        self.unknown_not_named += other.unknown_not_named;
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `Ok(value)` when no field was bad, so validation code can end with `errors.into_result(x)`.
    pub fn into_result<T>(self, value: T) -> Result<T> {
        if self.is_empty() { Ok(value) } else { Err(Error::Validation(self)) }
    }
}

const UNKNOWN_FIELD: &str = "is not a known field";

/// `text` cut to [`ECHO_MAX_CHARS`], marked with an ellipsis where it was cut.
fn echoed(text: &str) -> String {
    match text.char_indices().nth(ECHO_MAX_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_past_the_limit_are_counted_and_the_rest_still_named() {
        let mut errors = FieldErrors::default();
        for i in 0..1000 {
            errors.add_unknown(&format!("field{i:04}"));
        }
        errors.add("title", "is required");
        assert_eq!(errors.iter().count(), UNKNOWN_FIELDS_NAMED + 1);
        assert_eq!(errors.unknown_not_named(), 1000 - UNKNOWN_FIELDS_NAMED);
        assert!(errors.iter().any(|(field, message)| field == "title" && message == "is required"));
    }

    #[test]
    fn long_names_and_messages_are_cut() {
        let mut errors = FieldErrors::default();
        errors.add(&"é".repeat(5000), "x".repeat(5000));
        let (field, message) = errors.iter().next().expect("one error");
        assert_eq!(field.chars().count(), ECHO_MAX_CHARS + 1);
        assert_eq!(message.chars().count(), ECHO_MAX_CHARS + 1);
        assert!(message.ends_with('…'));
    }
}
