//! What the memory stores: an entry's metadata and its JSON value.
//!
//! Every write produces a revision with [`EntryMeta`]: when, who, how large, the
//! content hash, when it expires and where it came from. A delete is a revision too
//! (a tombstone), so revision numbers only ever grow and compare-and-swap has no ABA.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::MemoryError;

/// A point in time with millisecond precision, written as RFC 3339 in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self(since.as_millis() as u64)
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// This time plus `d`, saturating.
    pub fn plus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(d.as_millis().min(u64::MAX as u128) as u64),
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = UNIX_EPOCH + Duration::from_millis(self.0);
        write!(f, "{}", humantime::format_rfc3339_millis(t))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let t = humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)?;
        let since = t
            .duration_since(UNIX_EPOCH)
            .map_err(serde::de::Error::custom)?;
        Ok(Self(since.as_millis() as u64))
    }
}

/// Where a store reads the time: the system clock, or a manual one for tests.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A clock that reads a shared millisecond counter, moved by hand.
    Manual(std::sync::Arc<std::sync::atomic::AtomicU64>),
}

impl Clock {
    /// A manual clock at `millis`, and the handle that moves it.
    pub fn manual(millis: u64) -> (Self, std::sync::Arc<std::sync::atomic::AtomicU64>) {
        let cell = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(millis));
        (Self::Manual(cell.clone()), cell)
    }

    /// The current time by this clock.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Manual(cell) => Timestamp(cell.load(std::sync::atomic::Ordering::SeqCst)),
        }
    }
}

/// Who wrote a revision: `cli`, `stage:<name>`, `agent:<id>`, `person:<name>` or
/// `import`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Writer(pub String);

impl Writer {
    /// The command line, with no agent named.
    pub fn cli() -> Self {
        Self("cli".into())
    }
    /// A pipeline stage.
    pub fn stage(name: &str) -> Self {
        Self(format!("stage:{name}"))
    }
    /// An agent outside baton, by its id.
    pub fn agent(id: &str) -> Self {
        Self(format!("agent:{id}"))
    }
    /// A person, by the name they give (approving or rejecting a held output).
    pub fn person(name: &str) -> Self {
        Self(format!("person:{name}"))
    }
}

impl fmt::Display for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The metadata of one revision of one key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryMeta {
    /// The namespace the key lives in.
    pub namespace: String,
    /// The key.
    pub key: String,
    /// The revision, from 1, one more with every write or delete of the key.
    pub revision: u64,
    /// When this revision was written.
    pub written_at: Timestamp,
    /// Who wrote it.
    pub writer: Writer,
    /// Size of the value as stored (compact JSON), in bytes.
    pub size: u64,
    /// SHA-256 of the stored value bytes, in hex.
    pub sha256: String,
    /// When the entry stops being visible, if it was written with a TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// True for the tombstone revision a delete writes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Where the value came from (inputs read, component, config), if a stage wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<serde_json::Value>,
}

impl EntryMeta {
    /// Whether the entry is past its TTL at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    /// Whether the revision is a live value at `now` (not deleted, not expired).
    pub fn is_live(&self, now: Timestamp) -> bool {
        !self.deleted && !self.is_expired(now)
    }
}

/// One revision with its value, as compact JSON bytes.
///
/// Serialised (the memory server's protocol) with the value as a string of its JSON
/// text, not as an array of numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The revision's metadata.
    pub meta: EntryMeta,
    /// The value, as compact JSON (empty for a tombstone).
    #[serde(with = "value_text")]
    pub value: Vec<u8>,
}

mod value_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let text = std::str::from_utf8(value).map_err(serde::ser::Error::custom)?;
        s.serialize_str(text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(String::deserialize(d)?.into_bytes())
    }
}

impl Entry {
    /// Why this revision's value cannot be stored, if it cannot: a tombstone carries
    /// no value, and a live value is JSON within serde_json's depth limit (the one
    /// limit of every way in). Stores check this for what they are handed whole
    /// (import), since a memory-server client need not have gone through the service.
    /// (Parsed whole: serde_json skips an ignored value without its depth limit.)
    pub fn value_problem(&self) -> Option<String> {
        match (self.meta.deleted, self.value.is_empty()) {
            (true, true) => None,
            (true, false) => Some("a deleted revision carries a value".into()),
            (false, _) => serde_json::from_slice::<serde_json::Value>(&self.value)
                .err()
                .map(|e| format!("the value is not JSON: {e}")),
        }
    }

    /// Why this exported revision cannot be imported, if it cannot: revision 0, a
    /// value that is not what [`Entry::value_problem`] allows, or one whose hash is
    /// not the record's. Every backend's import checks this first.
    pub fn import_problem(&self) -> Option<MemoryError> {
        let meta = &self.meta;
        let invalid = |reason: String| MemoryError::InvalidImport {
            namespace: meta.namespace.clone(),
            key: meta.key.clone(),
            revision: meta.revision,
            reason,
        };
        if meta.revision == 0 {
            return Some(invalid(
                "revision 0 does not exist; revisions start at 1".into(),
            ));
        }
        if let Some(problem) = self.value_problem() {
            return Some(invalid(problem));
        }
        let hash = sha256_hex(&self.value);
        (hash != meta.sha256).then(|| {
            invalid(format!(
                "value hashes to {hash}, but the record says {}",
                meta.sha256
            ))
        })
    }

    /// The value parsed as JSON (`null` for a tombstone).
    pub fn json(&self) -> serde_json::Value {
        if self.value.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&self.value).unwrap_or(serde_json::Value::Null)
    }
}

/// SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        use fmt::Write;
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_rfc3339() {
        let t = Timestamp(1_763_900_000_123);
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(text, "\"2025-11-23T12:13:20.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&text).unwrap(), t);
    }

    #[test]
    fn a_value_handed_over_whole_must_be_json_within_the_depth_limit() {
        let entry = |deleted: bool, value: &str| Entry {
            meta: EntryMeta {
                namespace: "n".into(),
                key: "k".into(),
                revision: 1,
                written_at: Timestamp(0),
                writer: Writer("w".into()),
                size: value.len() as u64,
                sha256: sha256_hex(value.as_bytes()),
                expires_at: None,
                deleted,
                provenance: None,
            },
            value: value.as_bytes().to_vec(),
        };
        assert_eq!(entry(false, r#"{"a":[1]}"#).value_problem(), None);
        assert_eq!(entry(true, "").value_problem(), None);
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let problem = entry(false, &deep).value_problem().unwrap();
        assert!(problem.contains("recursion limit exceeded"), "{problem}");
        let problem = entry(false, "not json").value_problem().unwrap();
        assert!(
            problem.starts_with("the value is not JSON: expected"),
            "{problem}"
        );
        assert!(
            entry(false, "").value_problem().is_some(),
            "a live value is never empty"
        );
        assert!(entry(true, "1").value_problem().is_some());
    }

    #[test]
    fn hash_is_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
