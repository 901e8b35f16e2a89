//! What list endpoints accept in their query strings, parsed and checked without any I/O.

use uuid::Uuid;

use crate::calendar::TimeZone;
use crate::opportunity::Status;
use crate::search::SearchWords;
use crate::settings::PipelineSettings;
use crate::{Error, Result, Timestamp};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;
pub const SEARCH_MAX: usize = 200;
/// The most different words a search may have. Each word is one more condition for the
/// database to check on every candidate lead; people search with two or three.
pub const SEARCH_WORDS_MAX: usize = 8;
/// How deep a search may page: through its first 10,000 matches. A search matching many leads
/// is answered by walking the list's order and checking each lead; a deep page of a common
/// search made that walk check most of a large organization's leads (seconds) for a page
/// nobody reads. Narrowing the search or the filters reaches the rest.
pub const SEARCH_PAGE_END: i64 = 10_000;

/// The raw `name=value` pairs of a query string, consumed parameter by parameter so that
/// anything left over at the end is reported as unknown rather than silently ignored.
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Refuses control characters anywhere in the query: no parameter needs them, and a NUL
    /// cannot even be compared in PostgreSQL.
    pub fn new(pairs: Vec<(String, String)>) -> Result<Self> {
        if let Some((name, _)) =
            pairs.iter().find(|(n, v)| crate::text::has_control_characters(n) || crate::text::has_control_characters(v))
        {
            return Err(Error::parameter(name, "must not contain control characters"));
        }
        Ok(QueryParams(pairs))
    }

    /// Every value given for `name`, comma-separated lists split, blanks dropped.
    pub fn all(&mut self, name: &str) -> Vec<String> {
        self.all_raw(name).iter().flat_map(|v| v.split(',')).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect()
    }

    /// The parameter's one value, trimmed; a blank value is an error (`?limit=` says nothing).
    pub fn one(&mut self, name: &str) -> Result<Option<String>> {
        match self.optional_text(name)? {
            Some(value) if value.is_empty() => Err(Error::parameter(name, "must not be blank")),
            other => Ok(other),
        }
    }

    /// Free text, where blank means "not given".
    fn text(&mut self, name: &str) -> Result<Option<String>> {
        Ok(self.optional_text(name)?.filter(|value| !value.is_empty()))
    }

    fn optional_text(&mut self, name: &str) -> Result<Option<String>> {
        Ok(self.optional_untrimmed(name)?.map(|v| v.trim().to_owned()))
    }

    fn optional_untrimmed(&mut self, name: &str) -> Result<Option<String>> {
        let mut values: Vec<String> = self.all_raw(name);
        match values.len() {
            0 => Ok(None),
            1 => Ok(values.pop()),
            _ => Err(Error::parameter(name, "may be given only once")),
        }
    }

    fn all_raw(&mut self, name: &str) -> Vec<String> {
        let (taken, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.0).into_iter().partition(|(k, _)| k == name);
        self.0 = rest;
        taken.into_iter().map(|(_, v)| v).collect()
    }

    pub fn uuid(&mut self, name: &str) -> Result<Option<Uuid>> {
        self.one(name)?.map(|v| Uuid::parse_str(&v).map_err(|_| Error::parameter(name, "must be a UUID"))).transpose()
    }

    pub fn bool(&mut self, name: &str) -> Result<Option<bool>> {
        match self.one(name)?.as_deref() {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(_) => Err(Error::parameter(name, "must be true or false")),
        }
    }

    /// The search as typed, blank meaning none. Spaces around it are kept: a trailing one says
    /// the last word is finished (see [`crate::search`]).
    pub fn search(&mut self) -> Result<Option<String>> {
        let search = self.optional_untrimmed("search")?.filter(|value| !value.trim().is_empty());
        if search.as_ref().is_some_and(|s| s.chars().count() > SEARCH_MAX) {
            return Err(Error::parameter("search", format!("must be at most {SEARCH_MAX} characters")));
        }
        Ok(search)
    }

    /// The words of the search, if any, at most [`SEARCH_WORDS_MAX`] of them.
    fn search_words(&mut self) -> Result<Option<SearchWords>> {
        let Some(words) = self.search()?.as_deref().map(SearchWords::parse) else { return Ok(None) };
        if words.len() > SEARCH_WORDS_MAX {
            return Err(Error::parameter("search", format!("must have at most {SEARCH_WORDS_MAX} different words")));
        }
        Ok(Some(words))
    }

    pub fn page(&mut self) -> Result<Page> {
        let limit = self.integer("limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        let offset = self.integer("offset", 0, i64::from(i32::MAX))?.unwrap_or(0);
        Ok(Page { limit, offset })
    }

    fn integer(&mut self, name: &str, min: i64, max: i64) -> Result<Option<i64>> {
        let Some(text) = self.one(name)? else { return Ok(None) };
        match text.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(Error::parameter(name, format!("must be a whole number from {min} to {max}"))),
        }
    }

    /// Fails on the first parameter nobody asked for: a typo should not silently widen a list.
    pub fn finish(self) -> Result<()> {
        match self.0.into_iter().next() {
            None => Ok(()),
            Some((name, _)) => Err(Error::parameter(&name, "is not a known parameter")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    /// `limit` and `offset` and nothing else: what an opportunity's notes and activities take.
    pub fn parse(mut params: QueryParams) -> Result<Page> {
        let page = params.page()?;
        params.finish()?;
        Ok(page)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    CreatedAt,
    UpdatedAt,
    FollowUpDate,
    EstimatedValue,
}

/// A sort order; ties are broken by id in the same direction, so pages never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Sort {
    fn parse(text: &str) -> Option<Sort> {
        let (descending, name) = match text.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, text),
        };
        let key = match name {
            "created_at" => SortKey::CreatedAt,
            "updated_at" => SortKey::UpdatedAt,
            "follow_up_date" => SortKey::FollowUpDate,
            "estimated_value" => SortKey::EstimatedValue,
            _ => return None,
        };
        Some(Sort { key, descending })
    }
}

