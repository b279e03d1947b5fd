//! The performance architect's four quality gates, and the budget check's, as rules
//! over any document: the stage's own output, or one written by a person or a
//! language model. They read the document as loose JSON (so a malformed document
//! gets findings with pointers, not a parse error) and cross-check it against the
//! inputs the stage read.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::architect::{Metric, TTL_MAX_S, TTL_MIN_S, is_performance};
use crate::calls::call_fit;
use crate::inputs::{
    ComponentKind, Data, Integration, Measurements, Nfr, Requirements, System, keys,
};

/// One problem a gate found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The JSON pointer in the document.
    pub pointer: String,
    /// What was expected there.
    pub expected: String,
    /// What was found.
    pub actual: String,
    /// A sentence for people.
    pub message: String,
}

fn finding(
    pointer: impl Into<String>,
    expected: impl Into<String>,
    actual: impl Into<String>,
    message: impl Into<String>,
) -> Finding {
    Finding {
        pointer: pointer.into(),
        expected: expected.into(),
        actual: actual.into(),
        message: message.into(),
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "nothing".into(),
        Some(v) => {
            let s = v.to_string();
            if s.len() > 80 {
                format!(
                    "{}…",
                    &s[..s.char_indices().nth(77).map_or(s.len(), |(i, _)| i)]
                )
            } else {
                s
            }
        }
    }
}

/// The gates this crate knows, by rule name.
pub const RULES: [&str; 5] = [
    "measurable-slos",
    "latency-budgets",
    "growth-capacity",
    "cache-invalidation",
    "budgets-met",
];

/// Runs gate `rule` on `document` with the inputs looked up by key through `input`.
/// An unknown rule, or an input the rule needs and was not handed, is a finding: a
/// gate never passes what it could not check.
pub fn check(rule: &str, document: &Value, input: &dyn Fn(&str) -> Option<Value>) -> Vec<Finding> {
    let need = |key: &str| -> Result<Value, Finding> {
        input(key).ok_or_else(|| {
            finding(
                "",
                format!("the input `{key}`"),
                "nothing",
                format!("gate `{rule}` needs `{key}`, and it was not handed to the gate"),
            )
        })
    };
    let typed = |key: &str| -> Result<Value, Vec<Finding>> { need(key).map_err(|f| vec![f]) };
    let result = (|| -> Result<Vec<Finding>, Vec<Finding>> {
        Ok(match rule {
            "measurable-slos" => measurable_slos(
                document,
                &parse(keys::REQUIREMENTS, typed(keys::REQUIREMENTS)?)?,
            ),
            "latency-budgets" => latency_budgets(
                document,
                &parse(keys::SYSTEM, typed(keys::SYSTEM)?)?,
                &parse(keys::INTEGRATION, typed(keys::INTEGRATION)?)?,
            ),
            "growth-capacity" => growth_capacity(
                document,
                &parse(keys::REQUIREMENTS, typed(keys::REQUIREMENTS)?)?,
                &parse(keys::SYSTEM, typed(keys::SYSTEM)?)?,
            ),
            "cache-invalidation" => cache_invalidation(
                document,
                &parse(keys::INTEGRATION, typed(keys::INTEGRATION)?)?,
                &parse(keys::DATA, typed(keys::DATA)?)?,
            ),
            "budgets-met" => budgets_met(
                document,
                &typed(keys::PERFORMANCE)?,
                &parse(keys::MEASUREMENTS, typed(keys::MEASUREMENTS)?)?,
            ),
            other => vec![finding(
                "",
                format!("one of {}", RULES.join(", ")),
                other,
                format!("no gate rule is named `{other}`"),
            )],
        })
    })();
    result.unwrap_or_else(|f| f)
}

fn parse<T: serde::de::DeserializeOwned>(key: &str, v: Value) -> Result<T, Vec<Finding>> {
    serde_json::from_value(v).map_err(|e| {
        vec![finding(
            "",
            format!("a valid `{key}`"),
            "an input that does not decode",
            format!("input `{key}` does not decode: {e}"),
        )]
    })
}

