//! What a search of the memory means, the same on every backend.
//!
//! A query is words and "quoted phrases". Words are analysed once, here, for every
//! backend: split at anything not a letter or digit, case- and accent-folded, English
//! stop words dropped, stemmed (English). A document is searched by its key's words and
//! its value's text (object keys and every string, number and boolean in it).
//!
//! Each backend finds *candidates* with its own ranking: the embedded store with a
//! tantivy index (BM25, [`index`]), PostgreSQL with its full-text search (`ts_rank_cd`).
//! Then [`judge`] does the rest alike for both: it reads each candidate's live value
//! from the store (so a document deleted, expired or rewritten since it was indexed is
//! judged as it is now, or dropped), applies the filters, measures how much of the
//! query the document holds, and marks a snippet.
//!
//! **Similarity** is in 0..1: `(c + r / (r + 1)) / (n + 1)` for a query of `n` words and
//! phrases of which the document holds `c`, where `r` is the backend's rank. A document
//! holding every word scores over `n / (n + 1)`, one holding half of them about a half;
//! the rank orders documents that hold as much. A threshold therefore means "about this
//! share of the query", whichever backend answers.

pub(crate) mod index;

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer, TokenStream,
};

use super::{Entry, EntryMeta, Key, MemoryError, Namespace, Result, Store, Timestamp, is_reserved};

/// The longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 4096;
/// The most words and phrases a query may have.
pub const MAX_CLAUSES: usize = 32;
/// The most results one search returns.
pub const MAX_LIMIT: usize = 1000;
/// About how many characters of a document a snippet shows.
const SNIPPET_CHARS: usize = 160;
/// How a snippet marks a matched word: `**word**`.
pub const MARK: &str = "**";

/// A search: the text, the filters, and how many results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Words and "quoted phrases".
    pub text: String,
    /// Only this namespace; `None`: every users' namespace (baton's own `baton.*` only
    /// when named).
    pub namespace: Option<String>,
    /// Only keys starting with this.
    #[serde(default)]
    pub key_prefix: String,
    /// Only documents stored with every one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Only documents the stage of this name wrote (its run, or `stage:<name>`).
    #[serde(default)]
    pub stage: Option<String>,
    /// Only documents written at or after this time.
    #[serde(default)]
    pub after: Option<Timestamp>,
    /// Only documents written before this time.
    #[serde(default)]
    pub before: Option<Timestamp>,
    /// The most results (at most [`MAX_LIMIT`]).
    pub limit: usize,
    /// The least similarity a result may have, in 0..1.
    #[serde(default)]
    pub threshold: f64,
}

impl SearchQuery {
    /// A search for `text` in every users' namespace, ten results, no threshold.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            namespace: None,
            key_prefix: String::new(),
            tags: Vec::new(),
            stage: None,
            after: None,
            before: None,
            limit: 10,
            threshold: 0.0,
        }
    }

    /// Only in `namespace`.
    pub fn in_namespace(mut self, namespace: &Namespace) -> Self {
        self.namespace = Some(namespace.as_str().to_owned());
        self
    }

    /// At most `limit` results.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Whether `meta` passes the filters (not the words).
    fn admits(&self, meta: &EntryMeta) -> bool {
        let in_scope = match &self.namespace {
            Some(ns) => meta.namespace == *ns,
            None => !is_reserved(&meta.namespace),
        };
        let provenance = meta.provenance.as_ref();
        let stage_ok = self.stage.as_ref().is_none_or(|stage| {
            meta.writer.0.strip_prefix("stage:") == Some(stage.as_str())
                || provenance
                    .and_then(|p| p.get("stage"))
                    .and_then(|s| s.as_str())
                    == Some(stage.as_str())
        });
        let tags_ok = self.tags.is_empty() || {
            let stored: HashSet<&str> = provenance
                .and_then(|p| p.get("tags"))
                .and_then(|t| t.as_array())
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str())
                .collect();
            self.tags.iter().all(|t| stored.contains(t.as_str()))
        };
        in_scope
            && meta.key.starts_with(&self.key_prefix)
            && stage_ok
            && tags_ok
            && self.after.is_none_or(|t| meta.written_at >= t)
            && self.before.is_none_or(|t| meta.written_at < t)
    }
}