/// Which opportunities a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpportunityFilter {
    pub statuses: Vec<Status>,
    pub assigned_to: Option<Uuid>,
    pub category_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub source: Option<String>,
    pub search: Option<SearchWords>,
    /// Only leads not won or lost whose follow-up is due by this instant: the end of today in
    /// the organization's time zone.
    pub follow_up_due_by: Option<Timestamp>,
    /// Only the leads rotting (`true`) or not rotting (`false`) now.
    pub rotting: Option<RotFilter>,
    pub sort: Sort,
    pub page: Page,
}

/// `rotting=true|false`, with what it means in the organization's settings at the time asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotFilter {
    pub rotting: bool,
    /// Per stage that rots, the latest last activity of a rotting lead there
    /// ([`PipelineSettings::rot_cutoffs`]); none when nothing rots.
    pub cutoffs: Vec<(Status, Timestamp)>,
}

impl OpportunityFilter {
    /// Whether anything but the search narrows the list.
    pub fn narrows_beyond_search(&self) -> bool {
        let OpportunityFilter { statuses, assigned_to, category_id, client_id, source, follow_up_due_by, rotting, .. } = self;
        !statuses.is_empty()
            || rotting.is_some()
            || assigned_to.is_some()
            || category_id.is_some()
            || client_id.is_some()
            || source.is_some()
            || follow_up_due_by.is_some()
    }

    /// The filter a query string asks for in the organization of `settings`: `follow_up_due`
    /// counts today in its time zone, `rotting` by its stages' `rot_after_days`.
    pub fn parse_in(params: QueryParams, settings: &PipelineSettings, now: Timestamp) -> Result<Self> {
        let mut filter = OpportunityFilter::parse(params, &settings.timezone, now)?;
        if let Some(rot) = &mut filter.rotting {
            rot.cutoffs = settings.rot_cutoffs(now);
        }
        Ok(filter)
    }

