//! The opportunity list's planner: one statement for a page and its total, by the cheapest
//! way the filter and the search allow.

use domain::Result;
use domain::Timestamp;
use domain::opportunity::{OpportunityView, Status};
use domain::query::{OpportunityFilter, SortKey};
use domain::search::{EXACT_TOTAL_LIMIT, SearchWord, SearchWords, Total};
use uuid::Uuid;

use super::rows::{self, view_of_page};
use super::{Backend, Dialect, Param, RowReader, Run, Statement, TextSearch, Triage};

/// A page of an organization's opportunities and its total (see [`ListFilter::page`]).
pub(super) async fn opportunities<B: Backend>(
    reader: &mut B::Reader,
    org_id: Uuid,
    filter: &OpportunityFilter,
) -> Result<(Vec<OpportunityView>, Total)> {
    let mut list = ListFilter { dialect: &B::DIALECT, org_id, filter, matches: None };
    if let Some(words) = &filter.search {
        if words.is_empty() {
            return Ok((Vec::new(), Total::exact(0)));
        }
        list.matches = Some(triage::<B>(reader, org_id, words).await?);
    }
    match list.page(reader).await? {
        Some(page) => Ok(page),
        None => {
            list.matches = Some(Matches::Many);
            Ok(list.page(reader).await?.expect("a list walking its order always pages"))
        }
    }
}

/// Up to `limit` of the leads the filter matches (its page and sort aside), in the order of their
/// ids, after the lead `after`: a keyset walk, so an export of a million leads reads each page
/// from the primary key as fast as the first. A search checks each lead row by row, as a list
/// matching many leads does.
pub(super) async fn export_page<B: Backend>(
    reader: &mut B::Reader,
    org_id: Uuid,
    filter: &OpportunityFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<OpportunityView>> {
    if filter.search.as_ref().is_some_and(SearchWords::is_empty) {
        return Ok(Vec::new());
    }
    let list = ListFilter { dialect: &B::DIALECT, org_id, filter, matches: filter.search.as_ref().map(|_| Matches::Many) };
    let mut statement = Statement::new("");
    let page = statement.subquery(|page| {
        page.push("SELECT o.org_id, o.id FROM opportunities o");
        list.push_where(page);
        if let Some(after) = after {
            page.push(" AND o.id > ").push_bind(after);
        }
        page.push(" ORDER BY o.id LIMIT ").push_bind(limit);
    });
    statement.push(&view_of_page(&page, "")).push(" ORDER BY o.id");
    reader.fetch_all(statement).await?.iter().map(|row| rows::opportunity_view(row)).collect()
}

/// Which maintained totals answer a question: the whole organization's (migration 0008, a few
/// dozen rows) unless it asks about one assignee or category (0005, a row per group).
pub(super) fn totals_scope(assigned_to: Option<Uuid>, category_id: Option<Uuid>) -> &'static str {
    if assigned_to.is_none() && category_id.is_none() { "org_totals" } else { "totals" }
}

/// How a list finds the leads its search matches.
#[derive(Clone, Copy)]
enum Matches {
    /// Through the text index, inside the page's own statement, read for the word `driver`:
    /// the first [`EXACT_TOTAL_LIMIT`] + 1 matches, which that statement also counts. If there
    /// are that many, the set is incomplete and the list starts over with [`Matches::Many`].
    Indexed { driver: usize },
    /// More than [`EXACT_TOTAL_LIMIT`]: the list walks its own order and checks each lead, which
    /// finds a page of a common word after a few dozen leads.
    Many,
}

/// How the list finds the search's matches, known cheaply (see [`Triage`]).
async fn triage<B: Backend>(reader: &mut B::Reader, org_id: Uuid, words: &SearchWords) -> Result<Matches> {
    match B::DIALECT.text_search.triage {
        Triage::WholeWordsFirst { cheap_prefix_length } => whole_words_first::<B>(reader, org_id, words, cheap_prefix_length).await,
        Triage::RarestWord { entries } => rarest_word(reader, org_id, words, entries).await,
    }
}

/// When a prefix is one the index answers slowly, a whole-word count is asked first. It matches
/// no more than the search does and the index answers it directly, so a common word like
/// "botox" ends here.
async fn whole_words_first<B: Backend>(
    reader: &mut B::Reader,
    org_id: Uuid,
    words: &SearchWords,
    cheap_prefix_length: usize,
) -> Result<Matches> {
    if !words.0.iter().any(|word| word.prefix && word.text.chars().count() > cheap_prefix_length) {
        return Ok(Matches::Indexed { driver: 0 });
    }
    let mut count = Statement::new("");
    let whole_words = (B::DIALECT.text_search.matching)(&mut count, org_id, &words.whole_words(), 0, EXACT_TOTAL_LIMIT + 1);
    count.push(&format!("SELECT COUNT(*) AS matches FROM ({whole_words}) m"));
    let many = reader.fetch_one(count).await?.int("matches")? > EXACT_TOTAL_LIMIT;
    Ok(if many { Matches::Many } else { Matches::Indexed { driver: 0 } })
}

