//! The UI's JSON API: each handler a translation of one or two service calls, run on
//! tokio's blocking threads; a service error becomes a status code and a JSON body
//! (`error`, `kind`, `hints`, and the gate report of a refusal).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::Shared;
use crate::memory::{EntryMeta, Key, Namespace, Store, Writer};
use crate::pipeline::{GateCheck, Pipeline, Stage};
use crate::records::{Provenance, QUARANTINE_NAMESPACE, Quarantined};
use crate::service::{Error, ErrorKind, EventFilter, Result, StageStatus, find_stage};

type Params = Query<HashMap<String, String>>;

/// A service error as a response.
pub(super) fn error(e: Error) -> Response {
    let status = match e.kind() {
        ErrorKind::BadInput => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::GateFailed => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Store => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Failure | ErrorKind::StageFailed => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let body = json!({
        "error": e.message(),
        "kind": e.kind().code(),
        "hints": e.hints(),
        "report": e.report(),
    });
    (status, Json(body)).into_response()
}

/// Runs `f` on a blocking thread and answers with its JSON or its error.
async fn answer<T: Serialize + Send + 'static>(
    shared: Arc<Shared>,
    f: impl FnOnce(&Shared) -> Result<T> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(move || {
        let _one_at_a_time = shared.serial.lock().unwrap_or_else(|p| p.into_inner());
        f(&shared)
    })
    .await
    {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(e)) => error(e),
        Err(e) => error(Error::new(ErrorKind::Failure, e)),
    }
}

/// A query parameter that must be present.
fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Result<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| Error::bad_input(format!("the query needs `{name}`")))
}

/// A revision number from the query.
fn revision(params: &HashMap<String, String>, name: &str) -> Result<Option<u64>> {
    params
        .get(name)
        .map(|r| {
            r.parse().map_err(|_| {
                Error::bad_input(format!(
                    "`{name}` must be a revision number, not {:?}",
                    r.chars().take(32).collect::<String>()
                ))
            })
        })
        .transpose()
}

fn names(params: &HashMap<String, String>) -> Result<(Namespace, Key)> {
    Ok((
        Namespace::new(param(params, "namespace")?)?,
        Key::new(param(params, "key")?)?,
    ))
}

/// The stage `name` of `pipeline`; an unknown one is not found (404), not bad input.
fn stage_named<'p>(pipeline: &'p Pipeline, name: &str) -> Result<&'p Stage> {
    find_stage(pipeline, name).map_err(|e| {
        let mut err = Error::not_found(e.message());
        for hint in e.hints() {
            err = err.hint(hint.clone());
        }
        err
    })
}

/// A stage as the pipeline view draws it.
#[derive(Serialize)]
struct StageNode {
    name: String,
    agent: String,
    phase: Option<u32>,
    agent_number: Option<u32>,
    external: bool,
    namespace: String,
    writes: Option<String>,
    reads: Vec<String>,
    depends_on: Vec<String>,
    gates: Vec<GateView>,
    enforced: usize,
    unchecked: usize,
    state: crate::service::StageState,
    why: String,
    waiting_on: Vec<String>,
    /// Reads no stage writes and the memory does not hold (`namespace:key`).
    missing: Vec<String>,
    ready: bool,
    done: bool,
    quarantined: bool,
    /// A worker runs it now (a PostgreSQL store's queue; a local run's stages are
    /// not visible until they commit).
    running: bool,
    last_run: Option<LastRun>,
    renders: bool,
}

#[derive(Serialize)]
struct GateView {
    name: String,
    rule: String,
    severity: crate::pipeline::Severity,
    kind: &'static str,
}

#[derive(Serialize)]
struct LastRun {
    at: crate::memory::Timestamp,
    revision: u64,
    workflow: Option<String>,
    agent_id: Option<String>,
}

