//! Which remedies fit a call on a request path. Advice for a slow call depends on two
//! facts the inputs hold: whether its answers can be reused (only then can caching
//! help; a payment authorisation is unique to its request) and whether the response
//! carries its answer (only when it does not can the call leave the request path for
//! a queue). The architect advises from these facts, and the latency-budget gate
//! refuses a document whose advice contradicts them, so both read them here.

use crate::inputs::{CriticalPath, ExternalService, Integration, System};

/// What the inputs say about calls to one component or external service.
#[derive(Clone, Debug, PartialEq)]
pub struct CallFit {
    /// The component or service called.
    pub name: String,
    /// Whether its answers can be reused by other requests.
    pub cacheable: bool,
    /// Whether the response carries its answer, so the call must stay on the path.
    pub response_needs_it: bool,
    /// Whether a retry is safe: a read, or a provider that takes idempotency keys.
    pub retry_safe: bool,
    /// Whether the provider takes idempotency keys.
    pub idempotency_keys: bool,
    /// Whether the provider allows hedged requests.
    pub hedging: bool,
    /// What callers do while its circuit is open.
    pub fallback: String,
    /// Its declared rate limit, rps.
    pub rate_limit_rps: Option<f64>,
    /// Its contract latency (p95), ms, for an external service.
    pub contract_ms: Option<f64>,
    /// The timeout callers use today, ms.
    pub timeout_ms: Option<f64>,
}

/// The fallback when the inputs name none.
pub const DEFAULT_FALLBACK: &str =
    "fail fast with a retryable error (`503` with `Retry-After`) instead of queueing requests";

/// The facts about calls to `name`. A service on no critical path but called
/// synchronously from inside a hop of one (a lookup inside a service) takes the
/// paths of its callers.
pub fn call_fit(system: &System, integration: &Integration, name: &str) -> CallFit {
    let crossing = |n: &str| -> Vec<&CriticalPath> {
        system
            .critical_paths
            .iter()
            .filter(|p| p.components.iter().any(|c| c == n))
            .collect()
    };
    let mut paths = crossing(name);
    if paths.is_empty() {
        for caller in system.calls.iter().filter(|c| c.to == name && c.sync) {
            for p in crossing(&caller.from) {
                if !paths.contains(&p) {
                    paths.push(p);
                }
            }
        }
    }
    let service: Option<&ExternalService> = integration
        .external_services
        .iter()
        .find(|e| e.name == name);
    let reads_only = !paths.is_empty() && paths.iter().all(|p| p.is_read());
    let cacheable = service.and_then(|s| s.cacheable).unwrap_or(reads_only);
    let calls: Vec<bool> = system
        .calls
        .iter()
        .filter(|c| c.to == name)
        .map(|c| c.sync)
        .collect();
    let called_async =
        service.is_some_and(|s| !s.sync) || (!calls.is_empty() && calls.iter().all(|sync| !sync));
    let may_defer = !paths.is_empty() && paths.iter().all(|p| p.may_answer_202);
    let idempotency_keys = service.is_some_and(|s| s.idempotency_keys);
    CallFit {
        name: name.to_owned(),
        cacheable,
        response_needs_it: !called_async && !may_defer,
        retry_safe: reads_only || cacheable || idempotency_keys,
        idempotency_keys,
        hedging: service.is_some_and(|s| s.hedging),
        fallback: service
            .and_then(|s| s.fallback.clone())
            .unwrap_or_else(|| DEFAULT_FALLBACK.to_owned()),
        rate_limit_rps: service.and_then(|s| s.rate_limit_rps),
        contract_ms: service.map(|s| s.latency_ms),
        timeout_ms: service.and_then(|s| s.timeout_ms),
    }
}

/// Advice for a slow call: the remedies that fit it (names from
/// [`crate::output::REMEDIES`]) and the sentence that says them. `timeout_ms` is the
/// longest wait the hop's budget allows.
pub fn remedies(fit: &CallFit, timeout_ms: f64) -> (Vec<String>, String) {
    let mut names = Vec::new();
    let mut say = Vec::new();
    if fit.cacheable {
        names.push("cache");
        say.push("cache its answers".to_owned());
    }
    if !fit.response_needs_it {
        names.push("off-request-path");
        say.push("move the call off the request path, onto a queue".to_owned());
    }
    names.push("timeout");
    say.push(match (fit.contract_ms, fit.timeout_ms) {
        (Some(contract), _) if contract > timeout_ms => format!(
            "give it a timeout, knowing its {contract} ms contract is over the {timeout_ms} ms its hop's budget allows: a timeout alone would fail most calls, so the budget must grow or the call leave the hop"
        ),
        (_, Some(today)) if today > timeout_ms => format!(
            "give it a timeout of at most {timeout_ms} ms, inside its hop's budget (the {today} ms configured today is over it)"
        ),
        _ => format!("give it a timeout of at most {timeout_ms} ms, inside its hop's budget"),
    });
    names.push("circuit-breaker");
    say.push(format!(
        "put a circuit breaker around it that falls back to: {}",
        fit.fallback
    ));
    if fit.retry_safe {
        names.push("idempotent-retry");
        say.push(if fit.idempotency_keys {
            "retry once with an idempotency key".to_owned()
        } else {
            "retry a failed lookup once".to_owned()
        });
    } else {
        say.push("do not retry: without an idempotency key a retry could act twice".to_owned());
    }
    if fit.hedging {
        names.push("hedged-requests");
        say.push("hedge a request that passes its p95 with a second one".to_owned());
    }
    names.push("renegotiate");
    say.push(if fit.rate_limit_rps.is_some() {
        "renegotiate its contract latency and rate limit".to_owned()
    } else {
        "renegotiate its contract latency".to_owned()
    });
    let why = match (fit.cacheable, fit.response_needs_it) {
        (false, true) => {
            " (its answers are unique to each request and the response carries them: neither caching nor a queue applies)"
        }
        (false, false) => " (its answers are unique to each request: caching does not apply)",
        (true, true) => " (the response carries its answer: a queue does not apply)",
        (true, false) => "",
    };
    (
        names.into_iter().map(str::to_owned).collect(),
        format!("{}{why}", say.join("; ")),
    )
}
