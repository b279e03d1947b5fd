//! The conformance suite's model test: each backend (sled, and PostgreSQL on a
//! throwaway server) against one reference model. Random stores, deletes,
//! compare-and-swaps, TTL expiry (on a manual clock) and reopenings must agree, key by
//! key.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use baton::memory::{
    Clock, Key, MemoryError, Namespace, Op, PostgresStore, SearchQuery, SledStore, Store,
    StoreOptions, Writer,
};
use proptest::prelude::*;
use serde_json::json;

const RETENTION: u64 = 3;
const NAMESPACES: [&str; 2] = ["coding-pipeline", "other"];
const KEYS: [&str; 3] = [
    "coding/architecture/system",
    "coding/architecture/performance",
    "k",
];

#[derive(Clone, Debug)]
enum Action {
    Put {
        ns: usize,
        key: usize,
        value: i64,
        ttl_ms: Option<u64>,
    },
    Delete {
        ns: usize,
        key: usize,
    },
    Cas {
        ns: usize,
        key: usize,
        expected: u64,
        value: i64,
    },
    Advance {
        ms: u64,
    },
    Purge,
    Reopen,
}

fn action() -> impl Strategy<Value = Action> {
    let slot = (0..NAMESPACES.len(), 0..KEYS.len());
    prop_oneof![
        4 => (slot.clone(), any::<i64>(), prop::option::weighted(0.3, 1..200u64))
            .prop_map(|((ns, key), value, ttl_ms)| Action::Put { ns, key, value, ttl_ms }),
        2 => slot.clone().prop_map(|(ns, key)| Action::Delete { ns, key }),
        2 => (slot, 0..6u64, any::<i64>()).prop_map(|((ns, key), expected, value)| Action::Cas { ns, key, expected, value }),
        2 => (0..150u64).prop_map(|ms| Action::Advance { ms }),
        1 => Just(Action::Purge),
        1 => Just(Action::Reopen),
    ]
}

/// The model of one key: its retained revisions (None for a tombstone) and its TTL.
#[derive(Default, Debug)]
struct ModelKey {
    last: u64,
    revisions: BTreeMap<u64, Option<i64>>,
    expires_at: Option<u64>,
}

impl ModelKey {
    fn expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
    fn live(&self, now: u64) -> Option<(u64, i64)> {
        if self.expired(now) {
            return None;
        }
        self.revisions
            .get(&self.last)
            .copied()
            .flatten()
            .map(|v| (self.last, v))
    }
    fn write(&mut self, value: Option<i64>, expires_at: Option<u64>) -> u64 {
        self.last += 1;
        self.revisions.insert(self.last, value);
        while self.revisions.len() as u64 > RETENTION {
            self.revisions.pop_first();
        }
        self.expires_at = expires_at;
        self.last
    }
}

#[derive(Default)]
struct Model {
    keys: BTreeMap<(usize, usize), ModelKey>,
}

impl Model {
    /// What every commit does first: drop the revisions of expired keys.
    fn reclaim(&mut self, now: u64) {
        for k in self.keys.values_mut() {
            if k.expired(now) {
                k.revisions.clear();
            }
        }
    }

    fn apply(&mut self, now: u64, action: &Action) -> Result<u64, &'static str> {
        match *action {
            Action::Put {
                ns,
                key,
                value,
                ttl_ms,
            } => {
                self.reclaim(now);
                Ok(self
                    .keys
                    .entry((ns, key))
                    .or_default()
                    .write(Some(value), ttl_ms.map(|t| now + t)))
            }
            Action::Cas {
                ns,
                key,
                expected,
                value,
            } => {
                self.reclaim(now);
                let k = self.keys.entry((ns, key)).or_default();
                let live = k.live(now).map_or(0, |(r, _)| r);
                if live != expected {
                    return Err("conflict");
                }
                Ok(k.write(Some(value), None))
            }
            Action::Delete { ns, key } => {
                self.reclaim(now);
                let k = self.keys.entry((ns, key)).or_default();
                if k.live(now).is_none() {
                    return Err("not found");
                }
                Ok(k.write(None, None))
            }
            Action::Purge => {
                self.reclaim(now);
                Ok(0)
            }
            Action::Advance { .. } | Action::Reopen => Ok(0),
        }
    }
}

fn names(ns: usize, key: usize) -> (Namespace, Key) {
    (
        Namespace::new(NAMESPACES[ns]).unwrap(),
        Key::new(KEYS[key]).unwrap(),
    )
}

fn apply_to_store(store: &dyn Store, action: &Action) -> Result<u64, &'static str> {
    let outcome = match *action {
        Action::Put {
            ns,
            key,
            value,
            ttl_ms,
        } => {
            let (n, k) = names(ns, key);
            let mut op = Op::put(&n, &k, json!(value));
            if let Some(t) = ttl_ms {
                op = op.ttl(Duration::from_millis(t));
            }
            store
                .commit(&Writer::cli(), vec![op])
                .map(|m| m[0].revision)
        }
        Action::Cas {
            ns,
            key,
            expected,
            value,
        } => {
            let (n, k) = names(ns, key);
            store
                .commit(
                    &Writer::cli(),
                    vec![Op::put(&n, &k, json!(value)).if_revision(expected)],
                )
                .map(|m| m[0].revision)
        }
        Action::Delete { ns, key } => {
            let (n, k) = names(ns, key);
            store
                .commit(&Writer::cli(), vec![Op::delete(&n, &k)])
                .map(|m| m[0].revision)
        }
        Action::Purge => store.purge_expired().map(|_| 0),
        Action::Advance { .. } | Action::Reopen => Ok(0),
    };
    outcome.map_err(|e| match e {
        MemoryError::Conflict { .. } => "conflict",
        MemoryError::NotFound { .. } => "not found",
        other => panic!("unexpected store error: {other}"),
    })
}