fn array<'a>(document: &'a Value, pointer: &str, out: &mut Vec<Finding>) -> &'a [Value] {
    match document.pointer(pointer).and_then(Value::as_array) {
        Some(a) => a,
        None => {
            out.push(finding(
                pointer,
                "an array",
                show(document.pointer(pointer)),
                format!("the document has no array at {pointer}"),
            ));
            &[]
        }
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64).filter(|x| x.is_finite())
}

fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

/// Gate 1: "Performance requirements must have measurable SLOs". No alert on a
/// throughput SLO fires on low traffic. Every SLO has a
/// numeric target, a unit, a percentile where it is a latency, and a measurement;
/// every performance NFR is covered by an SLO or reported as not measurable; the
/// coverage figure is right.
pub fn measurable_slos(document: &Value, requirements: &Requirements) -> Vec<Finding> {
    let mut out = Vec::new();
    let slos = array(document, "/performance_requirements/slos", &mut out);
    let mut covered = BTreeSet::new();
    for (i, slo) in slos.iter().enumerate() {
        let at = format!("/performance_requirements/slos/{i}");
        if number(slo.get("target")).is_none() {
            out.push(finding(
                format!("{at}/target"),
                "a number",
                show(slo.get("target")),
                "an SLO needs a numeric target",
            ));
        }
        if text(slo.get("unit")).is_none() {
            out.push(finding(
                format!("{at}/unit"),
                "a unit",
                show(slo.get("unit")),
                "an SLO needs a unit",
            ));
        }
        if text(slo.get("measurement")).is_none() {
            out.push(finding(
                format!("{at}/measurement"),
                "how it is measured",
                show(slo.get("measurement")),
                "an SLO needs a measurement",
            ));
        }
        let metric = text(slo.get("metric")).and_then(Metric::parse);
        match metric {
            None => out.push(finding(
                format!("{at}/metric"),
                "latency, throughput, availability or error_rate",
                show(slo.get("metric")),
                "an SLO needs a metric that can be measured",
            )),
            Some(Metric::Latency) => {
                let ok = text(slo.get("percentile"))
                    .is_some_and(|p| p.starts_with('p') && p[1..].parse::<f64>().is_ok());
                if !ok {
                    out.push(finding(
                        format!("{at}/percentile"),
                        "a percentile such as p95",
                        show(slo.get("percentile")),
                        "a latency SLO needs a percentile",
                    ));
                }
            }
            Some(_) => {}
        }
        match text(slo.get("nfr")) {
            Some(nfr) => {
                covered.insert(nfr.to_owned());
            }
            None => out.push(finding(
                format!("{at}/nfr"),
                "the NFR id it comes from",
                show(slo.get("nfr")),
                "an SLO must trace to its requirement",
            )),
        }
    }
    out.extend(no_alert_on_low_traffic(document, slos));
    let reported: BTreeSet<String> = document
        .pointer("/performance_requirements/unmeasurable")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|u| text(u.get("nfr")).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let performance: Vec<&Nfr> = requirements
        .non_functional
        .iter()
        .filter(|n| is_performance(n))
        .collect();
    for nfr in &performance {
        if !covered.contains(&nfr.id) && !reported.contains(&nfr.id) {
            out.push(finding(
                "/performance_requirements/slos",
                format!("an SLO for {}, or {} under unmeasurable", nfr.id, nfr.id),
                "neither",
                format!(
                    "performance requirement {} has no SLO and is not reported as unmeasurable",
                    nfr.id
                ),
            ));
        }
    }
    let covering = performance
        .iter()
        .filter(|n| covered.contains(&n.id))
        .count();
    let expected = if performance.is_empty() {
        1.0
    } else {
        covering as f64 / performance.len() as f64
    };
    let ratio = number(document.pointer("/performance_requirements/coverage/ratio"));
    if ratio.is_none_or(|r| (r - expected).abs() > 0.0005) {
        out.push(finding(
            "/performance_requirements/coverage/ratio",
            format!(
                "{expected:.4} ({covering} of {} performance NFRs)",
                performance.len()
            ),
            show(document.pointer("/performance_requirements/coverage/ratio")),
            "the SLO coverage does not match the requirements",
        ));
    }
    out
}

