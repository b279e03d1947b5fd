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

use super::Shared;
use crate::memory::{Hit, Key, Namespace, SearchQuery, Writer};
use crate::pipeline::{Pipeline, Stage};
use crate::service::{Error, ErrorKind, Result, find_stage};

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
    let body = ErrorBody {
        error: e.message(),
        kind: e.kind().code(),
        hints: e.hints(),
        report: e.report(),
    };
    (status, Json(body)).into_response()
}

/// The body of an error answer.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: String,
    kind: &'static str,
    hints: &'a [String],
    report: Option<&'a crate::gates::GateReport>,
}

/// A document as its stage's renderer writes it.
#[derive(Serialize)]
struct Rendered {
    format: &'static str,
    text: String,
}

/// `POST /api/memory/rollback`'s body.
#[derive(serde::Deserialize)]
struct RollbackRequest {
    namespace: String,
    key: String,
    revision: u64,
    #[serde(default)]
    if_revision: Option<u64>,
}

/// `POST /api/stages/{name}/approve` and `/reject`'s body.
#[derive(serde::Deserialize)]
struct DecideRequest {
    /// Who decides [default: the person who started `baton ui`].
    #[serde(default)]
    by: Option<String>,
    /// The note (approving) or the reason (rejecting, required).
    #[serde(default)]
    reason: Option<String>,
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

/// `GET /api/pipeline`: every stage with its state, gates and last run, and the
/// inputs.
pub(super) async fn pipeline(State(shared): State<Arc<Shared>>) -> Response {
    answer(shared, |shared| {
        let pipeline = shared.pipeline()?;
        shared.service.pipeline_view(&pipeline)
    })
    .await
}

/// `GET /api/partitions`: the stages by the pipeline's partitions, each cell's state.
pub(super) async fn partitions(State(shared): State<Arc<Shared>>) -> Response {
    answer(shared, |shared| {
        let pipeline = shared.pipeline()?;
        shared.service.matrix(&pipeline)
    })
    .await
}

/// `GET /api/timeline[?workflow=ID]`: a workflow (the newest by default) as a
/// timeline of its stage runs, with its critical path.
pub(super) async fn timeline(State(shared): State<Arc<Shared>>, Query(params): Params) -> Response {
    answer(shared, move |shared| {
        let pipeline = shared.pipeline()?;
        shared
            .service
            .timeline(&pipeline, params.get("workflow").map(String::as_str))
    })
    .await
}

/// `GET /api/stages/{name}`: the stage, its output's provenance and gate report, the
/// history of its key, its events, and what its gates last refused.
pub(super) async fn stage(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    answer(shared, move |shared| {
        let pipeline = shared.pipeline()?;
        shared.service.stage_page(&pipeline, &name)
    })
    .await
}

/// `GET /api/stages/{name}/view`: the stage's output as its renderer draws it for a
/// page (blocks: headings, tables, bars, charts).
pub(super) async fn view(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    answer(shared, move |shared| {
        let pipeline = shared.pipeline()?;
        let stage = stage_named(&pipeline, &name)?;
        shared.service.document_view(&pipeline, &stage.name)
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
        let (ns, key) = stage.output().ok_or_else(|| {
            Error::not_found(format!("stage `{}` writes nothing to render", stage.name))
        })?;
        let entry = shared.service.retrieve(ns, key, None)?;
        let text = shared.service.render(&entry.json(), ns, key, "markdown")?;
        Ok(Rendered {
            format: "markdown",
            text,
        })
    })
    .await
}

/// `GET /api/memory/namespaces`: every namespace with its live keys, baton's own too.
pub(super) async fn namespaces(State(shared): State<Arc<Shared>>) -> Response {
    answer(shared, |shared| shared.service.namespaces(true)).await
}

/// `GET /api/memory/keys?namespace=&prefix=&q=`: the live keys starting with
/// `prefix`; with `q`, the documents matching it best first, each with its similarity,
/// the words it matched and its snippet (as `baton memory search --json`).
pub(super) async fn keys(State(shared): State<Arc<Shared>>, Query(params): Params) -> Response {
    answer(shared, move |shared| {
        let ns = params
            .get("namespace")
            .filter(|n| !n.is_empty())
            .map(|n| Namespace::new(n.clone()))
            .transpose()?;
        let prefix = params.get("prefix").map(String::as_str).unwrap_or("");
        match params.get("q").filter(|q| !q.is_empty()) {
            Some(q) => {
                let mut query = SearchQuery::new(q.clone()).limit(200);
                query.namespace = ns.map(|n| n.as_str().to_owned());
                query.key_prefix = prefix.to_owned();
                Ok(shared
                    .service
                    .search(&query)?
                    .iter()
                    .map(Hit::view)
                    .collect::<Vec<_>>())
            }
            None => {
                let mut list = shared.service.list(ns.as_ref(), prefix)?;
                list.truncate(2000);
                Ok(list
                    .iter()
                    .map(|m| serde_json::to_value(m).unwrap_or_default())
                    .collect())
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
        shared
            .service
            .entry_view(&ns, &key, revision(&params, "revision")?)
    })
    .await
}

/// `GET /api/memory/diff?namespace=&key=&from=&to=`: what changed between two
/// revisions, by JSON pointer.
pub(super) async fn diff(State(shared): State<Arc<Shared>>, Query(params): Params) -> Response {
    answer(shared, move |shared| {
        let (ns, key) = names(&params)?;
        let pick = |name: &str| {
            revision(&params, name)?
                .ok_or_else(|| Error::bad_input(format!("the query needs `{name}`")))
        };
        shared.service.diff(&ns, &key, pick("from")?, pick("to")?)
    })
    .await
}

/// `POST /api/memory/rollback {namespace, key, revision, if_revision}`: writes a
/// retained revision again as a new one, through the key's gates (the CLI's call).
pub(super) async fn rollback(
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Response {
    answer(shared, move |shared| {
        let request: RollbackRequest = serde_json::from_slice(&body)
            .map_err(|e| Error::bad_input(format!("the request does not read: {e}")))?;
        let (ns, key) = (Namespace::new(request.namespace)?, Key::new(request.key)?);
        shared.service.rollback(
            &ns,
            &key,
            request.revision,
            &Writer("ui".into()),
            request.if_revision,
            None,
        )
    })
    .await
}

/// `POST /api/stages/{name}/approve {by?, reason?}` stores the stage's held output;
/// `POST /api/stages/{name}/reject {by?, reason}` sends it back.
pub(super) async fn decide(
    State(shared): State<Arc<Shared>>,
    Path((name, decision)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    answer(shared, move |shared| {
        let request = decide_request(&body)?;
        let by = request.by.unwrap_or_else(|| shared.person.clone());
        match decision.as_str() {
            "approve" => shared.service.approve(&name, &by, request.reason),
            "reject" => shared
                .service
                .reject(&name, &by, request.reason.unwrap_or_default()),
            other => Err(Error::not_found(format!(
                "no decision `{}`: approve or reject",
                crate::text::short(other)
            ))),
        }
    })
    .await
}

fn decide_request(body: &[u8]) -> Result<DecideRequest> {
    serde_json::from_slice(body)
        .map_err(|e| Error::bad_input(format!("the request does not read: {e}")))
}
