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
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Internal(Box::new(error))
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

/// Bad fields of one request, each with a message saying what a valid value looks like.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    /// Keeps the first message for a field: later checks usually follow from the first failure.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_owned()).or_insert_with(|| message.into());
    }

    pub fn merge(&mut self, other: FieldErrors) {
        for (field, message) in other.0 {
            self.add(&field, message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `Ok(value)` when no field was bad, so validation code can end with `errors.into_result(x)`.
    pub fn into_result<T>(self, value: T) -> Result<T> {
        if self.is_empty() { Ok(value) } else { Err(Error::Validation(self)) }
    }
}