fn gates(stage: &Stage) -> Vec<GateView> {
    stage
        .gates
        .iter()
        .map(|g| GateView {
            name: g.name.clone(),
            rule: g.rule.clone(),
            severity: g.severity,
            kind: match g.check {
                GateCheck::Schema { .. } => "schema",
                GateCheck::Component { .. } => "component",
                GateCheck::Unchecked => "unchecked",
            },
        })
        .collect()
}

fn output_meta(store: &dyn Store, stage: &Stage) -> Result<Option<EntryMeta>> {
    let Some(key) = &stage.writes else {
        return Ok(None);
    };
    let ns = Namespace::new(stage.writes_namespace.clone())?;
    Ok(store.get(&ns, &Key::new(key.clone())?)?.map(|e| e.meta))
}

fn quarantine(store: &dyn Store, stage: &str) -> Result<Option<(EntryMeta, Quarantined)>> {
    let entry = store.get(
        &Namespace::new(QUARANTINE_NAMESPACE)?,
        &Key::new(stage.to_owned())?,
    )?;
    Ok(entry.and_then(|e| {
        serde_json::from_slice::<Quarantined>(&e.value)
            .ok()
            .map(|q| (e.meta, q))
    }))
}

fn node(store: &dyn Store, stage: &Stage, status: StageStatus) -> Result<StageNode> {
    let output = output_meta(store, stage)?;
    // Quarantined when the last output its gates refused is newer than the stored one.
    let quarantined = quarantine(store, &stage.name)?
        .is_some_and(|(q, _)| output.as_ref().is_none_or(|o| q.written_at >= o.written_at));
    let last_run = output.map(|meta| {
        let run = Provenance::of(&meta).and_then(|p| p.run);
        LastRun {
            at: meta.written_at,
            revision: meta.revision,
            workflow: run.as_ref().map(|r| r.workflow_id.clone()),
            agent_id: run.map(|r| r.agent_id),
        }
    });
    let gates = gates(stage);
    Ok(StageNode {
        name: stage.name.clone(),
        agent: stage.agent_name.clone(),
        phase: stage.phase,
        agent_number: stage.agent_number,
        external: stage.external,
        namespace: stage.writes_namespace.clone(),
        writes: stage.writes.clone(),
        reads: stage.reads.0.iter().map(|g| g.to_string()).collect(),
        depends_on: stage.depends_on.clone(),
        enforced: gates.iter().filter(|g| g.kind != "unchecked").count(),
        unchecked: gates.iter().filter(|g| g.kind == "unchecked").count(),
        gates,
        state: status.state,
        why: status.why,
        waiting_on: status.waiting_on,
        missing: status.missing,
        ready: status.ready,
        done: status.done,
        quarantined,
        running: !status.running_on.is_empty(),
        last_run,
        renders: stage.render.is_some(),
    })
}

fn nodes(shared: &Shared, pipeline: &Pipeline) -> Result<Vec<StageNode>> {
    let statuses = shared.service.status(pipeline)?;
    let store = shared.service.store()?;
    pipeline
        .stages
        .iter()
        .zip(statuses)
        .map(|(stage, status)| node(store.as_ref(), stage, status))
        .collect()
}

/// `GET /api/pipeline`: every stage with its state, gates and last run, and the
/// inputs.
pub(super) async fn pipeline(State(shared): State<Arc<Shared>>) -> Response {
    answer(shared, |shared| {
        let pipeline = shared.pipeline()?;
        Ok(json!({
            "name": pipeline.name,
            "namespace": pipeline.namespace,
            "manifest": pipeline.path,
            "store": shared.service.location().to_string(),
            "inputs": pipeline.inputs.iter().map(|i| json!({"namespace": i.namespace, "key": i.key})).collect::<Vec<_>>(),
            "stages": nodes(shared, &pipeline)?,
        }))
    })
    .await
}