/// One result: the document, how similar it is, and why it matched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The live revision found.
    pub entry: Entry,
    /// In 0..1 (see the module's documentation).
    pub similarity: f64,
    /// The backend's own rank (BM25 on the embedded store, `ts_rank_cd` on PostgreSQL).
    pub rank: f64,
    /// The query's words and phrases the document holds, as given.
    pub matched: Vec<String>,
    /// A piece of the document around its best match, the matched words marked `**so**`.
    pub snippet: String,
}

impl Hit {
    /// The hit as scripts and pages read it: where, how similar, why, and the value.
    pub fn view(&self) -> serde_json::Value {
        let meta = &self.entry.meta;
        serde_json::json!({
            "namespace": meta.namespace,
            "key": meta.key,
            "revision": meta.revision,
            "similarity": self.similarity,
            "rank": self.rank,
            "matched": self.matched,
            "snippet": self.snippet,
            "written_at": meta.written_at,
            "writer": meta.writer,
            "value": self.entry.json(),
        })
    }
}

/// A time a search filter names: an RFC 3339 time (`2026-12-03T10:00:00Z`, or a date)
/// or how long ago (`2h`, `3days`).
pub fn parse_when(text: &str, now: Timestamp) -> std::result::Result<Timestamp, String> {
    if let Ok(t) = humantime::parse_rfc3339_weak(text) {
        let since = t
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| format!("{text:?} is before 1970"))?;
        return Ok(Timestamp(since.as_millis() as u64));
    }
    if let Ok(t) = humantime::parse_rfc3339_weak(&format!("{text}T00:00:00")) {
        let since = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        return Ok(Timestamp(since.as_millis() as u64));
    }
    match humantime::parse_duration(text) {
        Ok(ago) => Ok(Timestamp(
            now.millis().saturating_sub(ago.as_millis() as u64),
        )),
        Err(_) => Err(format!(
            "{:?} is neither a time (2026-12-03T10:00:00Z, 2026-12-03) nor how long ago (2h, 3days)",
            short(text)
        )),
    }
}

/// A query's word or phrase, analysed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Clause {
    /// As the user wrote it.
    pub shown: String,
    /// Its terms with their positions (a stop word leaves a gap), in order.
    pub terms: Vec<(usize, String)>,
}

impl Clause {
    /// Whether this is a phrase of more than one term.
    pub fn is_phrase(&self) -> bool {
        self.terms.len() > 1
    }
}

/// A query, parsed and analysed.
#[derive(Clone, Debug)]
pub(crate) struct Parsed {
    /// Its words and phrases, each once.
    pub clauses: Vec<Clause>,
    /// The words folded but neither stemmed nor stop-word filtered, for PostgreSQL to
    /// analyse itself: one string per clause.
    pub folded: Vec<String>,
}

/// The analyser of every searched text: words, folded, stop words out, stemmed.
pub(crate) fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::new(Language::English).expect("tantivy has English stop words"))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Words folded (case, accents) and nothing more: what PostgreSQL is given to stem.
pub(crate) fn folder() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// `text`'s terms with their positions and byte ranges.
fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(usize, String, usize, usize)> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(t) = stream.next() {
        out.push((t.position, t.text.clone(), t.offset_from, t.offset_to));
    }
    out
}

/// `text` folded, its words separated by spaces.
pub(crate) fn fold(text: &str) -> String {
    let mut folder = folder();
    let mut out = String::with_capacity(text.len());
    let mut stream = folder.token_stream(text);
    while let Some(t) = stream.next() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&t.text);
    }
    out
}

