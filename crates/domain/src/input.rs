use crate::{Error, FieldErrors, Result};

/// A request's fields as far as they could be read, with the fields that could not be (a
/// string where a number belongs, an unknown stage). Building a domain value from it reports
/// both kinds of problem together, and builds nothing if either exists.
#[derive(Debug, Clone, Default)]
pub struct Input<T> {
    fields: T,
    unreadable: FieldErrors,
}

impl<T> Input<T> {
    pub fn new(fields: T, unreadable: FieldErrors) -> Self {
        Input { fields, unreadable }
    }

    /// Fields that were all read.
    pub fn readable(fields: T) -> Self {
        Input { fields, unreadable: FieldErrors::default() }
    }

    /// The fields that could be read, for checks that must come before validation
    /// (who may make a change can depend on what it changes).
    pub fn fields(&self) -> &T {
        &self.fields
    }

    /// Runs `build` on the readable fields and fails if it, or the reading, found a bad field.
    pub fn check<R>(self, build: impl FnOnce(T) -> Result<R>) -> Result<R> {
        let mut errors = self.unreadable;
        match build(self.fields) {
            Ok(value) => errors.into_result(value),
            Err(Error::Validation(more)) => {
                errors.merge(more);
                Err(Error::Validation(errors))
            }
            Err(other) if errors.is_empty() => Err(other),
            Err(_) => Err(Error::Validation(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_fields_come_first_and_block_the_build() {
        let mut unreadable = FieldErrors::default();
        unreadable.add("status", "unknown variant");
        let input = Input::new((), unreadable.clone());
        let Err(Error::Validation(errors)) = input.check(|()| Err::<(), _>(Error::field("title", "is required"))) else {
            panic!("expected validation errors")
        };
        assert_eq!(errors.iter().map(|(f, _)| f).collect::<Vec<_>>(), ["status", "title"]);
        assert!(Input::new((), unreadable).check(|()| Ok(())).is_err());
        assert!(Input::readable(()).check(|()| Ok(())).is_ok());
    }
}
