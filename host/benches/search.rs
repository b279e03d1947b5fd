//! Search benchmarks: a ranked search (two words, ten results) over 1,000, 10,000 and
//! 100,000 documents on each backend, the embedded store (its tantivy index) and
//! PostgreSQL (its GIN index) on a throwaway local server; and what the index costs:
//! the time to build it from the store, and its size beside the store's.
//!
//! The documents are generated: about 40 words each from a vocabulary of 2,000, one
//! key per document. The query's two words are each in about one document in forty.
//!
//! Run: `cargo bench -p baton --bench search` (`BATON_SEARCH_SIZES=1000,10000` to
//! choose the sizes).

// criterion_group! and criterion_main! generate undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use baton::memory::{
    Key, Namespace, Op, PostgresStore, SearchQuery, SledStore, Store, StoreOptions, Writer,
};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

#[path = "../../tests/support/postgres.rs"]
mod postgres;

const QUERY: &str = "word17 word1234";

fn sizes() -> Vec<usize> {
    std::env::var("BATON_SEARCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000])
}

/// Fills `store` with `n` generated documents, a thousand per commit.
fn fill(store: &dyn Store, n: usize) {
    let ns = Namespace::new("coding-pipeline").unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut word = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        format!("word{}", seed % 2000)
    };
    for start in (0..n).step_by(1000) {
        let ops = (start..(start + 1000).min(n))
            .map(|i| {
                let text: Vec<String> = (0..40).map(|_| word()).collect();
                let key = Key::new(format!("docs/{i:06}")).unwrap();
                Op::put(
                    &ns,
                    &key,
                    json!({"title": format!("document {i}"), "text": text.join(" ")}),
                )
            })
            .collect();
        store.commit(&Writer::cli(), ops).unwrap();
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn search(c: &mut Criterion, store: &dyn Store, name: &str) {
    let query = SearchQuery::new(QUERY).limit(10);
    c.bench_function(name, |b| {
        b.iter(|| black_box(store.search(black_box(&query)).unwrap()))
    });
}

fn on_sled(c: &mut Criterion) {
    for n in sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = SledStore::open(&path, StoreOptions::default()).unwrap();
        let started = Instant::now();
        fill(&store, n);
        let filled = started.elapsed();
        drop(store);
        // The index is built by the first search, from the store.
        let store = SledStore::open(&path, StoreOptions::default()).unwrap();
        let started = Instant::now();
        let hits = store.search(&SearchQuery::new(QUERY)).unwrap();
        let built = started.elapsed();
        assert!(!hits.is_empty());
        let index = dir_bytes(&path.join("search"));
        let total = dir_bytes(&path);
        eprintln!(
            "sled, {n} documents: stored in {filled:.2?}; index built in {built:.2?}, {:.1} MiB \
             beside a store of {:.1} MiB",
            index as f64 / 1048576.0,
            (total - index) as f64 / 1048576.0
        );
        search(c, &store, &format!("search/sled, {n} documents"));
    }
}

fn on_postgres(c: &mut Criterion) {
    let Some(server) = postgres::server() else {
        return;
    };
    for n in sizes() {
        let url = server.new_database();
        let store = PostgresStore::open(&url, StoreOptions::default()).unwrap();
        let started = Instant::now();
        fill(&store, n);
        let filled = started.elapsed();
        let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        let row = client
            .query_one(
                "SELECT pg_relation_size('baton_heads_search')::bigint,
                        pg_total_relation_size('baton_heads')::bigint,
                        pg_total_relation_size('baton_revisions')::bigint",
                &[],
            )
            .unwrap();
        let (gin, heads, revisions): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        eprintln!(
            "postgres, {n} documents: stored (with their search vectors) in {filled:.2?}; \
             GIN index {:.1} MiB, heads with vectors and indexes {:.1} MiB, revisions {:.1} MiB",
            gin as f64 / 1048576.0,
            heads as f64 / 1048576.0,
            revisions as f64 / 1048576.0
        );
        search(c, &store, &format!("search/postgres, {n} documents"));
    }
}

criterion_group!(benches, on_sled, on_postgres);
criterion_main!(benches);
