//! Live updates: one watcher per server looks at the store's heads, the manifest and
//! the input files a few times a second, and counts a change whenever they differ;
//! every page listening on `/api/live` (server-sent events) hears of it and refetches
//! what it shows. Looking is store-neutral: it sees a local `baton run`, another
//! process's `memory store` and workers on PostgreSQL alike.

use std::collections::hash_map::DefaultHasher;
use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::Shared;

/// How often the watcher looks.
const EVERY: Duration = Duration::from_millis(250);

/// Starts the watcher.
pub(super) fn watch(shared: Arc<Shared>, tell: tokio::sync::watch::Sender<u64>) {
    tokio::task::spawn_blocking(move || {
        let mut last = None;
        let mut version = 0u64;
        loop {
            let looked = {
                let _one_at_a_time = shared.serial.lock().unwrap_or_else(|p| p.into_inner());
                fingerprint(&shared)
            };
            match looked {
                Ok(now) if last != Some(now) => {
                    last = Some(now);
                    version += 1;
                    tell.send_replace(version);
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "the UI's watcher could not look"),
            }
            std::thread::sleep(EVERY);
        }
    });
}

/// A hash of what the pages show: every key's revision, the held outputs, the
/// manifest's and the input files' modification times.
fn fingerprint(shared: &Shared) -> crate::service::Result<u64> {
    let mut h = DefaultHasher::new();
    for meta in shared.service.list(None, "")? {
        (meta.namespace, meta.key, meta.revision).hash(&mut h);
    }
    shared.service.running()?.hash(&mut h);
    // Outputs held for a person live in a namespace of baton's own, which `list`
    // leaves out: a held output, a rejection and an approval are changes too.
    for held in shared.service.held_outputs()? {
        (
            held.stage,
            held.held_at.to_string(),
            held.rejected.is_some(),
        )
            .hash(&mut h);
    }
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    modified(&shared.manifest).hash(&mut h);
    if let Ok(pipeline) = shared.pipeline() {
        for input in &pipeline.inputs {
            modified(&input.file).hash(&mut h);
        }
    }
    Ok(h.finish())
}

/// `GET /api/live`: a `change` event (its data, the change count) at once and after
/// every change.
pub(super) async fn stream(
    State(shared): State<Arc<Shared>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = shared.live.clone();
    let changes = futures_util::stream::unfold((receiver, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let version = *rx.borrow_and_update();
        let event = Event::default().event("change").data(version.to_string());
        Some((Ok(event), (rx, false)))
    });
    Sse::new(changes).keep_alive(KeepAlive::default())
}
