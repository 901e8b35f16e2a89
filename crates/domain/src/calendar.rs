//! Days as an organization counts them: in its time zone, an IANA name such as
//! `America/Los_Angeles`, daylight saving time included. What is "due today", "overdue" or "on
//! 1 March" depends on where the clinic is: at 17:00 in Los Angeles it is already tomorrow in UTC.
//!
//! The zones come from the time zone database bundled into the binary (jiff's copy), so every
//! machine and both database engines count the same days, whether or not the host has
//! `/usr/share/zoneinfo`. jiff serves the arithmetic only; instants stay [`Timestamp`]s.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::Timestamp;

/// The longest time zone name accepted; the longest in the database has 32 characters.
pub const TIME_ZONE_NAME_MAX: usize = 64;

const DAY_MICROS: i64 = 86_400_000_000;
/// The Julian day number of 1970-01-01, where [`Day`] numbers start.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// A time zone of the IANA database, by the name it was chosen with.
#[derive(Clone)]
pub struct TimeZone {
    name: String,
    zone: jiff::tz::TimeZone,
}

/// A calendar date, as the number of days since 1970-01-01: what the follow-up totals are keyed
/// by, so that "due by today" is every key up to today's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i64);

impl Day {
    pub fn from_number(days_since_1970: i64) -> Day {
        Day(days_since_1970)
    }

    pub fn number(self) -> i64 {
        self.0
    }

    /// A date written `2026-03-01`.
    pub fn parse(text: &str) -> Option<Day> {
        let date = time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
        Some(Day(i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY))
    }

    /// The date, for showing it; `None` beyond the years −9999 to 9999.
    pub fn date(self) -> Option<time::Date> {
        time::Date::from_julian_day(i32::try_from(self.0 + UNIX_EPOCH_JULIAN_DAY).ok()?).ok()
    }

    fn civil(self) -> Option<jiff::civil::Date> {
        let date = self.date()?;
        jiff::civil::Date::new(i16::try_from(date.year()).ok()?, u8::from(date.month()) as i8, date.day() as i8).ok()
    }
}

impl TimeZone {
    pub fn utc() -> TimeZone {
        TimeZone { name: "UTC".into(), zone: jiff::tz::TimeZone::UTC }
    }

    /// The zone with this IANA name (any case; `UTC` and links such as `US/Pacific` included),
    /// under the database's own spelling of it.
    pub fn named(name: &str) -> Option<TimeZone> {
        if name.is_empty() || name.chars().count() > TIME_ZONE_NAME_MAX {
            return None;
        }
        let zone = jiff::tz::TimeZone::get(name).ok()?;
        let name = zone.iana_name()?.to_owned();
        Some(TimeZone { name, zone })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The local date of `at`: its date after adding the zone's offset at that instant.
    pub fn day_of(&self, at: Timestamp) -> Day {
        let micros = at.unix_micros();
        let offset = jiff::Timestamp::from_microsecond(micros).map_or(0, |instant| self.zone.to_offset(instant).seconds());
        Day((micros + i64::from(offset) * 1_000_000).div_euclid(DAY_MICROS))
    }

    /// The local hour and minute of `at` (on the wall clock, daylight saving time included),
    /// for showing when something is due.
    pub fn time_of_day(&self, at: Timestamp) -> (i64, i64) {
        let micros = at.unix_micros();
        let offset = jiff::Timestamp::from_microsecond(micros).map_or(0, |instant| self.zone.to_offset(instant).seconds());
        let minutes = (micros + i64::from(offset) * 1_000_000).rem_euclid(DAY_MICROS) / 60_000_000;
        (minutes / 60, minutes % 60)
    }

    /// The first instant of the day: its midnight, or the end of the gap when the clocks skip
    /// midnight (as Chile's and Lebanon's have). `None` beyond the years 1 to 9999.
    pub fn start_of(&self, day: Day) -> Option<Timestamp> {
        let zoned = day.civil()?.to_zoned_datetime(self.zone.clone()).ok()?;
        Timestamp::from_unix_micros(zoned.timestamp().as_microsecond())
    }

    /// The last microsecond of the local day `at` falls on: a follow-up "due today" is due until
    /// then. On the day clocks spring forward it is 23 hours after midnight, on the day they fall
    /// back 25.
    pub fn end_of_day(&self, at: Timestamp) -> Timestamp {
        let next = self.start_of(Day(self.day_of(at).0 + 1));
        next.and_then(|start| Timestamp::from_unix_micros(start.unix_micros() - 1)).unwrap_or(at)
    }
}

impl PartialEq for TimeZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for TimeZone {}

impl fmt::Debug for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TimeZone").field(&self.name).finish()
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

impl utoipa::PartialSchema for TimeZone {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .max_length(Some(TIME_ZONE_NAME_MAX))
            .examples(["America/Los_Angeles"])
            .into()
    }
}

