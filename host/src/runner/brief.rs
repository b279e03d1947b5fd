//! The brief: everything baton hands an agent, built here and nowhere else, so that
//! `baton agent brief` shows a person exactly what the agent got.
//!
//! In order: the agent's definition (the body of its `source` file, front matter
//! left out), the `===AGENT_CONTEXT===` block with the ids baton generated and
//! records (`AGENT_ID`, `WORKFLOW_ID`, `PARENT`: the run that started it,
//! `TIMESTAMP`), its inputs (as `baton agent inputs --format markdown` renders them),
//! the contract of its output (the key, every gate's rule, which of them baton checks
//! and how, the schema when there is one), how to hand the output back, and, when it
//! is sent back, the findings that refused its last output.

use std::fmt::Write as _;

use serde_json::Value;

use crate::gates::GateReport;
use crate::pipeline::{GateCheck, Stage};
use crate::text::json_block;

/// The ids of one agent instance, as its context block says them.
#[derive(Clone, Debug)]
pub struct Context {
    /// `<agentName>-<32 hex>`.
    pub agent_id: String,
    /// `workflow-<32 hex>`.
    pub workflow_id: String,
    /// Who started it: the run.
    pub parent: String,
    /// When, RFC 3339.
    pub timestamp: String,
}

/// One document the stage reads.
#[derive(Clone, Debug)]
pub struct Input {
    /// Its namespace.
    pub namespace: String,
    /// Its key.
    pub key: String,
    /// Its revision.
    pub revision: u64,
    /// The document.
    pub value: Value,
}

/// The markdown of a stage's inputs, as `baton agent inputs --format markdown`
/// prints them.
pub fn inputs_markdown(stage: &str, inputs: &[Input]) -> String {
    let mut out = format!("# Inputs of stage `{stage}`\n");
    if inputs.is_empty() {
        out.push_str("\nThis stage reads nothing.\n");
    }
    for input in inputs {
        out.push('\n');
        out.push_str(&json_block(
            &input.namespace,
            &input.key,
            Some(input.revision),
            &input.value,
        ));
    }
    out
}

/// The body of an agent definition: its text without the front matter.
pub fn definition_body(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("---") else {
        return text;
    };
    match rest.find("\n---") {
        Some(end) => {
            let after = &rest[end + 4..];
            after.strip_prefix('\n').unwrap_or(after)
        }
        None => text,
    }
}

/// The brief of `stage`'s agent.
pub fn brief(
    stage: &Stage,
    definition: Option<&str>,
    context: &Context,
    inputs: &[Input],
    findings: Option<(&str, &GateReport)>,
) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Brief: stage `{}`, agent `{}`\n",
        stage.name, stage.agent_name
    );
    match definition {
        Some(body) => {
            let _ = writeln!(o, "{}\n", body.trim());
        }
        None => {
            let _ = writeln!(
                o,
                "You are agent `{}`. Do the work of stage `{}` from its inputs below.\n",
                stage.agent_name, stage.name
            );
        }
    }
    let _ = writeln!(
        o,
        "===AGENT_CONTEXT===\nAGENT_ID: {}\nWORKFLOW_ID: {}\nPARENT: {}\nTIMESTAMP: {}\n===END_CONTEXT===\n",
        context.agent_id, context.workflow_id, context.parent, context.timestamp
    );
    let _ = writeln!(o, "{}", inputs_markdown(&stage.name, inputs));
    let _ = writeln!(o, "# Your output\n");
    match stage.output() {
        Some((ns, key)) => {
            let _ = writeln!(
                o,
                "One JSON object, stored at key `{key}` in namespace `{ns}` for the stages after you."
            );
        }
        None => {
            let _ = writeln!(o, "This stage stores nothing.");
        }
    }
    if !stage.gates.is_empty() {
        let _ = writeln!(o, "\nIt must pass these gates before anything is stored:\n");
        for g in &stage.gates {
            let how = match &g.check {
                GateCheck::Schema { path, pointer, .. } => format!(
                    "checked by baton against the JSON Schema `{}`{}",
                    path.display(),
                    if pointer.is_empty() {
                        String::new()
                    } else {
                        format!(" at `{pointer}`")
                    }
                ),
                GateCheck::Component { .. } => "checked by baton (a gate component)".to_owned(),
                GateCheck::Unchecked => "not checked by baton: a rule to follow".to_owned(),
                GateCheck::Approval => {
                    "checked by a person: your output is held until they approve it".to_owned()
                }
            };
            let _ = writeln!(o, "- `{}` ({:?}): {} ({how})", g.name, g.severity, g.rule);
        }
    }
    for g in &stage.gates {
        if let GateCheck::Schema { path, .. } = &g.check
            && let Ok(schema) = std::fs::read_to_string(path)
        {
            let _ = writeln!(
                o,
                "\nThe schema of gate `{}`:\n\n```json\n{}\n```",
                g.name,
                schema.trim()
            );
        }
    }
    let _ = writeln!(
        o,
        "\n# Handing it back\n\nPrint the document as your final answer: one JSON object (a ```json block is fine). Or store it yourself with `baton agent output {} --agent {}` (or the MCP tool `agent_output`). Either way it goes through the gates above; a refused document comes back to you with the findings.",
        stage.name, context.agent_id
    );
    if let Some((why, report)) = findings {
        o.push_str(&self::findings(why, report));
    }
    o
}

/// The findings that send an agent back: `why` (its output was refused, or a person
/// rejected it) and every failed gate's findings. The end of a brief, or all of what a
/// resumed session is sent.
pub fn findings(why: &str, report: &GateReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "\n# Findings: {why}\n");
    for gate in report.gates.iter().filter(|g| !g.passed) {
        for f in &gate.findings {
            let _ = writeln!(
                o,
                "- gate `{}` at `{}`: expected {}, found {}: {}",
                gate.name,
                if f.pointer.is_empty() {
                    "/"
                } else {
                    &f.pointer
                },
                f.expected,
                f.actual,
                f.message
            );
        }
        if gate.findings.is_empty() {
            let _ = writeln!(o, "- gate `{}` failed", gate.name);
        }
    }
    let _ = writeln!(o, "\nFix these and hand back the whole document again.");
    o
}

#[cfg(test)]
mod tests {
    use super::definition_body;

    #[test]
    fn the_front_matter_is_not_part_of_the_definition() {
        assert_eq!(definition_body("---\nname: a\n---\n# Body\n"), "# Body\n");
        assert_eq!(
            definition_body("# No front matter\n"),
            "# No front matter\n"
        );
    }
}
