//! Ranked search, the same on both backends (sled with its tantivy index, and
//! PostgreSQL on a throwaway server): the right document first for queries whose best
//! answer is known, over the example systems' documents and a few hundred generated
//! ones; deletes, TTL expiry and rollbacks seen at once; hostile queries refused with a
//! reason; a database from before search analysed by its first search; and through
//! the real binary, a memory server killed with SIGKILL between a
//! commit and the index's leaves search agreeing with the memory.

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use baton::memory::{
    Clock, Key, MemoryError, Namespace, Op, PostgresStore, SearchQuery, SledStore, Store,
    StoreOptions, Writer,
};
use serde_json::{Value, json};

use crate::harness::{Project, repo_root};

const NS: &str = "coding-pipeline";

/// Words of the generated documents: the example documents' words, but never
/// "listings", "tariff" or "quokka", so that the known answers stay unique.
const VOCABULARY: [&str; 24] = [
    "window",
    "reading",
    "every",
    "checkout",
    "latency",
    "cache",
    "service",
    "device",
    "order",
    "booking",
    "sorts",
    "rollup",
    "budget",
    "throughput",
    "queue",
    "retry",
    "gateway",
    "index",
    "scan",
    "registry",
    "ack",
    "p99",
    "error",
    "capacity",
];

fn ns() -> Namespace {
    Namespace::new(NS).unwrap()
}

/// Stores the corpus: every example system's documents, a key whose only distinctive
/// word is in the key, an accented document, and 300 generated documents.
fn load_corpus(store: &dyn Store) {
    let mut ops = Vec::new();
    for system in ["webshop", "telemetry", "freight"] {
        let dir = repo_root().join("examples").join(system);
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            let value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let key = Key::new(format!("examples/{system}/{name}")).unwrap();
            ops.push(Op::put(&ns(), &key, value));
        }
    }
    ops.push(Op::put(
        &ns(),
        &Key::new("notes/quokka-retro").unwrap(),
        json!({"text": "what went well and what did not"}),
    ));
    ops.push(Op::put(
        &ns(),
        &Key::new("notes/menu").unwrap(),
        json!({"text": "Le Café Résumé serves crème brûlée"}),
    ));
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for i in 0..300 {
        let words: Vec<&str> = (0..24)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                VOCABULARY[(seed % VOCABULARY.len() as u64) as usize]
            })
            .collect();
        let key = Key::new(format!("generated/doc-{i:03}")).unwrap();
        ops.push(Op::put(&ns(), &key, json!({"notes": words.join(" ")})));
    }
    store.commit(&Writer::cli(), ops).unwrap();
}

fn keys(store: &dyn Store, text: &str) -> Vec<String> {
    store
        .search(&SearchQuery::new(text).in_namespace(&ns()))
        .unwrap()
        .into_iter()
        .map(|h| h.entry.meta.key)
        .collect()
}