    /// The filter a query string asks for; `follow_up_due` counts today in `zone`. A `rotting`
    /// filter needs the organization's stages: see [`OpportunityFilter::parse_in`].
    pub fn parse(mut params: QueryParams, zone: &TimeZone, now: Timestamp) -> Result<Self> {
        let statuses = params
            .all("status")
            .iter()
            .map(|s| {
                Status::parse(s)
                    .ok_or_else(|| Error::parameter("status", "must be open, contacted, qualified, proposal, won, lost or stale"))
            })
            .collect::<Result<Vec<_>>>()?;
        let sort = match params.one("sort")? {
            None => Sort { key: SortKey::CreatedAt, descending: true },
            Some(text) => Sort::parse(&text).ok_or_else(|| {
                Error::parameter("sort", "must be created_at, updated_at, follow_up_date or estimated_value, with - for descending")
            })?,
        };
        let filter = OpportunityFilter {
            statuses,
            assigned_to: params.uuid("assigned_to")?,
            category_id: params.uuid("category_id")?,
            client_id: params.uuid("client_id")?,
            source: params.text("source")?.map(|s| s.to_lowercase()),
            search: params.search_words()?,
            follow_up_due_by: params.bool("follow_up_due")?.filter(|due| *due).map(|_| zone.end_of_day(now)),
            rotting: params.bool("rotting")?.map(|rotting| RotFilter { rotting, cutoffs: Vec::new() }),
            sort,
            page: params.page()?,
        };
        params.finish()?;
        if filter.search.is_some() && filter.page.offset + filter.page.limit > SEARCH_PAGE_END {
            let message = format!("plus limit must be at most {SEARCH_PAGE_END} with a search; narrow the search to see further");
            return Err(Error::parameter("offset", message));
        }
        Ok(filter)
    }
}

/// Which opportunities the statistics count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsFilter {
    pub assigned_to: Option<Uuid>,
    pub category_id: Option<Uuid>,
}

impl StatsFilter {
    pub fn parse(mut params: QueryParams) -> Result<Self> {
        let filter = StatsFilter { assigned_to: params.uuid("assigned_to")?, category_id: params.uuid("category_id")? };
        params.finish()?;
        Ok(filter)
    }
}

/// `search`, `limit` and `offset`: what the client list takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFilter {
    pub search: Option<String>,
    pub page: Page,
}

impl ClientFilter {
    pub fn parse(mut params: QueryParams) -> Result<Self> {
        let filter = ClientFilter { search: params.search()?.map(|s| s.trim().to_owned()), page: params.page()? };
        params.finish()?;
        Ok(filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &[(&str, &str)]) -> QueryParams {
        QueryParams::new(query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap()
    }

    #[test]
    fn statuses_may_repeat_and_be_comma_separated() {
        let filter =
            OpportunityFilter::parse(params(&[("status", "open,contacted"), ("status", "won")]), &TimeZone::utc(), Timestamp::now())
                .unwrap();
        assert_eq!(filter.statuses, [Status::Open, Status::Contacted, Status::Won]);
        assert_eq!(filter.page, Page { limit: DEFAULT_LIMIT, offset: 0 });
        assert_eq!(filter.sort, Sort { key: SortKey::CreatedAt, descending: true });
    }

    #[test]
    fn bad_and_unknown_parameters_are_named() {
        for (query, parameter) in [
            (vec![("status", "done")], "status"),
            (vec![("limit", "201")], "limit"),
            (vec![("sort", "title")], "sort"),
            (vec![("assigned_to", "me")], "assigned_to"),
            (vec![("stauts", "open")], "stauts"),
            (vec![("sort", "-created_at"), ("sort", "created_at")], "sort"),
            (vec![("client_id", "")], "client_id"),
            (vec![("limit", " ")], "limit"),
            (vec![("search", "a b c d e f g h i")], "search"),
            (vec![("search", "botox"), ("offset", "9951")], "offset"),
        ] {
            match OpportunityFilter::parse(params(&query), &TimeZone::utc(), Timestamp::now()) {
                Err(Error::InvalidParameter { parameter: p, .. }) => assert_eq!(p, parameter),
                other => panic!("{query:?}: {other:?}"),
            }
        }
    }
}
