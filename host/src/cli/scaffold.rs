//! The files `baton stage new` writes: a stage crate built on `baton-sdk`.

use std::path::Path;

/// The crate's files, as (relative path, contents).
pub(super) fn files(name: &str, sdk: &Path) -> Vec<(&'static str, String)> {
    let lib_name = name.replace('-', "_");
    let cargo = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

# A stage is a WebAssembly component: `cargo build --release --target wasm32-wasip2`.
[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
baton-sdk = {{ path = "{sdk}" }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"

[profile.release]
opt-level = "s"
lto = true
strip = "debuginfo"

# A standalone crate, even inside another workspace.
[workspace]
"#,
        sdk = sdk.display()
    );
    let lib = format!(
        r##"//! `{name}`: a baton stage.
//!
//! It reads `coding/architecture/system` (declare it in pipeline.toml under `reads`)
//! and returns a summary. Replace `summarise` with the stage's own logic.

use baton_sdk::{{Context, Error, Stage, export_stage}};
use serde::{{Deserialize, Serialize}};

/// The input this stage reads.
#[derive(Debug, Deserialize)]
pub struct System {{
    /// The system's components.
    pub components: Vec<Component>,
}}

/// One component of the system.
#[derive(Debug, Deserialize)]
pub struct Component {{
    /// Its id.
    pub id: String,
}}

/// The output this stage returns.
#[derive(Debug, PartialEq, Serialize)]
pub struct Summary {{
    /// How many components the system has.
    pub components: usize,
    /// Their ids, sorted.
    pub ids: Vec<String>,
}}

/// The stage's logic, kept free of the host so that it is tested natively.
pub fn summarise(system: &System) -> Summary {{
    let mut ids: Vec<String> = system.components.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    Summary {{ components: ids.len(), ids }}
}}

struct {type_name};

impl Stage for {type_name} {{
    type Output = Summary;

    fn run(ctx: &Context) -> Result<Summary, Error> {{
        let system: System = ctx.read("coding/architecture/system")?;
        let summary = summarise(&system);
        ctx.emit("systemSummarised", serde_json::json!({{ "components": summary.components }}));
        Ok(summary)
    }}
}}

export_stage!({type_name});

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn summarises_the_components_in_order() {{
        let system: System = serde_json::from_str(r#"{{"components": [{{"id": "b"}}, {{"id": "a"}}]}}"#).unwrap();
        assert_eq!(summarise(&system), Summary {{ components: 2, ids: vec!["a".into(), "b".into()] }});
    }}
}}
"##,
        type_name = type_name(&lib_name)
    );
    vec![
        ("Cargo.toml", cargo),
        ("src/lib.rs", lib),
        (".gitignore", "/target\n".into()),
    ]
}

fn type_name(lib_name: &str) -> String {
    lib_name
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}
