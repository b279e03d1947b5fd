//! The embedded store's search index: a tantivy index of every key's live value,
//! derived from the store and caught up with it, never trusted over it.
//!
//! The index lives in the store's folder (`search/`; in memory for a temporary
//! store). Every sled commit advances the store's *generation* and stamps each head it
//! changes with it, in the same atomic batch. The index records, in its own commit's
//! payload, the generation it reflects. Opening it (on the first search) or any search
//! after a commit first *catches up*: every head stamped after the index's generation
//! is indexed again (or removed), then the index commits with the new generation. So a
//! process killed between the store's commit and the index's commit leaves an index
//! that is behind, which the next search brings level before it answers; a missing or
//! unreadable index is rebuilt from the store the same way, from generation 0. And the
//! index only proposes candidates: [`super::judge`] reads each from the store, so a
//! document that is gone is never answered.

use std::path::{Path, PathBuf};

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use super::{Candidate, Parsed, SearchQuery};
use crate::memory::{EntryMeta, MemoryError, Result, is_reserved};

/// The analyser's name in the index.
const ANALYZER: &str = "baton";
/// The folder of the index inside the store's.
pub(crate) const INDEX_DIR: &str = "search";
/// The indexing writer's memory budget (tantivy's least).
const WRITER_BUDGET: usize = 15_000_000;
/// How much more a word in the key counts than one in the value.
const KEY_BOOST: f32 = 1.5;

/// The index's fields.
struct Fields {
    /// `namespace \0 key`: what a change replaces.
    id: Field,
    namespace: Field,
    key: Field,
    /// `users` or `baton` (baton's own namespaces).
    scope: Field,
    key_words: Field,
    body: Field,
}

/// A key's document to index, or its removal.
pub(crate) struct Change<'a> {
    /// The key's head.
    pub meta: &'a EntryMeta,
    /// Its live value; `None` removes the key from the index.
    pub value: Option<&'a [u8]>,
}

/// The index and its writer, with the generation it holds.
pub(crate) struct SearchIndex {
    writer: IndexWriter,
    reader: IndexReader,
    fields: Fields,
    /// Where it lives; `None` in memory.
    dir: Option<PathBuf>,
    /// The store generation whose changes the writer holds (committed or not).
    pub seen: u64,
    /// The generation of the index's last commit.
    committed: u64,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let words = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: b.add_text_field("id", STRING),
        namespace: b.add_text_field("namespace", STRING | STORED),
        key: b.add_text_field("key", STRING | STORED),
        scope: b.add_text_field("scope", STRING),
        key_words: b.add_text_field("key_words", words.clone()),
        body: b.add_text_field("body", words),
    };
    (b.build(), fields)
}

fn failed(dir: Option<&Path>, what: &str, e: impl std::fmt::Display) -> MemoryError {
    MemoryError::Backend {
        path: dir.map_or_else(|| PathBuf::from("<temporary>"), Path::to_path_buf),
        cause: format!("search index: {what}: {e}").into(),
    }
}