/// Each word's entries counted up to one past the limit, in one statement: a word's entries are
/// at least its leads, so the word with the fewest bounds the matches.
async fn rarest_word<R: Run>(
    reader: &mut R,
    org_id: Uuid,
    words: &SearchWords,
    entries: fn(&mut Statement, Uuid, &SearchWord) -> String,
) -> Result<Matches> {
    let mut counts = Statement::new("");
    let columns: Vec<_> = (words.0.iter().enumerate())
        .map(|(i, word)| {
            format!("(SELECT COUNT(*) FROM ({} LIMIT {}) e) AS word{i}", entries(&mut counts, org_id, word), EXACT_TOTAL_LIMIT + 1)
        })
        .collect();
    counts.push(&format!("SELECT {}", columns.join(", ")));
    let row = reader.fetch_one(counts).await?;
    let counted = (0..words.len()).map(|i| Ok((row.int(&format!("word{i}"))?, i))).collect::<Result<Vec<_>>>()?;
    Ok(match counted.into_iter().min() {
        Some((count, driver)) if count <= EXACT_TOTAL_LIMIT => Matches::Indexed { driver },
        _ => Matches::Many,
    })
}

/// One opportunity list: its filter, and how its search (if any) is answered.
struct ListFilter<'a> {
    dialect: &'static Dialect,
    org_id: Uuid,
    filter: &'a OpportunityFilter,
    matches: Option<Matches>,
}

impl ListFilter<'_> {
    /// The page and its total in one statement: the page's rows carry the counts the total needs
    /// as columns (only a page past the end asks for them on its own). `None` when the text
    /// index found more matches than it was asked for, so the list must walk its order instead.
    async fn page<R: Run>(&self, reader: &mut R) -> Result<Option<(Vec<OpportunityView>, Total)>> {
        let filter = self.filter;
        let mut statement = Statement::new("");
        let page = statement.subquery(|page| {
            page.push("SELECT o.org_id, o.id");
            self.push_from_where(page);
            page.push(&order_by(filter));
            page.push(" LIMIT ").push_bind(filter.page.limit).push(" OFFSET ").push_bind(filter.page.offset);
        });
        let counts: String = self.count_columns(&mut statement).iter().map(|column| format!("{column}, ")).collect();
        statement.push(&view_of_page(&page, &counts)).push(&order_by(filter));
        let rows = reader.fetch_all(statement).await?;

        let (search_matches, list_total) = match rows.first() {
            Some(row) => self.read_counts(row)?,
            None if counts.is_empty() => (None, None),
            None => {
                let mut alone = Statement::new("");
                let columns = self.count_columns(&mut alone).join(", ");
                alone.push(&format!("SELECT {columns}"));
                self.read_counts(&reader.fetch_one(alone).await?)?
            }
        };
        if search_matches.is_some_and(|matches| matches > EXACT_TOTAL_LIMIT) {
            return Ok(None);
        }
        let total = match (self.matches, list_total.or(search_matches)) {
            (Some(Matches::Many), Some(count)) => Total::capped(count),
            (_, Some(count)) => Total::exact(count),
            (_, None) => Total::more_than_limit(),
        };
        Ok(Some((rows.iter().map(|row| rows::opportunity_view(row)).collect::<Result<_>>()?, total)))
    }

    /// Whether the page counts the text index's matches (`search_matches`), and whether it
    /// counts the list (`list_total`). A search with no other filter needs no list count: its
    /// total is the index's count, or "more than the limit" when there are many.
    fn counted(&self) -> (bool, bool) {
        let narrowed = self.filter.narrows_beyond_search();
        match self.matches {
            None => (false, true),
            Some(Matches::Indexed { .. }) => (true, narrowed),
            Some(Matches::Many) => (false, narrowed),
        }
    }

    /// The counting columns of [`Self::counted`], binding their values into `statement`.
    fn count_columns(&self, statement: &mut Statement) -> Vec<String> {
        let (search_matches, list_total) = self.counted();
        let mut columns = Vec::new();
        if let (true, Some(words), Some(Matches::Indexed { driver })) = (search_matches, &self.filter.search, self.matches) {
            let matching = (self.dialect.text_search.matching)(statement, self.org_id, words, driver, EXACT_TOTAL_LIMIT + 1);
            columns.push(format!("(SELECT COUNT(*) FROM ({matching}) m) AS search_matches"));
        }
        if list_total {
            let count = statement.subquery(|count| self.push_count(count));
            columns.push(format!("({count}) AS list_total"));
        }
        columns
    }

    fn read_counts(&self, row: &impl RowReader) -> Result<(Option<i64>, Option<i64>)> {
        let (search_matches, list_total) = self.counted();
        let read = |wanted: bool, column: &str| if wanted { row.int(column).map(Some) } else { Ok(None) };
        Ok((read(search_matches, "search_matches")?, read(list_total, "list_total")?))
    }

    /// How many opportunities the list has (column `total`): from the maintained totals when
    /// the filter is only by status, source, assignee or category (constant time); for a search
    /// matching more than the exact-total limit, counted up to one past it; else by counting rows.
    fn push_count(&self, statement: &mut Statement) {
        let filter = self.filter;
        if let Some(Matches::Many) = self.matches {
            statement.push("SELECT COUNT(*) AS total FROM (SELECT 1");
            self.push_from_where(statement);
            statement.push(" LIMIT ").push_bind(EXACT_TOTAL_LIMIT + 1).push(") matches");
        } else if filter.search.is_some() || filter.client_id.is_some() || filter.follow_up_due_by.is_some() || filter.rotting.is_some() {
            statement.push("SELECT COUNT(*) AS total");
            self.push_from_where(statement);
        } else {
            let scope = totals_scope(filter.assigned_to, filter.category_id);
            statement.push(&format!("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) AS total FROM pipeline_{scope} o"));
            self.push_where(statement);
        }
    }

    /// ` FROM … WHERE …` over the opportunities. The text index's matches, when they are known
    /// to be few, come first and the opportunities are looked up by key: written as a CROSS
    /// JOIN, which SQLite always runs in the order written (it would otherwise walk the list's
    /// order through every lead to find the one that matches) and PostgreSQL plans as it likes.
    fn push_from_where(&self, statement: &mut Statement) {
        match (self.matches, &self.filter.search) {
            (Some(Matches::Indexed { driver }), Some(words)) => {
                let TextSearch { matching, key, .. } = self.dialect.text_search;
                let matching = matching(statement, self.org_id, words, driver, EXACT_TOTAL_LIMIT + 1);
                statement.push(&format!(" FROM ({matching}) m CROSS JOIN opportunities o"));
                self.push_where(statement);
                statement.push(&format!(" AND {key} = m.key"));
            }
            _ => {
                statement.push(" FROM opportunities o");
                self.push_where(statement);
            }
        }
    }

    fn push_where(&self, statement: &mut Statement) {
        let filter = self.filter;
        statement.push(" WHERE o.org_id = ").push_bind(self.org_id);
        if !filter.statuses.is_empty() {
            push_in(statement, "o.status", filter.statuses.iter().map(|status| status.as_str()));
        }
        for (column, value) in
            [("o.assigned_to", filter.assigned_to), ("o.category_id", filter.category_id), ("o.client_id", filter.client_id)]
        {
            if let Some(value) = value {
                statement.push(&format!(" AND {column} = ")).push_bind(value);
            }
        }
        if let Some(source) = &filter.source {
            statement.push(" AND o.source = ").push_bind(source);
        }
        if let Some(due_by) = filter.follow_up_due_by {
            statement.push(" AND o.status NOT IN ('won', 'lost') AND o.follow_up_date <= ").push_bind(due_by);
        }
        if let Some(rot) = &filter.rotting {
            match (rot.rotting, rot.cutoffs.is_empty()) {
                (true, true) => {
                    statement.push(" AND 1 = 0");
                }
                (false, true) => {}
                (rotting, false) => {
                    statement.push(if rotting { " AND " } else { " AND NOT " });
                    push_rotting(statement, &rot.cutoffs);
                }
            }
        }
        if let (Some(Matches::Many), Some(words)) = (self.matches, &filter.search) {
            for word in &words.0 {
                let condition = (self.dialect.text_search.matches_word)(statement, word);
                statement.push(" AND ").push(&condition);
            }
        }
    }
}