/// The relevance checks, on any backend.
fn finds_the_right_document_first(store: &dyn Store) {
    load_corpus(store);
    let cases = [
        // A phrase from one document; its words are in many generated ones.
        (
            r#""re-sorts each window on every reading""#,
            "examples/telemetry/analysis",
        ),
        // Two words far apart in one document (and a plural to stem).
        ("listings checkouts", "examples/webshop/requirements"),
        // Stemmed forms of the document's words.
        ("caching tariffs", "examples/freight/system"),
        // A word only in a key.
        ("quokka", "notes/quokka-retro"),
        // Accents and case folded.
        ("CAFE resume", "notes/menu"),
    ];
    for (query, best) in cases {
        let hits = store
            .search(&SearchQuery::new(query).in_namespace(&ns()))
            .unwrap();
        assert!(!hits.is_empty(), "{query}: nothing found");
        assert_eq!(
            hits[0].entry.meta.key,
            best,
            "{query}: {:#?}",
            &hits[..hits.len().min(3)]
        );
        assert!(
            hits.windows(2).all(|w| w[0].similarity >= w[1].similarity),
            "{query}: not ordered by similarity"
        );
        assert!(
            hits.iter().all(|h| (0.0..=1.0).contains(&h.similarity)),
            "{query}: a similarity out of 0..1"
        );
    }

    // Why it matched: the words it holds, and a snippet with them marked.
    let hit = &store
        .search(&SearchQuery::new("listings checkouts").in_namespace(&ns()))
        .unwrap()[0];
    assert_eq!(hit.matched, ["listings", "checkouts"]);
    assert!(hit.snippet.contains("**listings**"), "{}", hit.snippet);
    // A phrase holds only in order: the generated documents hold its words, not it.
    let phrase = store
        .search(&SearchQuery::new(r#""reading every window""#).in_namespace(&ns()))
        .unwrap();
    assert!(
        phrase.is_empty(),
        "{:?}",
        phrase.iter().map(|h| &h.entry.meta.key).collect::<Vec<_>>()
    );
    // The threshold means the share of the query held: half of "listings quokka" is
    // held by a few documents (two of them known), all of it by none.
    let mut q = SearchQuery::new("listings quokka").in_namespace(&ns());
    let half = store.search(&q).unwrap();
    let found: Vec<&str> = half.iter().map(|h| h.entry.meta.key.as_str()).collect();
    assert!(
        found.contains(&"notes/quokka-retro") && found.contains(&"examples/webshop/requirements"),
        "{found:?}"
    );
    assert!(
        half.iter()
            .all(|h| h.similarity > 0.33 && h.similarity < 0.67),
        "{half:#?}"
    );
    q.threshold = 0.67;
    assert_eq!(store.search(&q).unwrap().len(), 0);
    // The limit, and the filters: key prefix, the writer's stage, tags, time.
    let mut q = SearchQuery::new("checkout").in_namespace(&ns()).limit(7);
    assert_eq!(store.search(&q).unwrap().len(), 7);
    q.key_prefix = "examples/".into();
    q.limit = 100;
    let examples = store.search(&q).unwrap();
    assert!(
        !examples.is_empty()
            && examples
                .iter()
                .all(|h| h.entry.meta.key.starts_with("examples/"))
    );
    q.stage = Some("performance-architect".into());
    assert!(
        store.search(&q).unwrap().is_empty(),
        "the CLI wrote these, no stage"
    );
    q.stage = None;
    q.tags = vec!["reviewed".into()];
    assert!(store.search(&q).unwrap().is_empty(), "nothing is tagged");
    q.tags.clear();
    q.after = Some(baton::memory::Timestamp(u64::MAX / 2));
    assert!(
        store.search(&q).unwrap().is_empty(),
        "nothing is from the future"
    );
    // With no namespace named, baton's own are left out.
    let audit = Namespace::new("baton.notes").unwrap();
    store
        .put(
            &Writer::cli(),
            &audit,
            &Key::new("e/1").unwrap(),
            json!({"text": "quokka"}),
        )
        .unwrap();
    let everywhere: Vec<String> = store
        .search(&SearchQuery::new("quokka"))
        .unwrap()
        .into_iter()
        .map(|h| h.entry.meta.namespace)
        .collect();
    assert_eq!(everywhere, [NS]);
    assert_eq!(keys_in(store, &audit, "quokka"), ["e/1"]);
}

fn keys_in(store: &dyn Store, ns: &Namespace, text: &str) -> Vec<String> {
    store
        .search(&SearchQuery::new(text).in_namespace(ns))
        .unwrap()
        .into_iter()
        .map(|h| h.entry.meta.key)
        .collect()
}

/// Deletes, TTL expiry and rollbacks change what search returns at once.
fn follows_every_change_at_once(open: &dyn Fn(StoreOptions) -> Box<dyn Store>) {
    let (clock, time) = Clock::manual(1_000_000);
    let store = open(StoreOptions {
        clock,
        ..StoreOptions::default()
    });
    let key = Key::new("coding/architecture/performance").unwrap();
    store
        .put(
            &Writer::cli(),
            &ns(),
            &key,
            json!({"slo": "p99 latency under 200 ms"}),
        )
        .unwrap();
    assert_eq!(keys(&*store, "latency"), [key.as_str()]);
    // A new revision replaces the old words.
    store
        .put(
            &Writer::cli(),
            &ns(),
            &key,
            json!({"slo": "throughput of 500 orders"}),
        )
        .unwrap();
    assert!(keys(&*store, "latency").is_empty());
    assert_eq!(keys(&*store, "throughput"), [key.as_str()]);
    // A rollback (revision 1's value written again) brings them back.
    let first = store.get_revision(&ns(), &key, 1).unwrap().unwrap();
    store
        .commit(&Writer::cli(), vec![Op::put(&ns(), &key, first.json())])
        .unwrap();
    assert_eq!(keys(&*store, "latency"), [key.as_str()]);
    assert!(keys(&*store, "throughput").is_empty());
    // A delete.
    store
        .commit(&Writer::cli(), vec![Op::delete(&ns(), &key)])
        .unwrap();
    assert!(keys(&*store, "latency").is_empty());
    // A TTL: found until it expires, not a millisecond after, with no commit between.
    let brief = Key::new("coding/brief").unwrap();
    store
        .commit(
            &Writer::cli(),
            vec![
                Op::put(&ns(), &brief, json!({"text": "ephemeral"})).ttl(Duration::from_millis(50)),
            ],
        )
        .unwrap();
    assert_eq!(keys(&*store, "ephemeral"), [brief.as_str()]);
    time.fetch_add(50, Ordering::SeqCst);
    assert!(keys(&*store, "ephemeral").is_empty());
}

/// Hostile queries: a clear error, never a panic.
fn refuses_hostile_queries(store: &dyn Store) {
    let hostile = Namespace::new("hostile").unwrap();
    store
        .put(
            &Writer::cli(),
            &hostile,
            &Key::new("k").unwrap(),
            json!({"text": "plain words"}),
        )
        .unwrap();
    let huge = "words ".repeat(20_000);
    let refused = |text: &str| match store.search(&SearchQuery::new(text)) {
        Err(MemoryError::InvalidQuery { query, reason }) => {
            assert!(
                query.chars().count() <= 61,
                "the error quotes the query briefly"
            );
            reason
        }
        other => panic!("{text:.40?}: {other:?}"),
    };
    assert!(refused(&huge).contains("at most 4096 bytes"));
    assert!(refused("\u{0}\u{1b}[\u{7f}\t\n").contains("no word"));
    assert!(refused(r#"+ - && || ! ( ) { } [ ] ^ " ~ * ? : \ /"#).contains("no word"));
    // Unbalanced quotes and query syntax are words like any other.
    for text in [
        r#""plain words"#,
        r#"plain" words"#,
        "plain AND (words OR x)~2^3",
        "title:plain*",
        "\u{1b}[2J plain\u{0}",
    ] {
        let hits = store
            .search(&SearchQuery::new(text).in_namespace(&hostile))
            .unwrap();
        assert_eq!(hits.len(), 1, "{text}");
    }
}

#[test]
fn sled_search_finds_the_right_document_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("store"), StoreOptions::default()).unwrap();
    finds_the_right_document_first(&store);
    refuses_hostile_queries(&store);
}

#[test]
fn postgres_search_finds_the_right_document_first() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let store = PostgresStore::open(&url, StoreOptions::default()).unwrap();
    finds_the_right_document_first(&store);
    refuses_hostile_queries(&store);
}

#[test]
fn sled_search_follows_deletes_expiry_and_rollbacks_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    follows_every_change_at_once(&|o| Box::new(SledStore::open(&path, o).unwrap()));
}