/// Parses and analyses `text`; refuses one too long, with too many words, or with no
/// word to search for. An unmatched `"` opens a phrase that runs to the end.
pub(crate) fn parse(text: &str) -> Result<Parsed> {
    let refuse = |reason: String| MemoryError::InvalidQuery {
        query: short(text),
        reason,
    };
    if text.len() > MAX_QUERY_BYTES {
        return Err(refuse(format!(
            "a query is at most {MAX_QUERY_BYTES} bytes; this one is {}",
            text.len()
        )));
    }
    let mut analyzer = analyzer();
    let mut clauses: Vec<Clause> = Vec::new();
    let mut folded = Vec::new();
    let mut add = |shown: &str, terms: Vec<(usize, String)>, clauses: &mut Vec<Clause>| {
        if terms.is_empty() || clauses.iter().any(|c| c.terms == terms) {
            return;
        }
        clauses.push(Clause {
            shown: shown.to_owned(),
            terms,
        });
        folded.push(fold(shown));
    };
    for (i, part) in text.split('"').enumerate() {
        if i % 2 == 1 {
            let terms = tokens(&mut analyzer, part)
                .into_iter()
                .map(|(pos, term, ..)| (pos, term))
                .collect::<Vec<_>>();
            let base = terms.first().map_or(0, |t| t.0);
            let terms = terms.into_iter().map(|(p, t)| (p - base, t)).collect();
            add(part.trim(), terms, &mut clauses);
        } else {
            for (_, term, from, to) in tokens(&mut analyzer, part) {
                add(&part[from..to], vec![(0, term)], &mut clauses);
            }
        }
    }
    if clauses.is_empty() {
        return Err(refuse(
            "it has no word to search for (common words such as \"the\" are not searched)".into(),
        ));
    }
    if clauses.len() > MAX_CLAUSES {
        return Err(refuse(format!(
            "a query has at most {MAX_CLAUSES} words and phrases; this one has {}",
            clauses.len()
        )));
    }
    Ok(Parsed { clauses, folded })
}

/// The start of `text` without its control characters, for an error message.
fn short(text: &str) -> String {
    let head: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(crate::text::SHORT + 1)
        .collect();
    crate::text::short(&head)
}

/// The text a document is searched by, besides its key: the object keys and every
/// string, number and boolean of its value, a line each.
pub(crate) fn value_text(value: &[u8]) -> String {
    fn walk(value: &serde_json::Value, out: &mut String) {
        use serde_json::Value;
        match value {
            Value::Null => {}
            Value::Bool(b) => line(out, if *b { "true" } else { "false" }),
            Value::Number(n) => line(out, &n.to_string()),
            Value::String(s) => line(out, s),
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(map) => {
                for (k, v) in map {
                    line(out, k);
                    walk(v, out);
                }
            }
        }
    }
    fn line(out: &mut String, text: &str) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(text);
    }
    match serde_json::from_slice::<serde_json::Value>(value) {
        Ok(v) => {
            let mut out = String::new();
            walk(&v, &mut out);
            out
        }
        Err(_) => String::from_utf8_lossy(value).into_owned(),
    }
}

/// A candidate a backend found: which document, and the backend's rank of it.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub namespace: String,
    pub key: String,
    pub rank: f64,
    /// Its live revision, when the backend read it with the candidate (in the same
    /// snapshot, TTL applied); else [`judge`] reads it.
    pub entry: Option<Entry>,
}