/// The array at `pointer`, or none when absent (what another gate's check requires).
fn optional_array<'a>(document: &'a Value, pointer: &str) -> &'a [Value] {
    document
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A throughput SLO is a capacity promise: an alert that fires when traffic falls
/// (`<`) on a throughput SLO, or on a metric of throughput, pages every quiet night.
fn no_alert_on_low_traffic(document: &Value, slos: &[Value]) -> Vec<Finding> {
    let throughput: BTreeSet<&str> = slos
        .iter()
        .filter(|s| text(s.get("metric")).and_then(Metric::parse) == Some(Metric::Throughput))
        .filter_map(|s| text(s.get("id")))
        .collect();
    let alerts = optional_array(document, "/monitoring/alerts");
    let mut out = Vec::new();
    for (i, a) in alerts.iter().enumerate() {
        let guards = text(a.get("slo")).is_some_and(|id| throughput.contains(id));
        let watches = text(a.get("metric")).is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.starts_with("throughput") || m.starts_with("requests per second")
        });
        if (guards || watches) && text(a.get("comparison")) == Some("<") {
            out.push(finding(
                format!("/monitoring/alerts/{i}/comparison"),
                "an alert on nearing the sized capacity, on saturation or on refused requests (`>`)",
                "`<`: fires when traffic falls",
                "a throughput SLO promises capacity: traffic under its target is demand, not an incident, and this alert would page every quiet night",
            ));
        }
    }
    out
}

/// Advice that cannot apply to its call: caching answers unique to each request, or
/// moving off the request path a call whose answer the response carries. Read from
/// an item's `target` and `remedies`, and from its prose when it names an external
/// service in backticks.
fn advice_fits_calls(document: &Value, system: &System, integration: &Integration) -> Vec<Finding> {
    let items = optional_array(document, "/optimization_plan/items");
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("/optimization_plan/items/{i}");
        let action = text(item.get("action")).unwrap_or_default();
        let mut targets: Vec<&str> = text(item.get("target")).into_iter().collect();
        for s in &integration.external_services {
            if action.contains(&format!("`{}`", s.name)) && !targets.contains(&s.name.as_str()) {
                targets.push(&s.name);
            }
        }
        let remedies: Vec<&str> = item
            .get("remedies")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let lower = action.to_ascii_lowercase();
        let says_cache = [
            "cache its answers",
            "cache the answers",
            "cache its responses",
        ]
        .iter()
        .any(|p| lower.contains(p));
        let says_off = ["off the request path", "onto a queue"]
            .iter()
            .any(|p| lower.contains(p));
        for target in targets {
            let fit = call_fit(system, integration, target);
            if !fit.cacheable && (remedies.contains(&"cache") || says_cache) {
                out.push(finding(
                    remedy_at(&at, &remedies, "cache"),
                    format!("no caching: `{target}`'s answers are unique to each request"),
                    "advice to cache them",
                    format!(
                        "`{target}` is not cacheable (a write, or `cacheable: false` in `{}`): caching its answers cannot apply",
                        keys::INTEGRATION
                    ),
                ));
            }
            if fit.response_needs_it && (remedies.contains(&"off-request-path") || says_off) {
                out.push(finding(
                    remedy_at(&at, &remedies, "off-request-path"),
                    format!("`{target}` kept on the request path: the response carries its answer"),
                    "advice to move it off the path",
                    format!(
                        "`{target}` is called synchronously on a path that cannot answer 202: moving it onto a queue changes the API"
                    ),
                ));
            }
        }
    }
    out
}

/// The pointer of remedy `name` in an item, or of its action when only prose says it.
fn remedy_at(at: &str, remedies: &[&str], name: &str) -> String {
    match remedies.iter().position(|r| *r == name) {
        Some(j) => format!("{at}/remedies/{j}"),
        None => format!("{at}/action"),
    }
}