#[test]
fn postgres_search_follows_deletes_expiry_and_rollbacks_at_once() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    follows_every_change_at_once(&|o| Box::new(PostgresStore::open(&url, o).unwrap()));
}

/// A store's search index lost, or behind its store (written by a process that never
/// searched), is caught up by the next search.
#[test]
fn a_missing_or_stale_index_is_rebuilt_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let store = SledStore::open(&path, StoreOptions::default()).unwrap();
    load_corpus(&store);
    assert_eq!(keys(&store, "quokka"), ["notes/quokka-retro"]);
    drop(store);
    // Behind: written by a process that never searched.
    let store = SledStore::open(&path, StoreOptions::default()).unwrap();
    store
        .put(
            &Writer::cli(),
            &ns(),
            &Key::new("notes/wombat").unwrap(),
            json!("wombat"),
        )
        .unwrap();
    store
        .commit(
            &Writer::cli(),
            vec![Op::delete(&ns(), &Key::new("notes/quokka-retro").unwrap())],
        )
        .unwrap();
    drop(store);
    let store = SledStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(keys(&store, "wombat"), ["notes/wombat"]);
    assert!(keys(&store, "quokka").is_empty());
    drop(store);
    // Lost, and then garbage in its place.
    std::fs::remove_dir_all(path.join("search")).unwrap();
    let store = SledStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(keys(&store, "wombat"), ["notes/wombat"]);
    drop(store);
    std::fs::write(path.join("search/meta.json"), "{ not json").unwrap();
    let store = SledStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(
        keys(&store, "listings checkouts")[0],
        "examples/webshop/requirements"
    );
}