/// Judges the candidates a backend found, best first by its rank, as the module says:
/// reads each live from `store`, filters, scores, marks a snippet, and returns the hits
/// ordered by similarity. `more(offset, count)` gives further candidates when filters
/// or the threshold leave fewer than asked for; it returns fewer than `count` when
/// there are no more.
pub(crate) fn judge(
    store: &dyn Store,
    query: &SearchQuery,
    parsed: &Parsed,
    more: &mut dyn FnMut(usize, usize) -> Result<Vec<Candidate>>,
) -> Result<Vec<Hit>> {
    let limit = query.limit.min(MAX_LIMIT);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let page = (limit * 3).max(30);
    let mut analyzer = analyzer();
    let mut hits = Vec::new();
    let mut offset = 0;
    loop {
        let candidates = more(offset, page)?;
        let exhausted = candidates.len() < page;
        offset += candidates.len();
        for c in candidates {
            let entry = match c.entry {
                Some(entry) => entry,
                None => {
                    let (Ok(ns), Ok(key)) = (Namespace::new(c.namespace), Key::new(c.key)) else {
                        continue;
                    };
                    match store.get(&ns, &key)? {
                        Some(entry) => entry,
                        None => continue, // gone since it was indexed
                    }
                }
            };
            if !query.admits(&entry.meta) {
                continue;
            }
            if let Some(hit) = score(&mut analyzer, parsed, entry, c.rank)
                && hit.similarity >= query.threshold
            {
                hits.push(hit);
            }
        }
        if hits.len() >= limit || exhausted {
            break;
        }
    }
    hits.sort_by(|a, b| {
        b.similarity
            .total_cmp(&a.similarity)
            .then_with(|| a.entry.meta.namespace.cmp(&b.entry.meta.namespace))
            .then_with(|| a.entry.meta.key.cmp(&b.entry.meta.key))
    });
    hits.truncate(limit);
    Ok(hits)
}

/// Where each term occurs in a text.
type Positions = HashMap<String, Vec<usize>>;

fn positions(tokens: &[(usize, String, usize, usize)]) -> Positions {
    let mut out: Positions = HashMap::new();
    for (pos, term, ..) in tokens {
        out.entry(term.clone()).or_default().push(*pos);
    }
    out
}

/// Whether `clause` occurs in a text with these term positions.
fn holds(clause: &Clause, at: &Positions) -> bool {
    let (first_offset, first) = &clause.terms[0];
    let Some(starts) = at.get(first) else {
        return false;
    };
    starts.iter().any(|&start| {
        let Some(base) = start.checked_sub(*first_offset) else {
            return false;
        };
        clause.terms[1..]
            .iter()
            .all(|(offset, term)| at.get(term).is_some_and(|ps| ps.contains(&(base + offset))))
    })
}

/// The hit `entry` makes for `parsed`, or `None` if it holds none of it.
fn score(analyzer: &mut TextAnalyzer, parsed: &Parsed, entry: Entry, rank: f64) -> Option<Hit> {
    let body = value_text(&entry.value);
    let key_tokens = tokens(analyzer, &entry.meta.key);
    let body_tokens = tokens(analyzer, &body);
    let (in_key, in_body) = (positions(&key_tokens), positions(&body_tokens));
    let matched: Vec<&Clause> = parsed
        .clauses
        .iter()
        .filter(|c| holds(c, &in_key) || holds(c, &in_body))
        .collect();
    if matched.is_empty() {
        return None;
    }
    let terms: HashSet<&str> = matched
        .iter()
        .flat_map(|c| c.terms.iter().map(|(_, t)| t.as_str()))
        .collect();
    let snippet = match snippet(&body, &body_tokens, &terms) {
        Some(s) => s,
        None => snippet(&entry.meta.key, &key_tokens, &terms).unwrap_or_default(),
    };
    let rank = rank.max(0.0);
    let n = parsed.clauses.len() as f64;
    let similarity = (matched.len() as f64 + rank / (rank + 1.0)) / (n + 1.0);
    Some(Hit {
        similarity,
        rank,
        matched: matched.iter().map(|c| c.shown.clone()).collect(),
        snippet,
        entry,
    })
}

