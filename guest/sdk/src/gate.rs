//! Gate components: rules that need arithmetic or the stage's inputs.
//!
//! A gate is a type implementing [`Gate`], exported with [`export_gate!`](crate::export_gate).
//! It receives the document bound for a gated key, the inputs the stage read (or, for
//! a document stored from outside, the ones it declares), and the gate's `config`
//! from `pipeline.toml`; it answers with [`Finding`]s, none meaning the document
//! passes. It has no memory import: everything it may use is handed to it.

use serde_json::Value;

/// One document the stage read, handed to the gate.
#[derive(Clone, Debug)]
pub struct Input {
    /// Its namespace.
    pub namespace: String,
    /// Its key, such as `coding/architecture/system`.
    pub key: String,
    /// Its value; `Value::Null` if the stored text was not JSON.
    pub value: Value,
}

/// The inputs handed to a gate, looked up by key.
#[derive(Clone, Debug, Default)]
pub struct Inputs(pub Vec<Input>);

impl Inputs {
    /// The value at `key` (in whichever namespace the stage read it), if handed over.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|i| i.key == key).map(|i| &i.value)
    }
}

/// One problem found in the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The JSON pointer of the offending part of the document.
    pub pointer: String,
    /// What the gate expected there.
    pub expected: String,
    /// What it found.
    pub actual: String,
    /// A sentence for people.
    pub message: String,
}

impl Finding {
    /// A finding at `pointer`.
    pub fn new(
        pointer: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            pointer: pointer.into(),
            expected: expected.into(),
            actual: actual.into(),
            message: message.into(),
        }
    }
}

/// A quality gate.
pub trait Gate {
    /// Checks `document` against the gate named `gate` (one component may serve
    /// several gates; `config` is the gate's table in `pipeline.toml`).
    fn check(gate: &str, document: &Value, inputs: &Inputs, config: &Value) -> Vec<Finding>;
}

#[doc(hidden)]
pub fn __check<G: Gate>(
    gate: String,
    document: String,
    inputs: Vec<crate::bindings::baton::stage::types::Input>,
    config: String,
) -> Vec<crate::bindings::baton::stage::types::Finding> {
    let findings = match serde_json::from_str::<Value>(&document) {
        Err(e) => vec![Finding::new(
            "",
            "a JSON document",
            "text that is not JSON",
            format!("the document is not JSON: {e}"),
        )],
        Ok(document) => {
            let inputs = Inputs(
                inputs
                    .into_iter()
                    .map(|i| Input {
                        value: serde_json::from_str(&i.value).unwrap_or(Value::Null),
                        namespace: i.namespace,
                        key: i.key,
                    })
                    .collect(),
            );
            let config = serde_json::from_str(&config).unwrap_or(Value::Null);
            G::check(&gate, &document, &inputs, &config)
        }
    };
    findings
        .into_iter()
        .map(|f| crate::bindings::baton::stage::types::Finding {
            pointer: f.pointer,
            expected: f.expected,
            actual: f.actual,
            message: f.message,
        })
        .collect()
}

/// Exports a [`Gate`] implementation as the component's `check` function.
#[macro_export]
macro_rules! export_gate {
    ($gate:ty) => {
        struct __BatonGate;
        impl $crate::gate_bindings::Guest for __BatonGate {
            fn check(
                gate: ::std::string::String,
                document: ::std::string::String,
                inputs: ::std::vec::Vec<$crate::bindings::baton::stage::types::Input>,
                config: ::std::string::String,
            ) -> ::std::vec::Vec<$crate::bindings::baton::stage::types::Finding> {
                $crate::gate::__check::<$gate>(gate, document, inputs, config)
            }
        }
        $crate::gate_bindings::__export_gate_world!(__BatonGate with_types_in $crate::gate_bindings);
    };
}
