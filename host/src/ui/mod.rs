//! `baton ui`: a front end that serves a local web app showing the pipeline, its gates
//! and its memory, live.
//!
//! An axum server on the tokio runtime the MCP server already brings. Every answer
//! comes from the service layer (status, events, history, rollback through gates,
//! rendering), run on tokio's blocking threads; the page (`assets/`: plain HTML, CSS
//! and JavaScript, no build step, nothing from the network) is compiled into the
//! binary. `/api/live` streams a change notice (server-sent events) whenever the
//! store's heads or the manifest change, and the page refetches what it shows.
//!
//! Safety: by default the server listens on 127.0.0.1 only and refuses requests whose
//! `Host` is not that address (a DNS-rebinding page cannot talk to it). Every write
//! (rollback, approving or rejecting a held output) needs the server's token in an `X-Baton-Token` header: the page served
//! on loopback carries it, and a cross-site page can neither read it nor send the
//! header. Listening on another address needs `--bind` and `--token`; then every API
//! call needs the token, and the page takes it from the URL's `#token=` fragment.

mod api;
mod live;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::pipeline::Pipeline;
use crate::service::{Error, ErrorKind, Result, Service};

/// How the UI is served.
#[derive(Clone, Debug)]
pub struct Options {
    /// The address it listens on.
    pub bind: IpAddr,
    /// The port (0: any free one).
    pub port: u16,
    /// The token writes (and, off loopback, every call) must carry.
    pub token: String,
    /// The manifest it shows.
    pub manifest: PathBuf,
    /// Who approves or rejects a held output from the page (`person:NAME`), unless
    /// the request names someone.
    pub person: String,
}

/// What every handler shares.
pub(crate) struct Shared {
    service: Service,
    manifest: PathBuf,
    token: String,
    person: String,
    loopback: bool,
    port: u16,
    /// The manifest, loaded, with the modification time it was loaded at.
    pipeline: Mutex<Option<(SystemTime, Arc<Pipeline>)>>,
    live: tokio::sync::watch::Receiver<u64>,
    /// Held by each call into the service: a sled store opened in this process (no
    /// memory server running) is opened by one call at a time.
    serial: Mutex<()>,
}

impl Shared {
    /// The manifest, reloaded when the file changed.
    fn pipeline(&self) -> Result<Arc<Pipeline>> {
        let modified = std::fs::metadata(&self.manifest)
            .and_then(|m| m.modified())
            .map_err(|e| {
                Error::not_found(format!("cannot read {}: {e}", self.manifest.display()))
            })?;
        let mut cached = self.pipeline.lock().unwrap_or_else(|p| p.into_inner());
        // Keys added at run time (`baton partition add`) reload it too.
        if let Some((at, p)) = cached.as_ref()
            && *at == modified
            && (!p.dynamic_partitions
                || self
                    .service
                    .added_partitions(&p.name)?
                    .iter()
                    .all(|k| p.partitions.contains(k)))
        {
            return Ok(p.clone());
        }
        // As `status` loads it: reads nothing produces are shown as the stages' `missing`
        // reads, not a refusal of the whole page.
        let loaded = Arc::new(self.service.load_definitions(&self.manifest)?);
        *cached = Some((modified, loaded.clone()));
        Ok(loaded)
    }
}

/// Serves the UI until the process ends; `ready` hears the address it listens on.
pub fn serve(service: Service, options: Options, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    let failure = |e: std::io::Error| Error::new(ErrorKind::Failure, e);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(failure)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((options.bind, options.port))
            .await
            .map_err(|e| {
                Error::bad_input(format!(
                    "cannot listen on {}:{}: {e}",
                    options.bind, options.port
                ))
            })?;
        let address = listener.local_addr().map_err(failure)?;
        let (tell, live) = tokio::sync::watch::channel(0u64);
        let shared = Arc::new(Shared {
            service,
            manifest: options.manifest,
            token: options.token,
            person: options.person,
            loopback: options.bind.is_loopback(),
            port: address.port(),
            pipeline: Mutex::new(None),
            live,
            serial: Mutex::new(()),
        });
        live::watch(shared.clone(), tell);
        ready(address);
        axum::serve(listener, router(shared)).await.map_err(failure)
    })
}

/// The routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route(
            "/app.js",
            get(|| asset(include_str!("assets/app.js"), "text/javascript")),
        )
        .route(
            "/app.css",
            get(|| asset(include_str!("assets/app.css"), "text/css")),
        )
        .route("/api/pipeline", get(api::pipeline))
        .route("/api/timeline", get(api::timeline))
        .route("/api/partitions", get(api::partitions))
        .route("/api/stages/{name}", get(api::stage))
        .route("/api/stages/{name}/render", get(api::render))
        .route("/api/stages/{name}/view", get(api::view))
        .route("/api/memory/namespaces", get(api::namespaces))
        .route("/api/memory/keys", get(api::keys))
        .route("/api/memory/entry", get(api::entry))
        .route("/api/memory/diff", get(api::diff))
        .route("/api/memory/rollback", post(api::rollback))
        .route("/api/stages/{name}/{decision}", post(api::decide))
        .route("/api/live", get(live::stream))
        .fallback(|| async { api::error(Error::not_found("no such page")) })
        .layer(axum::middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

async fn asset(body: &'static str, kind: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// The page, carrying the token when served on loopback.
async fn index(State(shared): State<Arc<Shared>>) -> Response {
    let token = if shared.loopback {
        shared.token.as_str()
    } else {
        ""
    };
    let page = include_str!("assets/index.html").replace("{{TOKEN}}", token);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// Refuses a foreign `Host` on loopback, a call without the token where one is needed,
/// and adds the headers that keep the page to itself.
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if let Some(refusal) = refusal(&shared, request.method(), request.uri(), request.headers()) {
        return refusal;
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn refusal(
    shared: &Shared,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Option<Response> {
    let forbidden = |why: String| {
        let mut r = api::error(Error::new(ErrorKind::BadInput, anyhow::anyhow!(why)));
        *r.status_mut() = StatusCode::FORBIDDEN;
        r
    };
    if shared.loopback {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let port = shared.port;
        let ours = [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        if !ours.iter().any(|h| h == host) {
            return Some(forbidden(format!(
                "this server answers requests for 127.0.0.1:{port} only, not for host {:?}",
                host.chars().take(64).collect::<String>()
            )));
        }
    }
    let api = uri.path().starts_with("/api/");
    let write = method != Method::GET && method != Method::HEAD;
    if !api || (!write && shared.loopback) {
        return None;
    }
    let given = headers
        .get("x-baton-token")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            // EventSource cannot send headers: a read may carry the token in the query.
            (!write)
                .then(|| {
                    uri.query()?
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("token=").map(str::to_owned))
                })
                .flatten()
        });
    match given {
        Some(t) if same(&t, &shared.token) => None,
        Some(_) => Some(forbidden("the token is wrong".into())),
        None if write => Some(forbidden(
            "a change needs the server's token in an `X-Baton-Token` header (the page sends it)"
                .into(),
        )),
        None => Some(forbidden(
            "this server listens beyond loopback: every call needs its token (`X-Baton-Token`)"
                .into(),
        )),
    }
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}