impl utoipa::ToSchema for TimeZone {}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).expect("an RFC 3339 instant")
    }

    #[test]
    fn the_time_of_day_is_the_wall_clocks() {
        let los_angeles = TimeZone::named("America/Los_Angeles").unwrap();
        assert_eq!(los_angeles.time_of_day(at("2026-03-02T07:30:00Z")), (23, 30), "UTC−8 in winter");
        assert_eq!(los_angeles.time_of_day(at("2026-03-08T10:05:00Z")), (3, 5), "UTC−7 after springing forward");
        let tonga = TimeZone::named("Pacific/Tongatapu").unwrap();
        assert_eq!(tonga.time_of_day(at("2026-03-01T10:30:00Z")), (23, 30));
        assert_eq!(TimeZone::utc().time_of_day(at("1969-12-31T23:59:00Z")), (23, 59), "before 1970 too");
    }

    fn zone(name: &str) -> TimeZone {
        TimeZone::named(name).expect("a zone of the database")
    }

    #[test]
    fn names_are_looked_up_in_the_bundled_database() {
        assert_eq!(zone("america/los_angeles").name(), "America/Los_Angeles");
        assert_eq!(zone("UTC").name(), "UTC");
        for bad in ["", "Mars/Olympus_Mons", "+05:00", "Local", &"A".repeat(TIME_ZONE_NAME_MAX + 1)] {
            assert!(TimeZone::named(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_day_is_the_local_date() {
        let los_angeles = zone("America/Los_Angeles");
        let tongatapu = zone("Pacific/Tongatapu");
        let utc = TimeZone::utc();
        // 2026-03-02 07:59 UTC is still 1 March in Los Angeles (UTC−8); in Tonga (UTC+13) 2 March
        // began at 11:00 UTC on 1 March.
        let march_1 = Day::parse("2026-03-01").expect("a date");
        let march_2 = Day::parse("2026-03-02").expect("a date");
        assert_eq!(los_angeles.day_of(at("2026-03-02T07:59:59Z")), march_1);
        assert_eq!(los_angeles.day_of(at("2026-03-02T08:00:00Z")), march_2);
        assert_eq!(tongatapu.day_of(at("2026-03-01T10:59:59Z")), march_1);
        assert_eq!(tongatapu.day_of(at("2026-03-01T11:00:00Z")), march_2);
        assert_eq!(utc.day_of(at("1969-12-31T23:59:59Z")), Day(-1), "before 1970 the day floors");
    }

    #[test]
    fn a_day_ends_where_the_next_one_starts_daylight_saving_included() {
        let los_angeles = zone("America/Los_Angeles");
        let auckland = zone("Pacific/Auckland");
        for (zone, now, end) in [
            (&los_angeles, "2026-03-02T07:00:00Z", "2026-03-02T07:59:59.999999Z"),
            // 8 March 2026 springs forward at 02:00: a 23-hour day, ending at 00:00 PDT (UTC−7).
            (&los_angeles, "2026-03-08T09:30:00Z", "2026-03-09T06:59:59.999999Z"),
            // 1 November 2026 falls back at 02:00: a 25-hour day, ending at 00:00 PST (UTC−8).
            (&los_angeles, "2026-11-01T08:30:00Z", "2026-11-02T07:59:59.999999Z"),
            // Auckland leaves daylight saving time on 5 April 2026 (UTC+13 to UTC+12).
            (&auckland, "2026-04-04T12:00:00Z", "2026-04-05T11:59:59.999999Z"),
            (&TimeZone::utc(), "2026-02-20T10:00:00Z", "2026-02-20T23:59:59.999999Z"),
        ] {
            assert_eq!(zone.end_of_day(at(now)).to_string(), end, "{zone:?} at {now}");
            let next = Timestamp::from_unix_micros(at(end).unix_micros() + 1).expect("an instant");
            assert_eq!(zone.day_of(next), Day(zone.day_of(at(now)).0 + 1), "{zone:?}: the next microsecond is the next day");
            assert_eq!(zone.day_of(at(end)), zone.day_of(at(now)), "{zone:?}: the last microsecond is still today");
        }
    }

    #[test]
    fn a_day_starts_at_midnight_or_where_a_skipped_midnight_ends() {
        let los_angeles = zone("America/Los_Angeles");
        let march_1 = Day::parse("2026-03-01").expect("a date");
        assert_eq!(los_angeles.start_of(march_1).map(|t| t.to_string()).as_deref(), Some("2026-03-01T08:00:00Z"));
        // Santiago springs forward at midnight: 6 September 2026 begins at 01:00 local (UTC−3).
        let santiago = zone("America/Santiago");
        let skipped = Day::parse("2026-09-06").expect("a date");
        assert_eq!(santiago.start_of(skipped).map(|t| t.to_string()).as_deref(), Some("2026-09-06T04:00:00Z"));
    }
}
