//! What a stage may read: its declared keys and key prefixes, each in a namespace.
//!
//! A grant is written `key`, `key/prefix/*`, or with a namespace `namespace:key`. A
//! read outside every grant is refused with `access-denied`, naming what was asked
//! and what the stage declares.

use std::fmt;

/// One declared read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The namespace the grant covers.
    pub namespace: String,
    /// The key, or the key prefix when `prefix` is set.
    pub key: String,
    /// Whether `key` is a prefix (written with a trailing `*`).
    pub prefix: bool,
}

impl Grant {
    /// Parses `spec` (`key`, `prefix*`, `namespace:key`), with `default_namespace`
    /// where none is written.
    pub fn parse(spec: &str, default_namespace: &str) -> Self {
        let (namespace, key) = match spec.split_once(':') {
            Some((ns, key)) if !ns.is_empty() && !ns.contains('/') => (ns, key),
            _ => (default_namespace, spec),
        };
        match key.strip_suffix('*') {
            Some(prefix) => Self {
                namespace: namespace.into(),
                key: prefix.into(),
                prefix: true,
            },
            None => Self {
                namespace: namespace.into(),
                key: key.into(),
                prefix: false,
            },
        }
    }

    /// Whether the grant covers `key` in `namespace`.
    pub fn allows(&self, namespace: &str, key: &str) -> bool {
        self.namespace == namespace
            && if self.prefix {
                key.starts_with(&self.key)
            } else {
                key == self.key
            }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}{}",
            self.namespace,
            self.key,
            if self.prefix { "*" } else { "" }
        )
    }
}

/// All of a stage's declared reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants(pub Vec<Grant>);

impl Grants {
    /// Parses each of `specs` with [`Grant::parse`].
    pub fn parse<S: AsRef<str>>(specs: &[S], default_namespace: &str) -> Self {
        Self(
            specs
                .iter()
                .map(|s| Grant::parse(s.as_ref(), default_namespace))
                .collect(),
        )
    }

    /// Whether any grant covers `key` in `namespace`.
    pub fn allows(&self, namespace: &str, key: &str) -> bool {
        self.0.iter().any(|g| g.allows(namespace, key))
    }
}

impl fmt::Display for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no reads");
        }
        let parts: Vec<String> = self.0.iter().map(Grant::to_string).collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_cover_exact_keys_prefixes_and_namespaces() {
        let g = Grants::parse(
            &[
                "coding/architecture/system",
                "coding/understanding/*",
                "other:shared",
            ],
            "coding-pipeline",
        );
        assert!(g.allows("coding-pipeline", "coding/architecture/system"));
        assert!(!g.allows("coding-pipeline", "coding/architecture/systems"));
        assert!(g.allows("coding-pipeline", "coding/understanding/requirements"));
        assert!(!g.allows("other", "coding/architecture/system"));
        assert!(g.allows("other", "shared"));
        assert!(!g.allows("coding-pipeline", "shared"));
        assert_eq!(
            g.to_string(),
            "coding-pipeline:coding/architecture/system, coding-pipeline:coding/understanding/*, other:shared"
        );
    }
}