/// Gate 2: "Critical paths must have latency budgets". Advice for a call on a path
/// fits the call (see [`crate::calls`]). Every critical path of the
/// system has a budget with a segment per hop, and its segments plus headroom add up
/// to no more than its total.
pub fn latency_budgets(
    document: &Value,
    system: &System,
    integration: &Integration,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let budgets = array(
        document,
        "/performance_requirements/latency_budgets",
        &mut out,
    );
    for path in &system.critical_paths {
        let Some((i, budget)) = budgets
            .iter()
            .enumerate()
            .find(|(_, b)| text(b.get("path")) == Some(path.name.as_str()))
        else {
            out.push(finding(
                "/performance_requirements/latency_budgets",
                format!("a budget for critical path `{}`", path.name),
                "none",
                format!(
                    "critical path `{}` ({}) has no latency budget",
                    path.name, path.endpoint
                ),
            ));
            continue;
        };
        let at = format!("/performance_requirements/latency_budgets/{i}");
        let total = number(budget.get("total_ms"));
        let headroom = number(budget.get("headroom_ms"));
        if total.is_none_or(|t| t <= 0.0) {
            out.push(finding(
                format!("{at}/total_ms"),
                "a positive number of ms",
                show(budget.get("total_ms")),
                format!("the budget of `{}` needs a total", path.name),
            ));
        }
        if headroom.is_none_or(|h| h < 0.0) {
            out.push(finding(
                format!("{at}/headroom_ms"),
                "explicit headroom, 0 ms or more",
                show(budget.get("headroom_ms")),
                format!("the budget of `{}` needs explicit headroom", path.name),
            ));
        }
        let segments = array(budget, "/segments", &mut Vec::new());
        let mut sum = 0.0;
        for (j, seg) in segments.iter().enumerate() {
            match number(seg.get("budget_ms")) {
                Some(b) if b >= 0.0 => sum += b,
                _ => out.push(finding(
                    format!("{at}/segments/{j}/budget_ms"),
                    "a number of ms, 0 or more",
                    show(seg.get("budget_ms")),
                    "a segment needs a budget",
                )),
            }
        }
        for hop in &path.components {
            if !segments
                .iter()
                .any(|s| text(s.get("component")) == Some(hop.as_str()))
            {
                out.push(finding(
                    format!("{at}/segments"),
                    format!("a segment for `{hop}`"),
                    "none",
                    format!(
                        "critical path `{}` crosses `{hop}`, which has no budget",
                        path.name
                    ),
                ));
            }
        }
        // No hop below its baseline while the baselines fit the total.
        let baseline = |hop: &str| -> f64 {
            let component = system.components.iter().find(|c| c.name == hop);
            integration
                .external_services
                .iter()
                .find(|e| e.name == hop)
                .filter(|_| component.is_some_and(|c| c.kind == ComponentKind::External))
                .map_or_else(
                    || component.map_or(0.0, |c| c.latency_ms()),
                    |e| e.latency_ms,
                )
                .max(0.0)
        };
        let baselines: f64 = path.components.iter().map(|h| baseline(h)).sum();
        if total.is_some_and(|t| baselines <= t + 1e-9) {
            for (j, seg) in segments.iter().enumerate() {
                let Some(hop) = text(seg.get("component")) else {
                    continue;
                };
                let Some(b) = number(seg.get("budget_ms")) else {
                    continue;
                };
                let floor = baseline(hop);
                if b + 1e-9 < floor {
                    out.push(finding(
                        format!("{at}/segments/{j}/budget_ms"),
                        format!("at least its baseline, {floor} ms"),
                        format!("{b} ms"),
                        format!(
                            "hop `{hop}` of `{}` is budgeted under its baseline although the path's baselines ({baselines} ms) fit its total: shrink the headroom and mark the path tight instead",
                            path.name
                        ),
                    ));
                }
            }
        }
        if let (Some(t), Some(h)) = (total, headroom)
            && sum + h > t + 1e-6
        {
            out.push(finding(
                at.clone(),
                format!("segments + headroom ≤ {t} ms"),
                format!("{sum} + {h} = {} ms", sum + h),
                format!(
                    "the budget of `{}` adds up to more than its total",
                    path.name
                ),
            ));
        }
    }
    out.extend(advice_fits_calls(document, system, integration));
    out
}