/// `GET /api/stages/{name}`: the stage, its output's provenance and gate report, the
/// history of its key, its events, and what its gates last refused.
pub(super) async fn stage(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    answer(shared, move |shared| {
        let pipeline = shared.pipeline()?;
        let stage = stage_named(&pipeline, &name)?;
        let index = pipeline.stages.iter().position(|s| s.name == stage.name).unwrap_or(0);
        let status = shared.service.status(&pipeline)?.swap_remove(index);
        // The store is released before the service calls below open it again: with no
        // memory server, this process may hold it once at a time.
        let (node, output, quarantine) = {
            let store = shared.service.store()?;
            let output = match &stage.writes {
                Some(key) => store.get(
                    &Namespace::new(stage.writes_namespace.clone())?,
                    &Key::new(key.clone())?,
                )?,
                None => None,
            };
            let quarantine = quarantine(store.as_ref(), &stage.name)?
                .map(|(meta, q)| json!({"at": meta.written_at, "record": q}));
            (node(store.as_ref(), stage, status)?, output, quarantine)
        };
        let history = match &stage.writes {
            Some(key) => shared
                .service
                .history(
                    &Namespace::new(stage.writes_namespace.clone())?,
                    &Key::new(key.clone())?,
                )
                .or_else(|e| match e.kind() {
                    ErrorKind::NotFound => Ok(Vec::new()),
                    _ => Err(e),
                })?,
            None => Vec::new(),
        };
        let provenance = output.as_ref().and_then(|e| Provenance::of(&e.meta));
        let events = shared.service.events(&EventFilter {
            workflow: None,
            agent: None,
            key: None,
            name_prefix: Some(format!("agent.{}.", stage.agent_name)),
        })?;
        // The events of the stage's last runs, newest run first.
        let mut runs: Vec<(String, Vec<&crate::records::Event>)> = Vec::new();
        for e in &events {
            match runs.iter_mut().find(|(id, _)| *id == e.agent_id) {
                Some((_, list)) => list.push(e),
                None => runs.push((e.agent_id.clone(), vec![e])),
            }
        }
        runs.reverse();
        runs.truncate(10);
        Ok(json!({
            "stage": node,
            "output": output.as_ref().map(|e| json!({"meta": e.meta, "value": e.json()})),
            "provenance": provenance,
            "history": history,
            "runs": runs.into_iter().map(|(agent_id, events)| json!({"agent_id": agent_id, "events": events})).collect::<Vec<_>>(),
            "quarantine": quarantine,
        }))
    })
    .await
}

/// `GET /api/stages/{name}/render`: the stage's output as its renderer writes it.
pub(super) async fn render(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
) -> Response {
    answer(shared, move |shared| {
        let pipeline = shared.pipeline()?;
        let stage = stage_named(&pipeline, &name)?;
        let key = stage.writes.clone().ok_or_else(|| {
            Error::not_found(format!("stage `{}` writes nothing to render", stage.name))
        })?;
        let (ns, key) = (
            Namespace::new(stage.writes_namespace.clone())?,
            Key::new(key)?,
        );
        let entry = shared.service.retrieve(&ns, &key, None)?;
        let text = shared
            .service
            .render(&entry.json(), &ns, &key, "markdown")?;
        Ok(json!({ "format": "markdown", "text": text }))
    })
    .await
}

/// `GET /api/memory/namespaces`: every namespace with its live keys, baton's own too.
pub(super) async fn namespaces(State(shared): State<Arc<Shared>>) -> Response {
    answer(shared, |shared| shared.service.namespaces(true)).await
}

/// `GET /api/memory/keys?namespace=&prefix=&q=`: the live keys (with `q`, those whose
/// key or value contains it).
pub(super) async fn keys(State(shared): State<Arc<Shared>>, Query(params): Params) -> Response {
    answer(shared, move |shared| {
        let ns = params
            .get("namespace")
            .filter(|n| !n.is_empty())
            .map(|n| Namespace::new(n.clone()))
            .transpose()?;
        match params.get("q").filter(|q| !q.is_empty()) {
            Some(q) => Ok(shared
                .service
                .search(ns.as_ref(), q, 500)?
                .into_iter()
                .map(|e| e.meta)
                .collect::<Vec<_>>()),
            None => {
                let prefix = params.get("prefix").map(String::as_str).unwrap_or("");
                let mut list = shared.service.list(ns.as_ref(), prefix)?;
                list.truncate(2000);
                Ok(list)
            }
        }
    })
    .await
}