/// `(…)`: the lead is rotting, in one of the stages of `cutoffs` (not empty) and last active at
/// or before its cut-off.
pub(super) fn push_rotting(statement: &mut Statement, cutoffs: &[(Status, Timestamp)]) {
    for (i, (status, cutoff)) in cutoffs.iter().enumerate() {
        statement.push(if i == 0 { "((o.status = " } else { " OR (o.status = " }).push_bind(status.as_str());
        statement.push(" AND o.last_activity_at <= ").push_bind(*cutoff).push(")");
    }
    statement.push(")");
}

/// ` AND column IN (values…)`, for a non-empty list of values.
pub(super) fn push_in<T: Into<Param>>(statement: &mut Statement, column: &str, values: impl Iterator<Item = T>) {
    statement.push(&format!(" AND {column} IN ("));
    for (i, value) in values.enumerate() {
        statement.push(if i == 0 { "" } else { ", " }).push_bind(value);
    }
    statement.push(")");
}

/// Nulls sort last in either direction: a lead with no follow-up date is not the most urgent.
/// Columns that are never null sort plainly, so their index gives the order.
fn order_by(filter: &OpportunityFilter) -> String {
    let (column, nullable) = match filter.sort.key {
        SortKey::CreatedAt => ("o.created_at", false),
        SortKey::UpdatedAt => ("o.updated_at", false),
        SortKey::FollowUpDate => ("o.follow_up_date", true),
        SortKey::EstimatedValue => ("o.estimated_value", true),
    };
    let direction = if filter.sort.descending { "DESC" } else { "ASC" };
    let nulls_last = if nullable { format!("({column} IS NULL), ") } else { String::new() };
    format!(" ORDER BY {nulls_last}{column} {direction}, o.id {direction}")
}
