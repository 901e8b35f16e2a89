//! What a lead search looks for. A search is a list of words; a lead matches when each word
//! begins a word of its title, description, or prospect's name, e-mail or phone, ignoring case.
//! Words the user has finished typing (followed by a space or punctuation) must match a whole
//! word; the last one, while still being typed, matches as a prefix. So `jane@example.com`
//! finds that address but not `janet@example.com`, and `bot` finds "Botox" while the user types.
//!
//! A word is a run of letters, digits and private-use characters (Unicode categories L, N and
//! Co, the same classes SQLite's `unicode61` tokenizer uses); everything else separates words.

use std::sync::LazyLock;

use regex::Regex;

/// The characters of a word; the storage layer's text index tokenizes the same way.
const WORD_CHARACTERS: &str = r"\p{L}\p{N}\p{Co}";

/// Up to how many matches a search counts exactly. Counting every match of a word that a
/// quarter of a million leads contain costs more than finding the page; past this the total is
/// reported as "more than", the way search engines report it.
pub const EXACT_TOTAL_LIMIT: i64 = 1000;

static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("[{WORD_CHARACTERS}]+")).expect("a valid pattern"));

/// One word of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchWord {
    /// Lowercased.
    pub text: String,
    /// Whether it may match the beginning of a longer word.
    pub prefix: bool,
}

/// Whether `word` (lowercased) begins a word of `text` (is one, unless it is a prefix), ignoring case.
pub fn word_matches(word: &str, prefix: bool, text: &str) -> bool {
    WORD.find_iter(text).any(|found| {
        let mut candidate = found.as_str().chars().flat_map(char::to_lowercase);
        let mut wanted = word.chars();
        loop {
            match (wanted.next(), candidate.next()) {
                (None, None) => return true,
                (None, Some(_)) => return prefix,
                (Some(a), Some(b)) if a == b => {}
                _ => return false,
            }
        }
    })
}

/// Every word of `text`, lowercased and in order, repeats included: the words a search can match.
pub fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    WORD.find_iter(text).map(|word| word.as_str().to_lowercase())
}

/// The words of a search, in the order typed, each once. Empty when the search has no letter or
/// digit, which matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchWords(pub Vec<SearchWord>);

impl SearchWords {
    /// A word that another already implies is left out: a repeated word, and the unfinished last
    /// word when a finished one begins with it (`botox bot`). Each word left costs the database
    /// a condition, so `a a a … a` costs what `a` costs.
    pub fn parse(search: &str) -> SearchWords {
        let typed: Vec<SearchWord> = WORD
            .find_iter(search)
            .map(|word| SearchWord { text: word.as_str().to_lowercase(), prefix: word.end() == search.len() })
            .collect();
        let mut words: Vec<SearchWord> = Vec::new();
        for word in &typed {
            let implied =
                |other: &SearchWord| !other.prefix && other.text.starts_with(&word.text) && (word.prefix || other.text == word.text);
            if !words.contains(word) && !typed.iter().any(|other| other != word && implied(other)) {
                words.push(word.clone());
            }
        }
        SearchWords(words)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same words, each matching only whole words: what the search matches at least.
    pub fn whole_words(&self) -> SearchWords {
        SearchWords(self.0.iter().map(|word| SearchWord { text: word.text.clone(), prefix: false }).collect())
    }
}

/// How many leads a list matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    pub count: i64,
    /// False when `count` is [`EXACT_TOTAL_LIMIT`] and more match.
    pub exact: bool,
}

impl Total {
    pub fn exact(count: i64) -> Total {
        Total { count, exact: true }
    }

    /// A count stopped at one past the limit: exact below it, "more than the limit" at it.
    pub fn capped(count: i64) -> Total {
        if count > EXACT_TOTAL_LIMIT { Total::more_than_limit() } else { Total::exact(count) }
    }

    pub fn more_than_limit() -> Total {
        Total { count: EXACT_TOTAL_LIMIT, exact: false }
    }
}

impl From<i64> for Total {
    fn from(count: i64) -> Total {
        Total::exact(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(search: &str) -> Vec<(String, bool)> {
        SearchWords::parse(search).0.into_iter().map(|w| (w.text, w.prefix)).collect()
    }

    #[test]
    fn finished_words_are_whole_and_the_last_is_a_prefix() {
        assert_eq!(words("Jane@Example.co"), [("jane".into(), false), ("example".into(), false), ("co".into(), true)]);
        assert_eq!(words("botox "), [("botox".into(), false)]);
        assert_eq!(words("+1 555-0100"), [("1".into(), false), ("555".into(), false), ("0100".into(), true)]);
    }

    #[test]
    fn each_word_counts_once() {
        assert_eq!(words(&"a ".repeat(100)), [("a".into(), false)]);
        assert_eq!(words(&format!("{}a", "a ".repeat(99))), [("a".into(), false)]);
        assert_eq!(words("botox jane bot"), [("botox".into(), false), ("jane".into(), false)]);
        assert_eq!(words("bot botox"), [("bot".into(), false), ("botox".into(), true)]);
        assert_eq!(words("Jane JANE jan"), [("jane".into(), false)]);
    }

    #[test]
    fn letters_of_any_script_are_words_and_punctuation_is_not() {
        assert_eq!(words("Crème brûlée"), [("crème".into(), false), ("brûlée".into(), true)]);
        assert_eq!(words("ÉLODIE"), [("élodie".into(), true)]);
        assert!(SearchWords::parse("% _ ' \"--").is_empty());
    }

    #[test]
    fn a_word_matches_the_beginning_of_a_word_ignoring_case() {
        let text = "Interested in BOTOX; asked about crème\nJane@Example.com +1 555-0100";
        for (search, expected) in [
            ("botox", true),
            ("bot", true),
            ("bot ", false),
            ("otox", false),
            ("CRÈME", true),
            ("creme", false),
            ("jane@example.co", true),
            ("janet", false),
            ("555", true),
            ("5550100", false),
        ] {
            let words = SearchWords::parse(search);
            assert_eq!(words.0.iter().all(|word| word_matches(&word.text, word.prefix, text)), expected, "{search}");
        }
    }

    #[test]
    fn a_capped_count_is_exact_up_to_the_limit() {
        assert_eq!(Total::capped(EXACT_TOTAL_LIMIT), Total::exact(EXACT_TOTAL_LIMIT));
        assert_eq!(Total::capped(EXACT_TOTAL_LIMIT + 1), Total { count: EXACT_TOTAL_LIMIT, exact: false });
    }
}