#[allow(clippy::needless_range_loop)]
fn check_agreement(
    store: &dyn Store,
    model: &Model,
    now: u64,
    step: usize,
) -> Result<(), TestCaseError> {
    let mut live_keys = BTreeSet::new();
    for ns in 0..NAMESPACES.len() {
        for key in 0..KEYS.len() {
            let (n, k) = names(ns, key);
            let m = model.keys.get(&(ns, key));
            let expected = m.and_then(|m| m.live(now));
            let got = store
                .get(&n, &k)
                .unwrap()
                .map(|e| (e.meta.revision, e.json().as_i64().unwrap()));
            prop_assert_eq!(got, expected, "step {}: get {}/{}", step, n, k);
            if expected.is_some() {
                live_keys.insert((NAMESPACES[ns].to_string(), KEYS[key].to_string()));
            }
            let expected_history: Vec<u64> = match m {
                Some(m) if !m.expired(now) => m.revisions.keys().copied().collect(),
                _ => Vec::new(),
            };
            let history: Vec<u64> = store
                .history(&n, &k)
                .unwrap()
                .iter()
                .map(|meta| meta.revision)
                .collect();
            prop_assert_eq!(
                history,
                expected_history,
                "step {}: history {}/{}",
                step,
                n,
                k
            );
        }
    }
    let listed: BTreeSet<(String, String)> = store
        .list(None, "")
        .unwrap()
        .into_iter()
        .map(|m| (m.namespace, m.key))
        .collect();
    prop_assert_eq!(listed, live_keys, "step {}: list", step);
    // Search agrees too: a search for every live value of a namespace finds exactly
    // its live keys (a value's number is a word of its document), never a key that is
    // deleted, expired or rewritten since.
    for ns in 0..NAMESPACES.len() {
        let live: BTreeMap<&str, i64> = (0..KEYS.len())
            .filter_map(|key| {
                let (_, v) = model.keys.get(&(ns, key))?.live(now)?;
                Some((KEYS[key], v))
            })
            .collect();
        if live.is_empty() {
            continue;
        }
        let words: BTreeSet<String> = live
            .values()
            .map(|v| v.unsigned_abs().to_string())
            .collect();
        let text = words.into_iter().collect::<Vec<_>>().join(" ");
        let query = SearchQuery::new(text.clone())
            .in_namespace(&Namespace::new(NAMESPACES[ns]).unwrap())
            .limit(10);
        let found: BTreeMap<String, i64> = store
            .search(&query)
            .unwrap()
            .into_iter()
            .map(|h| (h.entry.meta.key.clone(), h.entry.json().as_i64().unwrap()))
            .collect();
        let expected: BTreeMap<String, i64> =
            live.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        prop_assert_eq!(
            found,
            expected,
            "step {}: search {:?} in {}",
            step,
            text,
            NAMESPACES[ns]
        );
    }
    Ok(())
}

/// Plays `actions` on the store `open` opens (again at each `Reopen`) and on the
/// model, comparing after every step.
fn agrees_with_the_model(
    actions: &[Action],
    open: &dyn Fn(StoreOptions) -> Box<dyn Store>,
) -> Result<(), TestCaseError> {
    let (clock, time) = Clock::manual(1_000_000);
    let options = StoreOptions {
        retention: RETENTION,
        clock,
        ..StoreOptions::default()
    };
    let mut store = open(options.clone());
    let mut model = Model::default();
    for (step, action) in actions.iter().enumerate() {
        let now = time.load(std::sync::atomic::Ordering::SeqCst);
        match action {
            Action::Advance { ms } => {
                time.fetch_add(*ms, std::sync::atomic::Ordering::SeqCst);
            }
            Action::Reopen => {
                drop(store);
                store = open(options.clone());
            }
            _ => {}
        }
        let expected = model.apply(now, action);
        let got = apply_to_store(&*store, action);
        prop_assert_eq!(got, expected, "step {}: {:?}", step, action);
        let now = time.load(std::sync::atomic::Ordering::SeqCst);
        check_agreement(&*store, &model, now, step)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn sled_store_agrees_with_the_model(actions in prop::collection::vec(action(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        agrees_with_the_model(&actions, &|options| {
            Box::new(SledStore::open(&path, options).unwrap())
        })?;
    }

    #[test]
    fn postgres_store_agrees_with_the_model(actions in prop::collection::vec(action(), 1..40)) {
        let Some(url) = crate::postgres::database() else {
            return Ok(());
        };
        agrees_with_the_model(&actions, &|options| {
            Box::new(PostgresStore::open(&url, options).unwrap())
        })?;
    }
}
