//! Checks on free text shared by every entity: trimming, length limits, e-mail addresses.

use std::sync::LazyLock;

use regex::Regex;

use crate::FieldErrors;

/// Text that shows nothing: only white space and characters that render as nothing (zero-width
/// spaces and joiners, byte-order marks, soft hyphens, Hangul fillers: Unicode's default
/// ignorable code points).
static INVISIBLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{White_Space}\p{Default_Ignorable_Code_Point}]*$").expect("a valid pattern"));

/// Trims `value`; text that shows nothing counts as absent, so a title of zero-width spaces is
/// as missing as an empty one. Reports a field error when it is longer than
/// `max` or holds control characters other than tab and line breaks (a NUL cannot even be
/// stored in PostgreSQL).
pub fn optional(errors: &mut FieldErrors, field: &str, value: Option<String>, max: usize) -> Option<String> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !INVISIBLE.is_match(v))?;
    if value.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
    }
    if has_control_characters(&value) {
        errors.add(field, "must not contain control characters");
    }
    Some(value)
}

/// Control characters other than tab, line feed and carriage return.
pub fn has_control_characters(value: &str) -> bool {
    value.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// Like [`optional`], but the field must be present and non-blank. Returns `""` when it is not,
/// with the error recorded, so callers can go on collecting errors for other fields.
pub fn required(errors: &mut FieldErrors, field: &str, value: Option<String>, max: usize) -> String {
    optional(errors, field, value, max).unwrap_or_else(|| {
        errors.add(field, "is required");
        String::new()
    })
}

/// A trimmed, lowercased e-mail address, checked for the shape `local@domain` that HTML's
/// `<input type=email>` accepts (so `admin@localhost` is an address too).
pub fn email(errors: &mut FieldErrors, field: &str, value: Option<String>) -> Option<String> {
    let value = optional(errors, field, value, 254)?.to_lowercase();
    if !is_email(&value) {
        errors.add(field, "must be an e-mail address such as jane@example.com");
    }
    Some(value)
}

fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else { return false };
    let labels_ok = domain.split('.').all(|label| !label.is_empty());
    !local.is_empty() && labels_ok && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The key under which names are unique in an organization: case and surrounding space ignored.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shapes() {
        for good in ["jane@example.com", "a.b+c@mail.example.co.uk", "admin@localhost"] {
            assert!(is_email(good), "{good}");
        }
        for bad in ["jane", "@example.com", "jane@", "jane@example.", "jane doe@example.com", "jane@.com"] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn required_text_is_trimmed_and_bounded() {
        let mut errors = FieldErrors::default();
        assert_eq!(required(&mut errors, "title", Some("  Botox  ".into()), 200), "Botox");
        assert!(errors.is_empty());
        required(&mut errors, "title", Some("   ".into()), 200);
        required(&mut errors, "prospect_name", Some("\u{200b}\u{feff} \u{200d}\u{2060}".into()), 200);
        optional(&mut errors, "name", Some("x".repeat(5)), 4);
        optional(&mut errors, "note", Some("a\u{0}b".into()), 10);
        assert!(optional(&mut FieldErrors::default(), "ok", Some("line\nline\ttab".into()), 20).is_some());
        let found: Vec<_> = errors.iter().collect();
        assert_eq!(
            found,
            [
                ("name", "must be at most 4 characters"),
                ("note", "must not contain control characters"),
                ("prospect_name", "is required"),
                ("title", "is required")
            ]
        );
    }
}