/// Gate 3: "Scalability strategy must address growth projections". Every growth
/// horizon has capacity figures for every component that scales, and they never
/// drop below the component's peak.
pub fn growth_capacity(
    document: &Value,
    requirements: &Requirements,
    system: &System,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let components = array(document, "/scalability_design/components", &mut out);
    for c in system
        .components
        .iter()
        .filter(|c| c.kind != ComponentKind::External)
    {
        let Some((i, plan)) = components
            .iter()
            .enumerate()
            .find(|(_, p)| text(p.get("name")) == Some(c.name.as_str()))
        else {
            out.push(finding(
                "/scalability_design/components",
                format!("capacity for `{}`", c.name),
                "none",
                format!("component `{}` scales and has no capacity plan", c.name),
            ));
            continue;
        };
        let at = format!("/scalability_design/components/{i}/replicas");
        let peak = number(plan.pointer("/replicas/peak"));
        if peak.is_none_or(|p| p < 1.0) {
            out.push(finding(
                format!("{at}/peak"),
                "instances at peak, 1 or more",
                show(plan.pointer("/replicas/peak")),
                format!("`{}` has no peak capacity", c.name),
            ));
        }
        let growth = plan
            .pointer("/replicas/growth")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for g in &requirements.growth {
            let Some((j, entry)) = growth
                .iter()
                .enumerate()
                .find(|(_, e)| text(e.get("horizon")) == Some(g.horizon.as_str()))
            else {
                out.push(finding(
                    format!("{at}/growth"),
                    format!("capacity at horizon `{}`", g.horizon),
                    "none",
                    format!(
                        "`{}` has no capacity for growth horizon `{}`",
                        c.name, g.horizon
                    ),
                ));
                continue;
            };
            let replicas = number(entry.get("replicas"));
            match (replicas, peak) {
                (None, _) | (Some(..1.0), _) => out.push(finding(
                    format!("{at}/growth/{j}/replicas"),
                    "instances, 1 or more",
                    show(entry.get("replicas")),
                    format!(
                        "`{}` at `{}` needs a number of instances",
                        c.name, g.horizon
                    ),
                )),
                (Some(r), Some(p)) if g.traffic_multiplier >= 1.0 && r < p => out.push(finding(
                    format!("{at}/growth/{j}/replicas"),
                    format!("at least the {p} instances of today's peak"),
                    r.to_string(),
                    format!(
                        "`{}` shrinks at `{}` although traffic grows ×{}",
                        c.name, g.horizon, g.traffic_multiplier
                    ),
                )),
                _ => {}
            }
        }
    }
    out
}