/// Through the real binary: the memory server commits a store and a delete, holds
/// their index changes uncommitted, and is killed; the next search agrees with the
/// memory.
#[test]
fn a_server_killed_between_a_commit_and_its_index_leaves_search_agreeing() {
    let p = Project::new();
    let served = |args: &[&str]| {
        p.baton(args)
            .env("BATON_SERVER", "auto")
            .env("BATON_SERVER_IDLE", "60s")
            .output()
            .unwrap()
    };
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(served(&["memory", "server", "start"]));
    ok(served(&[
        "memory",
        "store",
        "notes/quokka",
        r#"{"text":"quokka sightings"}"#,
    ]));
    // The server's index is open from here on; what follows it holds uncommitted.
    let found: Value =
        serde_json::from_str(&ok(served(&["memory", "search", "quokka", "--json"]))).unwrap();
    assert_eq!(found[0]["key"], "notes/quokka");
    ok(served(&[
        "memory",
        "store",
        "notes/wombat",
        r#"{"text":"wombat burrows"}"#,
    ]));
    ok(served(&["memory", "delete", "-k", "notes/quokka"]));
    let status: Value =
        serde_json::from_str(&ok(served(&["memory", "server", "status", "--json"]))).unwrap();
    let pid = status["pid"].as_u64().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
    let gone = std::time::Instant::now();
    let alive = || {
        Command::new("kill")
            .args(["-0", &pid])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    while alive() {
        assert!(
            gone.elapsed() < Duration::from_secs(10),
            "the server outlived SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // No server: this command opens the store itself.
    let search = |q: &str| -> Value {
        serde_json::from_str(&ok(p
            .baton(&["memory", "search", q, "--json"])
            .output()
            .unwrap()))
        .unwrap()
    };
    assert_eq!(search("quokka"), json!([]));
    assert_eq!(search("burrow")[0]["key"], "notes/wombat");
    assert_eq!(search("burrow")[0]["snippet"], "text wombat **burrows**");
}

/// A database migrated from before search (its heads have no search vector yet) is
/// searchable at once: the first search analyses those heads.
#[test]
fn postgres_heads_from_before_search_are_analysed_by_the_first_search() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let store = PostgresStore::open(&url, StoreOptions::default()).unwrap();
    load_corpus(&store);
    assert_eq!(keys(&store, "brulee"), ["notes/menu"]);
    store
        .commit(
            &Writer::cli(),
            vec![Op::delete(&ns(), &Key::new("notes/menu").unwrap())],
        )
        .unwrap();
    // As migration 4 leaves a database written before it: no vectors at all.
    let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    let unanalysed = client
        .execute("UPDATE baton_heads SET search = NULL", &[])
        .unwrap();
    assert!(unanalysed > 300, "{unanalysed}");
    assert_eq!(
        keys(&store, "listings checkouts")[0],
        "examples/webshop/requirements"
    );
    assert!(
        keys(&store, "brulee").is_empty(),
        "a deleted key stays unfound"
    );
    let left: i64 = client
        .query_one("SELECT count(*) FROM baton_heads WHERE search IS NULL", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}