/// About [`SNIPPET_CHARS`] of `text` around the densest run of matched terms, each
/// marked; `None` when no term matched in `text`.
fn snippet(
    text: &str,
    tokens: &[(usize, String, usize, usize)],
    terms: &HashSet<&str>,
) -> Option<String> {
    let marked: Vec<(usize, usize)> = tokens
        .iter()
        .filter(|(_, t, ..)| terms.contains(t.as_str()))
        .map(|(_, _, from, to)| (*from, *to))
        .collect();
    if marked.is_empty() {
        return None;
    }
    // The window starting at a match that holds the most matches.
    let best = (0..marked.len())
        .max_by_key(|&i| {
            let end = marked[i].0 + SNIPPET_CHARS;
            (
                marked[i..].iter().take_while(|m| m.1 <= end).count(),
                std::cmp::Reverse(i),
            )
        })
        .unwrap_or(0);
    let mut start = marked[best].0.saturating_sub(SNIPPET_CHARS / 4);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    // Start at a word.
    if start > 0
        && let Some(space) = text[start..marked[best].0].find(char::is_whitespace)
    {
        start += space + 1;
    }
    let mut end = (start + SNIPPET_CHARS).min(text.len()).max(marked[best].1);
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for &(from, to) in marked.iter().filter(|m| m.0 >= start && m.1 <= end) {
        push_plain(&mut out, &text[at..from]);
        out.push_str(MARK);
        push_plain(&mut out, &text[from..to]);
        out.push_str(MARK);
        at = to;
    }
    push_plain(&mut out, &text[at..end]);
    if end < text.len() {
        out.push('…');
    }
    Some(out)
}

/// Appends `text` with line breaks and control characters as spaces.
fn push_plain(out: &mut String, text: &str) {
    out.extend(text.chars().map(|c| if c.is_control() { ' ' } else { c }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_stemmed_and_stop_words_dropped() {
        let parsed = parse("The Caching of RÉSUMÉS").unwrap();
        let terms: Vec<_> = parsed
            .clauses
            .iter()
            .map(|c| c.terms[0].1.clone())
            .collect();
        assert_eq!(terms, ["cach", "resum"]);
    }

    #[test]
    fn a_quoted_phrase_is_one_clause_and_an_open_quote_runs_to_the_end() {
        let parsed = parse(r#"latency "p99 of the checkout" budget"#).unwrap();
        assert_eq!(parsed.clauses.len(), 3);
        assert!(parsed.clauses[1].is_phrase());
        // "of the" are stop words: the gap stays, so the phrase is exact.
        assert_eq!(
            parsed.clauses[1].terms,
            [(0, "p99".to_owned()), (3, "checkout".to_owned())]
        );
        let open = parse(r#"slo "error budget"#).unwrap();
        assert_eq!(open.clauses[1].shown, "error budget");
        assert!(open.clauses[1].is_phrase());
    }

    #[test]
    fn hostile_queries_are_refused_with_a_reason() {
        let long = "word ".repeat(MAX_QUERY_BYTES);
        let e = parse(&long).unwrap_err().to_string();
        assert!(e.contains("at most 4096 bytes"), "{e}");
        for empty in [
            "",
            "   ",
            "\"\"",
            "the of a",
            "\u{1}\u{7f}",
            "+-&|!(){}[]^~*?:\\/",
        ] {
            let e = parse(empty).unwrap_err().to_string();
            assert!(e.contains("no word to search for"), "{empty:?}: {e}");
        }
        let many: String = (0..40).map(|i| format!("w{i} ")).collect();
        assert!(parse(&many).unwrap_err().to_string().contains("at most 32"));
    }

    #[test]
    fn a_phrase_must_occur_in_order_and_a_snippet_marks_the_match() {
        let parsed = parse(r#""error budget""#).unwrap();
        let mut a = analyzer();
        let yes = tokens(&mut a, "the monthly error budget is spent");
        let no = tokens(&mut a, "a budget for every error");
        assert!(holds(&parsed.clauses[0], &positions(&yes)));
        assert!(!holds(&parsed.clauses[0], &positions(&no)));
        let terms: HashSet<&str> = ["error", "budget"].into_iter().collect();
        let s = snippet("the monthly error budget is spent", &yes, &terms).unwrap();
        assert_eq!(s, "the monthly **error** **budget** is spent");
    }

    #[test]
    fn a_value_is_searched_by_its_object_keys_and_leaves() {
        let text = value_text(br#"{"slo":{"p99_ms":200,"name":"checkout"},"ok":true}"#);
        assert_eq!(text, "slo\np99_ms\n200\nname\ncheckout\nok\ntrue");
    }
}
