//! Namespaces and keys: the two names that address an entry.
//!
//! Both are validated when they are made, so a [`Namespace`] or [`Key`] in hand is
//! always well-formed: not empty, bounded in length, free of control characters (the
//! store uses NUL as a separator on disk) and of leading or trailing white space. A
//! bad name is an error that quotes it.

use std::fmt;

use super::MemoryError;

/// Longest namespace accepted, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 128;
/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 512;

/// A validated namespace, such as `coding-pipeline`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Namespace(String);

/// A validated key, such as `coding/architecture/performance`.
///
/// Keys are names, not paths, but agents build them from paths: so a key's
/// `/`-separated segments may not be empty (no leading, trailing or doubled `/`) and
/// may not be `.` or `..`, which would read as a path's parts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(String);

/// Whether `text` is a name as events use them (an agent name, an event name): 1 to
/// 64 letters, digits, `_` or `-`, starting with a letter. One rule for stages' own
/// milestones and the agents' MCP calls; it lives beside [`Namespace`] and [`Key`] so
/// that the runtime, which checks a stage's milestones, depends on nothing above it.
pub fn is_name(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A name quoted in an error: its first 64 characters, and how long it was if longer,
/// so that a hostile name is never echoed whole.
fn abbreviate(name: &str) -> String {
    // Counted as the error will print it: a control character is quoted as `\u{..}`.
    let mut shown = 0;
    let cut = name.char_indices().find(|(_, c)| {
        shown += c.escape_debug().count();
        shown > 64
    });
    match cut {
        Some((cut, _)) => format!("{}… ({} bytes)", &name[..cut], name.len()),
        None => name.to_owned(),
    }
}

fn check(kind: &'static str, name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{kind} is empty"));
    }
    if name.len() > max {
        return Err(format!(
            "{kind} is {} bytes long; the limit is {max}",
            name.len()
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!("{kind} contains the control character {:?}", c));
    }
    if name.trim() != name {
        return Err(format!("{kind} starts or ends with white space"));
    }
    Ok(())
}

/// A key's `/`-separated segments: none empty, none `.` or `..`.
fn check_segments(key: &str) -> Result<(), String> {
    for (i, segment) in key.split('/').enumerate() {
        match segment {
            "" => {
                return Err(format!(
                    "key has an empty segment (segment {}): no leading, trailing or doubled `/`",
                    i + 1
                ));
            }
            "." | ".." => {
                return Err(format!(
                    "key has a `{segment}` segment: keys are names, not paths to resolve"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

impl Namespace {
    /// Validates `name` as a namespace.
    ///
    /// ```
    /// use baton::memory::Namespace;
    /// assert!(Namespace::new("coding-pipeline").is_ok());
    /// assert!(Namespace::new("").is_err());
    /// ```
    pub fn new(name: impl Into<String>) -> Result<Self, MemoryError> {
        let name = name.into();
        match check("namespace", &name, MAX_NAMESPACE_LEN) {
            Ok(()) => Ok(Self(name)),
            Err(reason) => Err(MemoryError::InvalidNamespace {
                namespace: abbreviate(&name),
                reason,
            }),
        }
    }

    /// The namespace as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Key {
    /// Validates `name` as a key.
    ///
    /// ```
    /// use baton::memory::Key;
    /// assert!(Key::new("coding/architecture/performance").is_ok());
    /// assert!(Key::new("bad\nkey").is_err());
    /// ```
    pub fn new(name: impl Into<String>) -> Result<Self, MemoryError> {
        let name = name.into();
        match check("key", &name, MAX_KEY_LEN).and_then(|()| check_segments(&name)) {
            Ok(()) => Ok(Self(name)),
            Err(reason) => Err(MemoryError::InvalidKey {
                key: abbreviate(&name),
                reason,
            }),
        }
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// On the wire (the memory server's protocol) names are strings, validated again when
// they are read: a peer cannot hand the store a name it would refuse.
macro_rules! serde_as_validated_string {
    ($ty:ident) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $ty::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_as_validated_string!(Namespace);
serde_as_validated_string!(Key);

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// baton's append-only namespaces: the event log, which is also the audit log of
/// every change made from outside a run. A
/// store adds new keys there (a put with `if_revision(0)`) and refuses to overwrite or
/// delete one.
pub const APPEND_ONLY: &[&str] = &["baton.events"];

/// Whether `namespace` is one of baton's own (`baton.events`, `baton.quarantine`, …):
/// counted apart in statistics and listed only when named.
pub fn is_reserved(namespace: &str) -> bool {
    namespace.starts_with("baton.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_keys_with_the_reason() {
        for (bad, reason) in [
            ("", "key is empty"),
            ("a\u{0}b", "control character"),
            ("tab\there", "control character"),
            (" padded", "white space"),
            ("/leading", "empty segment (segment 1)"),
            ("trailing/", "empty segment (segment 2)"),
            ("a//b", "empty segment (segment 2)"),
            ("a/../b", "a `..` segment"),
            ("./a", "a `.` segment"),
        ] {
            let err = Key::new(bad).unwrap_err().to_string();
            assert!(err.contains(reason), "{bad:?}: {err}");
            assert!(
                err.contains(&format!("{bad:?}")),
                "error must quote the key: {err}"
            );
        }
        let long = "k".repeat(MAX_KEY_LEN + 1);
        assert!(
            Key::new(long)
                .unwrap_err()
                .to_string()
                .contains("limit is 512")
        );
        assert!(Key::new("k".repeat(MAX_KEY_LEN)).is_ok());
        // Dots inside a segment are fine; only whole `.` and `..` segments are not.
        assert!(Key::new("v1.2/notes..md/.hidden").is_ok());
        // Fuzzing found this one: 65 control characters, each quoted as `\u{17}`,
        // made a 400-byte error. Quoted short, counted as printed.
        let err = Key::new("\u{17}".repeat(64) + "\u{13}")
            .unwrap_err()
            .to_string();
        assert!(err.len() < 300, "{} bytes: {err}", err.len());
        // A long bad key is quoted short.
        let err = Key::new(format!("{}\u{1}", "k".repeat(400)))
            .unwrap_err()
            .to_string();
        assert!(err.len() < 200 && err.contains("(401 bytes)"), "{err}");
    }

    #[test]
    fn accepts_pipeline_names() {
        assert_eq!(
            Key::new("coding/architecture/performance")
                .unwrap()
                .as_str(),
            "coding/architecture/performance"
        );
        assert_eq!(
            Namespace::new("coding-pipeline").unwrap().to_string(),
            "coding-pipeline"
        );
        assert!(Namespace::new("n".repeat(MAX_NAMESPACE_LEN + 1)).is_err());
    }
}
