use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount of money in minor units (cents). Stored and summed as an integer so that
/// arithmetic is exact on every backend; written in JSON as a number with at most two decimals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

impl Money {
    /// The largest amount one opportunity may carry: 100 million. Chosen so that the sum of
    /// value × probability over millions of opportunities still fits in 64 bits.
    pub const MAX: Money = Money(10_000_000_000);

    pub const fn from_cents(cents: i64) -> Self {
        Money(cents)
    }

    pub const fn cents(self) -> i64 {
        self.0
    }

    /// Parses a decimal such as `500`, `500.5` or `500.50`; `None` for anything else,
    /// including a third decimal place, an exponent or an amount beyond [`Money::MAX`].
    pub fn parse(text: &str) -> Option<Self> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 12 || fraction.len() > 2 || !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        if digits.contains('.') && fraction.is_empty() {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let fraction: i64 = format!("{fraction:0<2}").parse().ok()?;
        let cents = whole * 100 + fraction;
        (cents <= Self::MAX.0).then_some(Money(if negative { -cents } else { cents }))
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Σ value × probability / 100, rounded half away from zero to the cent. Takes the exact
    /// sum of `cents × percent` so that rounding happens once, at the end.
    pub fn from_weighted_sum(cent_percents: i128) -> Self {
        let rounded = (cent_percents + 50 * cent_percents.signum()) / 100;
        Money(i64::try_from(rounded).unwrap_or(i64::MAX))
    }

    fn as_f64(self) -> f64 {
        // Exact to the cent for every amount below 2^53 cents (90 trillion).
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:02}", self.0.unsigned_abs() / 100, self.0.unsigned_abs() % 100)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_f64())
    }
}

const MONEY_EXPECTED: &str = "must be an amount with at most 2 decimal places, up to 100000000.00";

impl<'de> Deserialize<'de> for Money {
    /// Accepts a JSON number or a decimal string, checked as written: serde_json keeps a
    /// number's text (its `arbitrary_precision` feature), so `1e2` and `1.005` are refused like
    /// `"1e2"` and `"1.005"`, where reading them as an f64 would have rounded them to a valid
    /// amount.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = match serde_json::Value::deserialize(deserializer).map_err(|_| serde::de::Error::custom(MONEY_EXPECTED))? {
            serde_json::Value::Number(number) => number.to_string(),
            serde_json::Value::String(text) => text.trim().to_owned(),
            _ => return Err(serde::de::Error::custom(MONEY_EXPECTED)),
        };
        Money::parse(&text).ok_or_else(|| serde::de::Error::custom(MONEY_EXPECTED))
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        amount_schema().maximum(Some(100_000_000)).description(Some("An amount of money with at most two decimal places.")).into()
    }
}

/// The schema of a sum of amounts: a pipeline's total may exceed what one lead's value may be.
pub fn total_schema() -> utoipa::openapi::schema::Object {
    amount_schema().description(Some("A sum of amounts, with at most two decimal places.")).build()
}

fn amount_schema() -> utoipa::openapi::ObjectBuilder {
    utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::Number).minimum(Some(0)).multiple_of(Some(0.01))
}

impl utoipa::ToSchema for Money {}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_json(json: &str) -> Option<Money> {
        serde_json::from_str(json).ok()
    }

    #[test]
    fn parses_numbers_and_strings_with_up_to_two_decimals() {
        assert_eq!(from_json("500"), Some(Money(50_000)));
        assert_eq!(from_json("500.5"), Some(Money(50_050)));
        assert_eq!(from_json("500.0"), Some(Money(50_000)));
        assert_eq!(from_json("0.07"), Some(Money(7)));
        assert_eq!(from_json("\"1200.00\""), Some(Money(120_000)));
        assert_eq!(from_json("-3.10"), Some(Money(-310)));
    }

    #[test]
    fn rejects_sub_cent_precision_and_huge_amounts() {
        assert_eq!(from_json("0.001"), None);
        assert_eq!(from_json("1.005"), None);
        assert_eq!(from_json("1e2"), None);
        assert_eq!(from_json("1.0000000000000001"), None);
        assert_eq!(from_json("1e300"), None);
        assert_eq!(from_json("100000000.01"), None);
        assert_eq!(from_json("\"12.\""), None);
        assert_eq!(from_json("\"abc\""), None);
        assert_eq!(from_json("true"), None);
    }

    #[test]
    fn serializes_as_a_number() {
        assert_eq!(serde_json::to_string(&Money(123_456)).unwrap(), "1234.56");
        assert_eq!(Money(5).to_string(), "0.05");
    }

    #[test]
    fn weighted_sums_round_half_away_from_zero_once() {
        // 3 × (0.01 × 50%) = 0.015 → 0.02, not 3 × round(0.005).
        assert_eq!(Money::from_weighted_sum(150), Money(2));
        assert_eq!(Money::from_weighted_sum(149), Money(1));
        assert_eq!(Money::from_weighted_sum(50_000 * 50), Money(25_000));
    }
}