/// `GET /api/memory/entry?namespace=&key=[&revision=]`: a revision (the live one by
/// default) with its metadata, provenance and the key's history.
pub(super) async fn entry(State(shared): State<Arc<Shared>>, Query(params): Params) -> Response {
    answer(shared, move |shared| {
        let (ns, key) = names(&params)?;
        let entry = shared
            .service
            .retrieve(&ns, &key, revision(&params, "revision")?)?;
        let history = shared.service.history(&ns, &key)?;
        Ok(json!({
            "meta": entry.meta,
            "value": if entry.meta.deleted { Value::Null } else { entry.json() },
            "provenance": Provenance::of(&entry.meta),
            "history": history,
        }))
    })
    .await
}

/// `GET /api/memory/diff?namespace=&key=&from=&to=`: what changed between two
/// revisions, by JSON pointer.
pub(super) async fn diff(State(shared): State<Arc<Shared>>, Query(params): Params) -> Response {
    answer(shared, move |shared| {
        let (ns, key) = names(&params)?;
        let pick = |name: &str| -> Result<Value> {
            let n = revision(&params, name)?
                .ok_or_else(|| Error::bad_input(format!("the query needs `{name}`")))?;
            let e = shared.service.retrieve(&ns, &key, Some(n))?;
            Ok(if e.meta.deleted {
                Value::Null
            } else {
                e.json()
            })
        };
        let (from, to) = (pick("from")?, pick("to")?);
        let mut changes = Vec::new();
        changed(&from, &to, &mut String::new(), &mut changes);
        Ok(json!({ "changes": changes }))
    })
    .await
}

/// Adds the differences of `a` and `b` below `pointer` to `out`, at most 1,000.
fn changed(a: &Value, b: &Value, pointer: &mut String, out: &mut Vec<Value>) {
    if out.len() >= 1000 || a == b {
        return;
    }
    let len = pointer.len();
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                push_token(pointer, k);
                match y.get(k) {
                    Some(vb) => changed(va, vb, pointer, out),
                    None => out.push(json!({"pointer": pointer, "op": "removed", "before": va})),
                }
                pointer.truncate(len);
            }
            for (k, vb) in y.iter().filter(|(k, _)| !x.contains_key(*k)) {
                push_token(pointer, k);
                out.push(json!({"pointer": pointer, "op": "added", "after": vb}));
                pointer.truncate(len);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                push_token(pointer, &i.to_string());
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => changed(va, vb, pointer, out),
                    (Some(va), None) => {
                        out.push(json!({"pointer": pointer, "op": "removed", "before": va}))
                    }
                    (None, Some(vb)) => {
                        out.push(json!({"pointer": pointer, "op": "added", "after": vb}))
                    }
                    (None, None) => {}
                }
                pointer.truncate(len);
            }
        }
        _ => out.push(json!({"pointer": pointer, "op": "changed", "before": a, "after": b})),
    }
}

fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
}

/// `POST /api/memory/rollback {namespace, key, revision, if_revision}`: writes a
/// retained revision again as a new one, through the key's gates (the CLI's call).
pub(super) async fn rollback(
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Response {
    answer(shared, move |shared| {
        let request: Value = serde_json::from_slice(&body)
            .map_err(|e| Error::bad_input(format!("the request is not JSON: {e}")))?;
        let text = |name: &str| {
            request[name]
                .as_str()
                .ok_or_else(|| Error::bad_input(format!("the request needs `{name}` (a string)")))
        };
        let (ns, key) = (Namespace::new(text("namespace")?)?, Key::new(text("key")?)?);
        let to = request["revision"]
            .as_u64()
            .ok_or_else(|| Error::bad_input("the request needs `revision` (a number)"))?;
        let if_revision = request["if_revision"].as_u64();
        shared
            .service
            .rollback(&ns, &key, to, &Writer("ui".into()), if_revision, None)
    })
    .await
}