impl SearchIndex {
    /// Opens the index in `store_dir` (in memory if `None`), creating it, or
    /// recreating it empty if it cannot be read; [`SearchIndex::seen`] says which
    /// generation it holds (0 when new).
    pub fn open(store_dir: Option<&Path>) -> Result<Self> {
        let (schema, fields) = schema();
        let dir = store_dir.map(|d| d.join(INDEX_DIR));
        let index = match &dir {
            None => Index::create_in_ram(schema),
            Some(dir) => match Self::open_dir(dir, &schema) {
                Ok(index) => index,
                Err(e) => {
                    tracing::warn!(index = %dir.display(), error = %e, "search index unreadable: rebuilding it from the store");
                    let _ = std::fs::remove_dir_all(dir);
                    std::fs::create_dir_all(dir).map_err(|e| failed(Some(dir), "create", e))?;
                    Index::create_in_dir(dir, schema).map_err(|e| failed(Some(dir), "create", e))?
                }
            },
        };
        index.tokenizers().register(ANALYZER, super::analyzer());
        let d = dir.as_deref();
        let writer = index
            .writer_with_num_threads(1, WRITER_BUDGET)
            .map_err(|e| failed(d, "open its writer", e))?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| failed(d, "open its reader", e))?;
        let committed = index
            .load_metas()
            .map_err(|e| failed(d, "read its metadata", e))?
            .payload
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        Ok(Self {
            writer,
            reader,
            fields,
            dir,
            seen: committed,
            committed,
        })
    }

    fn open_dir(dir: &Path, schema: &Schema) -> std::result::Result<Index, String> {
        if !dir.join("meta.json").exists() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            return Index::create_in_dir(dir, schema.clone()).map_err(|e| e.to_string());
        }
        let index = Index::open_in_dir(dir).map_err(|e| e.to_string())?;
        if index.schema() != *schema {
            return Err("its schema is of another version".into());
        }
        Ok(index)
    }

    /// Replaces (or removes) each changed key's document; the index holds generation
    /// `generation` once the changes are in.
    pub fn apply(&mut self, changes: &[Change<'_>], generation: u64) -> Result<()> {
        let f = &self.fields;
        for change in changes {
            let meta = change.meta;
            let id = format!("{}\0{}", meta.namespace, meta.key);
            self.writer.delete_term(Term::from_field_text(f.id, &id));
            let Some(value) = change.value else {
                continue;
            };
            let mut doc = TantivyDocument::default();
            doc.add_text(f.id, &id);
            doc.add_text(f.namespace, &meta.namespace);
            doc.add_text(f.key, &meta.key);
            let scope = if is_reserved(&meta.namespace) {
                "baton"
            } else {
                "users"
            };
            doc.add_text(f.scope, scope);
            doc.add_text(f.key_words, &meta.key);
            doc.add_text(f.body, super::value_text(value));
            self.writer
                .add_document(doc)
                .map_err(|e| failed(self.dir.as_deref(), "index a document", e))?;
        }
        self.seen = self.seen.max(generation);
        Ok(())
    }

    /// Commits what the writer holds, if anything, and reloads the reader.
    pub fn commit(&mut self) -> Result<()> {
        if self.committed == self.seen {
            return Ok(());
        }
        let d = self.dir.clone();
        let mut prepared = self
            .writer
            .prepare_commit()
            .map_err(|e| failed(d.as_deref(), "commit", e))?;
        prepared.set_payload(&self.seen.to_string());
        prepared
            .commit()
            .map_err(|e| failed(d.as_deref(), "commit", e))?;
        self.reader
            .reload()
            .map_err(|e| failed(d.as_deref(), "reload", e))?;
        self.committed = self.seen;
        Ok(())
    }

    /// The candidates for `parsed` in `query`'s namespace, best first by BM25: `count`
    /// of them after the first `offset`.
    pub fn candidates(
        &self,
        query: &SearchQuery,
        parsed: &Parsed,
        offset: usize,
        count: usize,
    ) -> Result<Vec<Candidate>> {
        let f = &self.fields;
        let mut words: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for clause in &parsed.clauses {
            for (field, boost) in [(f.key_words, KEY_BOOST), (f.body, 1.0)] {
                let q: Box<dyn Query> = if clause.is_phrase() {
                    let terms = clause
                        .terms
                        .iter()
                        .map(|(pos, t)| (*pos, Term::from_field_text(field, t)))
                        .collect();
                    Box::new(PhraseQuery::new_with_offset(terms))
                } else {
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, &clause.terms[0].1),
                        IndexRecordOption::WithFreqs,
                    ))
                };
                words.push((Occur::Should, Box::new(BoostQuery::new(q, boost))));
            }
        }
        let scope: (Occur, Box<dyn Query>) = match &query.namespace {
            Some(ns) => (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.namespace, ns),
                    IndexRecordOption::Basic,
                )),
            ),
            None => (
                Occur::MustNot,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.scope, "baton"),
                    IndexRecordOption::Basic,
                )),
            ),
        };
        let whole = BooleanQuery::new(vec![
            (Occur::Must, Box::new(BooleanQuery::new(words))),
            scope,
        ]);
        let searcher = self.reader.searcher();
        let d = self.dir.as_deref();
        let top = searcher
            .search(
                &whole,
                &TopDocs::with_limit(count)
                    .and_offset(offset)
                    .order_by_score(),
            )
            .map_err(|e| failed(d, "search", e))?;
        let mut out = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher
                .doc(address)
                .map_err(|e| failed(d, "read a document", e))?;
            let text = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            out.push(Candidate {
                namespace: text(f.namespace),
                key: text(f.key),
                rank: f64::from(score),
                entry: None,
            });
        }
        Ok(out)
    }
}

impl Drop for SearchIndex {
    fn drop(&mut self) {
        if let Err(e) = self.commit() {
            tracing::warn!(error = %e, "search index not committed; the next search catches it up");
        }
    }
}
