//! The synthetic 48-stage pipeline of the benches (included with `#[path]`), shaped
//! like the coding pipeline: 5 seeded inputs, then 48 echo stages in 7 phases, each
//! reading 3 to 7 earlier keys.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

/// 5 seeded inputs, then 48 stages in 7 phases; stage i reads 3 + i % 5 earlier keys.
pub fn synthetic_manifest(dir: &Path, echo: &Path) -> String {
    let mut toml =
        String::from("[pipeline]\nname = \"synthetic\"\nnamespace = \"coding-pipeline\"\n");
    let mut keys: Vec<String> = Vec::new();
    for i in 0..5 {
        let key = format!("coding/understanding/input-{i}");
        let file = dir.join(format!("input-{i}.json"));
        std::fs::write(
            &file,
            json!({"items": (0..20).map(|j| json!({"id": j})).collect::<Vec<_>>()}).to_string(),
        )
        .unwrap();
        write!(
            toml,
            "\n[[input]]\nkey = \"{key}\"\nfile = \"{}\"\n",
            file.display()
        )
        .unwrap();
        keys.push(key);
    }
    let phases = [5, 7, 7, 8, 8, 7, 6];
    let mut stage = 0;
    for (phase, count) in phases.iter().enumerate() {
        let available = keys.len();
        for _ in 0..*count {
            let wanted = 3 + stage % 5;
            let mut reads: Vec<String> = Vec::new();
            let mut j = 0;
            while reads.len() < wanted.min(available) {
                let k = keys[(stage * 7 + j * 3) % available].clone();
                if !reads.contains(&k) {
                    reads.push(k);
                }
                j += 1;
            }
            let writes = format!("coding/phase-{}/stage-{stage}", phase + 1);
            let list = reads
                .iter()
                .map(|r| format!("\"{r}\""))
                .collect::<Vec<_>>()
                .join(", ");
            write!(
                toml,
                "\n[[stage]]\nname = \"s{stage}\"\nphase = {}\ncomponent = \"{}\"\nreads = [{list}]\nwrites = \"{writes}\"\nconfig = {{ reads = [{list}], raw = true }}\n",
                phase + 1,
                echo.display()
            )
            .unwrap();
            keys.push(writes);
            stage += 1;
        }
    }
    assert_eq!(stage, 48);
    toml
}