/// Gate 4: "Caching strategy must include invalidation policies". An entity decided
/// `not-cached` has no layer, keys, TTL or hit ratio. Every cache has
/// a policy; an event-driven one names events the integration publishes; TTLs stay
/// within 1 s to 30 days.
pub fn cache_invalidation(
    document: &Value,
    integration: &Integration,
    data: &Data,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let published: BTreeSet<&str> = integration.published_events().collect();
    let caches = array(document, "/caching_strategy/caches", &mut out);
    for entity in &data.entities {
        if !caches
            .iter()
            .any(|c| text(c.get("entity")) == Some(entity.name.as_str()))
        {
            out.push(finding(
                "/caching_strategy/caches",
                format!("a caching decision for entity `{}`", entity.name),
                "none",
                format!(
                    "entity `{}` has no caching decision: cache it with a policy, or say why it is not cached",
                    entity.name
                ),
            ));
        }
    }
    for (i, cache) in caches.iter().enumerate() {
        let at = format!("/caching_strategy/caches/{i}");
        let name = text(cache.get("entity")).unwrap_or("?");
        let policy = text(cache.pointer("/invalidation/policy"));
        if policy == Some("not-cached") {
            if text(cache.pointer("/invalidation/reason")).is_none() {
                out.push(finding(
                    format!("{at}/invalidation/reason"),
                    "why it is not cached",
                    "nothing",
                    format!("the decision not to cache `{name}` needs its reason"),
                ));
            }
            // A decision not to cache is not a cache: nothing a reader could take for one.
            for field in ["layer", "ttl_seconds", "expected_hit_ratio", "key_patterns"] {
                let present = cache
                    .get(field)
                    .is_some_and(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()));
                if present {
                    out.push(finding(
                        format!("{at}/{field}"),
                        "nothing: the entity is not cached",
                        show(cache.get(field)),
                        format!(
                            "`{name}` is decided not-cached, yet has a `{field}` a reader would take for a cache"
                        ),
                    ));
                }
            }
            continue;
        }
        match number(cache.get("ttl_seconds")) {
            Some(t) if t >= TTL_MIN_S as f64 && t <= TTL_MAX_S as f64 => {}
            _ => out.push(finding(
                format!("{at}/ttl_seconds"),
                format!("{TTL_MIN_S} to {TTL_MAX_S} s"),
                show(cache.get("ttl_seconds")),
                format!("the TTL of the `{name}` cache is out of range"),
            )),
        }
        match policy {
            None => out.push(finding(
                format!("{at}/invalidation"),
                "a policy: event-driven, write-through, ttl-only or not-cached",
                show(cache.get("invalidation")),
                format!("the `{name}` cache has no invalidation policy"),
            )),
            Some("event-driven") => {
                let events = cache
                    .pointer("/invalidation/events")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                if events.is_empty() {
                    out.push(finding(
                        format!("{at}/invalidation/events"),
                        "the events that invalidate",
                        "none",
                        format!("the `{name}` cache is event-driven but names no event"),
                    ));
                }
                for (j, e) in events.iter().enumerate() {
                    let ev = e.as_str().unwrap_or_default();
                    if !published.contains(ev) {
                        out.push(finding(
                            format!("{at}/invalidation/events/{j}"),
                            format!("an event `{}` publishes", keys::INTEGRATION),
                            show(Some(e)),
                            format!("the `{name}` cache waits for `{ev}`, which nothing publishes"),
                        ));
                    }
                }
            }
            Some("write-through" | "ttl-only") => {
                if text(cache.pointer("/invalidation/reason")).is_none() {
                    out.push(finding(
                        format!("{at}/invalidation/reason"),
                        "why this policy",
                        "nothing",
                        format!("the `{name}` cache's policy needs its reason"),
                    ));
                }
            }
            Some(other) => out.push(finding(
                format!("{at}/invalidation/policy"),
                "event-driven, write-through or ttl-only",
                other,
                format!("the `{name}` cache has an unknown policy"),
            )),
        }
    }
    out
}

/// The budget check's gate: "Measured results must meet their SLOs and budgets".
/// Recomputes every comparison from the inputs (the document's own verdict is not
/// trusted) and reports each miss, pointing at its check in the document.
pub fn budgets_met(
    document: &Value,
    architecture: &Value,
    measurements: &Measurements,
) -> Vec<Finding> {
    let report = match serde_json::from_value(architecture.clone()) {
        Ok(arch) => crate::budget::check(&arch, measurements),
        Err(e) => {
            return vec![finding(
                "",
                format!("a valid `{}`", keys::PERFORMANCE),
                "an input that does not decode",
                format!("input `{}` does not decode: {e}", keys::PERFORMANCE),
            )];
        }
    };
    let checks = document
        .get("checks")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|miss| {
            let pointer = checks
                .iter()
                .position(|c| {
                    text(c.get("endpoint")) == Some(miss.endpoint.as_str())
                        && text(c.get("figure")) == Some(miss.figure.as_str())
                        && text(c.get("source")) == Some(miss.source.as_str())
                })
                .map_or_else(|| "/checks".to_string(), |i| format!("/checks/{i}"));
            finding(
                pointer,
                format!(
                    "{} {} {} {}",
                    miss.figure, miss.comparison, miss.limit, miss.unit
                ),
                miss.measured.map_or_else(
                    || "not measured".to_string(),
                    |m| format!("{m} {}", miss.unit),
                ),
                format!(
                    "{} misses {} on {} ({})",
                    miss.endpoint, miss.source, miss.figure, miss.detail
                ),
            )
        })
        .collect()
}
