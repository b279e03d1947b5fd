//! DOMAIN.md's rules, one test or property each, and the gates on documents that
//! pass and documents that fail them for each reason.

use baton_performance::architect::{
    self, Fit, HEADROOM, TTL_MAX_S, TTL_MIN_S, distributable, replicas_for, split_budget, ttl_for,
};
use baton_performance::gates::{self, Finding};
use baton_performance::inputs::*;
use baton_performance::{Inputs, budget, derive, loadtest};
use proptest::prelude::*;
use serde_json::{Value, json};

fn example(system: &str, name: &str) -> Value {
    let path = format!(
        "{}/../../examples/{system}/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn inputs(system: &str) -> Inputs {
    Inputs {
        requirements: serde_json::from_value(example(system, "requirements")).unwrap(),
        analysis: serde_json::from_value(example(system, "analysis")).unwrap(),
        system: serde_json::from_value(example(system, "system")).unwrap(),
        data: serde_json::from_value(example(system, "data")).unwrap(),
        integration: serde_json::from_value(example(system, "integration")).unwrap(),
    }
}

fn lookup(inputs: &Inputs, extra: Vec<(&'static str, Value)>) -> impl Fn(&str) -> Option<Value> {
    let mut all = vec![
        (
            keys::REQUIREMENTS,
            serde_json::to_value(&inputs.requirements).unwrap(),
        ),
        (keys::SYSTEM, serde_json::to_value(&inputs.system).unwrap()),
        (keys::DATA, serde_json::to_value(&inputs.data).unwrap()),
        (
            keys::INTEGRATION,
            serde_json::to_value(&inputs.integration).unwrap(),
        ),
    ];
    all.extend(extra);
    move |key| all.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
}

fn check(rule: &str, doc: &Value, inputs: &Inputs) -> Vec<Finding> {
    gates::check(rule, doc, &lookup(inputs, vec![]))
}

const FOUR: [&str; 4] = [
    "measurable-slos",
    "latency-budgets",
    "growth-capacity",
    "cache-invalidation",
];

// ---- the examples -----------------------------------------------------------------

#[test]
fn every_example_system_passes_all_four_gates() {
    for system in ["webshop", "telemetry", "freight"] {
        let i = inputs(system);
        let doc = serde_json::to_value(derive(&i).unwrap()).unwrap();
        for rule in FOUR {
            assert_eq!(check(rule, &doc, &i), vec![], "{system}: {rule}");
        }
    }
}

#[test]
fn the_webshop_slos_trace_to_their_requirements_and_report_the_unmeasurable() {
    let arch = derive(&inputs("webshop")).unwrap();
    let req = &arch.performance_requirements;
    let traced: Vec<&str> = req.slos.iter().map(|s| s.nfr.as_str()).collect();
    assert_eq!(
        traced,
        ["NFR-1", "NFR-2", "NFR-3", "NFR-4", "NFR-5", "NFR-6"]
    );
    assert_eq!(req.unmeasurable.len(), 1);
    assert_eq!(req.unmeasurable[0].nfr, "NFR-7");
    // NFR-8 is security: not a performance requirement at all.
    assert_eq!(req.coverage.performance_nfrs, 7);
    assert_eq!(req.coverage.covered, 6);
    assert_eq!(req.coverage.ratio, 0.8571);
    // 1.5 s became 1500 ms; no percentile given means p95, said so.
    assert_eq!(req.slos[2].target, 1500.0);
    assert_eq!(req.slos[2].percentile.as_deref(), Some("p99"));
    let telemetry = derive(&inputs("telemetry")).unwrap();
    assert_eq!(
        telemetry.performance_requirements.slos[2]
            .percentile
            .as_deref(),
        Some("p95")
    );
    assert!(
        telemetry
            .assumptions
            .iter()
            .any(|a| a.contains("NFR-T3") && a.contains("p95"))
    );
}

#[test]
fn the_checkout_budget_gives_the_payment_provider_its_contract_latency() {
    let arch = derive(&inputs("webshop")).unwrap();
    let checkout = &arch.performance_requirements.latency_budgets[1];
    assert_eq!(checkout.path, "checkout");
    assert_eq!(checkout.total_ms, 800.0);
    let payment = checkout
        .segments
        .iter()
        .find(|s| s.component == "payment-provider")
        .unwrap();
    assert_eq!(payment.budget_ms, 250.0);
    let sum: f64 = checkout.segments.iter().map(|s| s.budget_ms).sum();
    assert_eq!(sum + checkout.headroom_ms, 800.0);
    assert!(checkout.headroom_ms >= 800.0 * HEADROOM);
    assert!(!checkout.over_budget);
}

#[test]
fn a_path_whose_baseline_exceeds_its_budget_is_flagged_and_planned_for() {
    let mut i = inputs("webshop");
    i.integration.external_services[0].latency_ms = 900.0;
    // No path measured over its SLO: those items would lead the plan instead.
    i.analysis.measured.clear();
    let arch = derive(&i).unwrap();
    let checkout = &arch.performance_requirements.latency_budgets[1];
    assert!(checkout.over_budget);
    let sum: f64 = checkout.segments.iter().map(|s| s.budget_ms).sum();
    assert!(sum + checkout.headroom_ms <= checkout.total_ms);
    let item = &arch.optimization_plan.items[0];
    assert_eq!(item.priority, "P0");
    assert_eq!(item.cause.kind, "path_over_budget");
    assert_eq!(
        item.cause.source,
        "coding/architecture/system#/critical_paths/1"
    );
    // Still a valid document: the budget is honest about the overrun.
    let doc = serde_json::to_value(&arch).unwrap();
    assert_eq!(check("latency-budgets", &doc, &i), vec![]);
}

#[test]
fn optimizations_trace_to_their_causes() {
    let arch = derive(&inputs("webshop")).unwrap();
    let sources: Vec<(&str, &str)> = arch
        .optimization_plan
        .items
        .iter()
        .map(|o| (o.cause.kind.as_str(), o.cause.source.as_str()))
        .collect();
    for expected in [
        (
            "rate_limit",
            "coding/architecture/integration#/external_services/0",
        ),
        ("hotspot", "coding/exploration/analysis#/hotspots/0"),
        ("n_plus_one", "coding/exploration/analysis#/bottlenecks/0"),
        (
            "unbounded_query",
            "coding/exploration/analysis#/bottlenecks/1",
        ),
        (
            "missing_index",
            "coding/architecture/data#/entities/0/access_patterns/1",
        ),
        (
            "slow_synchronous_integration",
            "coding/architecture/integration#/external_services/0",
        ),
    ] {
        assert!(
            sources.contains(&expected),
            "{expected:?} not in {sources:?}"
        );
    }
    let priorities: Vec<&str> = arch
        .optimization_plan
        .items
        .iter()
        .map(|o| o.priority.as_str())
        .collect();
    let mut sorted = priorities.clone();
    sorted.sort();
    assert_eq!(priorities, sorted, "most urgent first");
}

#[test]
fn caches_follow_change_frequency_and_published_events() {
    let arch = derive(&inputs("webshop")).unwrap();
    let caches = &arch.caching_strategy.caches;
    let by = |e: &str| caches.iter().find(|c| c.entity == e).unwrap();
    assert_eq!(by("product").invalidation.policy, "event-driven");
    assert_eq!(
        by("product").invalidation.events,
        ["product.updated", "product.deleted"]
    );
    assert_eq!(by("product").ttl_seconds, Some(86400 / 4));
    assert_eq!(by("customer").invalidation.policy, "write-through");
    assert_eq!(by("category").invalidation.policy, "ttl-only");
    assert_eq!(by("category").ttl_seconds, Some(TTL_MAX_S));
    // `order` is read only twice per write: not read-heavy, not cached, and said so.
    assert_eq!(by("order").invalidation.policy, "not-cached");
    assert!(by("order").invalidation.reason.contains("write-heavy"));
    let telemetry = derive(&inputs("telemetry")).unwrap();
    // `reading` is write-heavy and realtime: never cached, and said so.
    let reading = telemetry
        .caching_strategy
        .caches
        .iter()
        .find(|c| c.entity == "reading")
        .expect("every entity has a caching decision");
    assert_eq!(reading.invalidation.policy, "not-cached");
}

#[test]
fn capacity_uses_little_s_law_and_two_replicas_for_three_nines() {
    let arch = derive(&inputs("webshop")).unwrap();
    assert_eq!(arch.scalability_design.min_replicas, 2);
    let db = arch
        .scalability_design
        .components
        .iter()
        .find(|c| c.name == "catalog-db")
        .unwrap();
    let pool = db.connection_pool.as_ref().unwrap();
    // Peak rps through catalog-db × its 8 ms query time.
    assert_eq!(
        pool.busy_at_peak,
        ((db.demand_rps.peak * 8.0 / 1000.0) * 100.0).round() / 100.0
    );
    assert_eq!(pool.size, (pool.busy_at_peak / 0.7).ceil() as u64);
    let external = arch
        .scalability_design
        .components
        .iter()
        .find(|c| c.kind == "external")
        .unwrap();
    assert!(external.replicas.is_none() && !external.scales);
}

#[test]
fn a_path_through_an_unknown_component_names_its_pointer() {
    let mut i = inputs("webshop");
    i.system.critical_paths[1].components[2] = "orders-database".into();
    let err = derive(&i).unwrap_err();
    assert_eq!(err.key, keys::SYSTEM);
    assert_eq!(err.pointer, "/critical_paths/1/components/2");
    assert!(err.message.contains("orders-database"), "{err}");
}

#[test]
fn missing_optional_fields_are_fine_and_required_ones_are_named() {
    let minimal: Requirements = serde_json::from_value(json!({
        "load": { "concurrent_users": 10, "requests_per_second": 5 }
    }))
    .unwrap();
    assert_eq!(minimal.load.read_ratio, 0.8);
    let i = Inputs {
        requirements: minimal,
        system: serde_json::from_value(
            json!({ "components": [{ "name": "api", "kind": "service" }] }),
        )
        .unwrap(),
        ..Default::default()
    };
    let arch = derive(&i).unwrap();
    assert_eq!(arch.performance_requirements.coverage.ratio, 1.0);
    assert_eq!(
        arch.scalability_design.components[0]
            .replicas
            .as_ref()
            .unwrap()
            .normal,
        1
    );
    let missing =
        serde_json::from_value::<Requirements>(json!({ "load": { "concurrent_users": 10 } }));
    assert!(
        missing
            .unwrap_err()
            .to_string()
            .contains("requests_per_second")
    );
}

#[test]
fn derivation_is_deterministic_byte_for_byte() {
    for system in ["webshop", "telemetry", "freight"] {
        let a = serde_json::to_string(&derive(&inputs(system)).unwrap()).unwrap();
        let b = serde_json::to_string(&derive(&inputs(system)).unwrap()).unwrap();
        assert_eq!(a, b);
    }
}

// ---- gates: documents that fail, one reason at a time ------------------------------

fn webshop_doc() -> (Inputs, Value) {
    let i = inputs("webshop");
    let doc = serde_json::to_value(derive(&i).unwrap()).unwrap();
    (i, doc)
}

fn pointers(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.pointer.as_str()).collect()
}

#[test]
fn gate_1_finds_slos_that_cannot_be_measured() {
    let (i, mut doc) = webshop_doc();
    let slos = "/performance_requirements/slos";
    doc.pointer_mut(&format!("{slos}/0"))
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("target");
    *doc.pointer_mut(&format!("{slos}/1/percentile")).unwrap() = Value::Null;
    *doc.pointer_mut(&format!("{slos}/3/unit")).unwrap() = json!("");
    *doc.pointer_mut(&format!("{slos}/4/measurement")).unwrap() = json!(" ");
    let found = check("measurable-slos", &doc, &i);
    assert_eq!(
        pointers(&found),
        [
            "/performance_requirements/slos/0/target",
            "/performance_requirements/slos/1/percentile",
            "/performance_requirements/slos/3/unit",
            "/performance_requirements/slos/4/measurement",
        ]
    );
    assert_eq!(found[1].expected, "a percentile such as p95");
}

#[test]
fn gate_1_finds_a_requirement_neither_covered_nor_reported() {
    let (i, mut doc) = webshop_doc();
    doc["performance_requirements"]["unmeasurable"] = json!([]);
    let found = check("measurable-slos", &doc, &i);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].message.contains("NFR-7"), "{found:?}");
    // Dropping an SLO leaves its NFR uncovered and the coverage figure wrong.
    let (i, mut doc) = webshop_doc();
    doc["performance_requirements"]["slos"]
        .as_array_mut()
        .unwrap()
        .remove(0);
    let found = check("measurable-slos", &doc, &i);
    assert!(
        found.iter().any(|f| f.message.contains("NFR-1")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.pointer == "/performance_requirements/coverage/ratio"
                && f.expected.starts_with("0.7143")),
        "{found:?}"
    );
}

#[test]
fn gate_2_finds_missing_and_overdrawn_budgets() {
    let (i, mut doc) = webshop_doc();
    let budgets = doc["performance_requirements"]["latency_budgets"]
        .as_array_mut()
        .unwrap();
    budgets.remove(2); // search
    budgets[0]["headroom_ms"] = json!(100); // segments 178 + 100 > 200
    budgets[1]["segments"].as_array_mut().unwrap().remove(3); // no payment-provider
    let found = check("latency-budgets", &doc, &i);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(
        found[0].pointer,
        "/performance_requirements/latency_budgets/0"
    );
    assert_eq!(found[0].expected, "segments + headroom ≤ 200 ms");
    assert_eq!(
        found[1].pointer,
        "/performance_requirements/latency_budgets/1/segments"
    );
    assert!(found[1].message.contains("payment-provider"));
    assert!(
        found[2]
            .message
            .contains("`search` (GET /search) has no latency budget")
    );
    let (i, mut doc) = webshop_doc();
    doc["performance_requirements"]["latency_budgets"][0]["headroom_ms"] = json!(-5);
    assert_eq!(
        pointers(&check("latency-budgets", &doc, &i)),
        ["/performance_requirements/latency_budgets/0/headroom_ms"]
    );
}

#[test]
fn gate_3_finds_horizons_and_components_without_capacity() {
    let (i, mut doc) = webshop_doc();
    let comps = doc["scalability_design"]["components"]
        .as_array_mut()
        .unwrap();
    comps[1]["replicas"]["growth"]
        .as_array_mut()
        .unwrap()
        .remove(1); // catalog-service: no 36 months
    comps[2]["replicas"]["growth"][0]["replicas"] = json!(1); // order-service shrinks
    comps.remove(5); // redis
    let found = check("growth-capacity", &doc, &i);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(
        found[0].pointer,
        "/scalability_design/components/1/replicas/growth"
    );
    assert!(found[0].message.contains("36 months"));
    assert_eq!(
        found[1].pointer,
        "/scalability_design/components/2/replicas/growth/0/replicas"
    );
    assert!(found[2].message.contains("`redis`"));
}

#[test]
fn gate_4_finds_caches_without_a_sound_invalidation_policy() {
    let (i, mut doc) = webshop_doc();
    let caches = doc["caching_strategy"]["caches"].as_array_mut().unwrap();
    let at = |e: &str| caches.iter().position(|c| c["entity"] == e).unwrap();
    let (product, customer, category) = (at("product"), at("customer"), at("category"));
    caches[product]["invalidation"]["events"] = json!(["product.updated", "product.changed"]);
    caches[customer]
        .as_object_mut()
        .unwrap()
        .remove("invalidation");
    caches[category]["ttl_seconds"] = json!(TTL_MAX_S + 1);
    let found = check("cache-invalidation", &doc, &i);
    let mut expected = vec![
        format!("/caching_strategy/caches/{product}/invalidation/events/1"),
        format!("/caching_strategy/caches/{customer}/invalidation"),
        format!("/caching_strategy/caches/{category}/ttl_seconds"),
    ];
    expected.sort();
    let mut got = pointers(&found);
    got.sort();
    assert_eq!(got, expected);
    let found: Vec<_> = found
        .into_iter()
        .filter(|f| f.pointer.contains("events"))
        .collect();
    assert!(found[0].message.contains("product.changed"));
}

#[test]
fn a_gate_never_passes_what_it_could_not_check() {
    let (_, doc) = webshop_doc();
    let none = |_: &str| None;
    let found = gates::check("latency-budgets", &doc, &none);
    assert!(
        found[0].message.contains("coding/architecture/system"),
        "{found:?}"
    );
    let found = gates::check("no-such-rule", &doc, &none);
    assert!(found[0].message.contains("no-such-rule"));
    let i = inputs("webshop");
    for rule in FOUR {
        assert!(
            !check(rule, &json!({}), &i).is_empty(),
            "{rule} passed an empty document"
        );
    }
}

#[test]
fn the_budget_gate_names_every_endpoint_and_figure_that_misses() {
    let i = inputs("webshop");
    let arch = derive(&i).unwrap();
    let arch_json = serde_json::to_value(&arch).unwrap();
    let measured: Measurements =
        serde_json::from_value(example("webshop", "measurements")).unwrap();
    let report = budget::check(&arch, &measured);
    assert!(report.passed, "{report:?}");
    let look = |m: &Measurements| {
        lookup(
            &i,
            vec![
                (keys::PERFORMANCE, arch_json.clone()),
                (keys::MEASUREMENTS, serde_json::to_value(m).unwrap()),
            ],
        )
    };
    let doc = serde_json::to_value(&report).unwrap();
    assert_eq!(gates::check("budgets-met", &doc, &look(&measured)), vec![]);

    let mut slow = measured.clone();
    slow.endpoints[0].p95_ms = Some(260.0); // over SLO-1 (200) and the browse budget (200)
    slow.endpoints[1].error_rate_percent = Some(0.4); // over SLO-5 and the availability SLO
    slow.endpoints.remove(2); // GET /search not measured
    let report = budget::check(&arch, &slow);
    assert!(!report.passed);
    let doc = serde_json::to_value(&report).unwrap();
    let found = gates::check("budgets-met", &doc, &look(&slow));
    let messages: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("GET /products misses SLO-1 on p95_ms")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("GET /products misses budget:browse-products on p95_ms")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("POST /orders misses SLO-4 on error_rate_percent")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("POST /orders misses SLO-5 on error_rate_percent")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(
            |m| m.starts_with("GET /search misses budget:search") && m.contains("not measured")
        ),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("api misses SLO-6 on throughput_rps")),
        "{messages:?}"
    );
    assert!(
        found.iter().all(|f| f.pointer.starts_with("/checks/")),
        "{found:?}"
    );
    // A document that claims to pass is checked against the inputs, not believed.
    let lie = json!({ "agent": "budget-check", "passed": true, "misses": 0, "checks": [] });
    assert_eq!(
        gates::check("budgets-met", &lie, &look(&slow)).len(),
        found.len()
    );
}

// ---- properties ---------------------------------------------------------------------

const KINDS: [ComponentKind; 7] = [
    ComponentKind::Gateway,
    ComponentKind::Service,
    ComponentKind::Worker,
    ComponentKind::Database,
    ComponentKind::Cache,
    ComponentKind::Queue,
    ComponentKind::External,
];

fn arb_inputs() -> impl Strategy<Value = Inputs> {
    let component = (
        0..7usize,
        proptest::option::of(0.0..500.0f64),
        proptest::option::of(1.0..20000.0f64),
    );
    let nfr = (
        prop_oneof![
            Just("latency"),
            Just("throughput"),
            Just("availability"),
            Just("error_rate"),
            Just("vibes")
        ],
        proptest::option::of(0.01..5000.0f64),
        proptest::option::of(prop_oneof![Just("p50"), Just("p99"), Just("bogus")]),
        prop_oneof![
            Just(None),
            Just(Some("performance")),
            Just(Some("security"))
        ],
    );
    let entity = (
        1.0..2000.0f64,
        prop_oneof![
            Just("static"),
            Just("daily"),
            Just("hourly"),
            Just("minutely"),
            Just("realtime"),
            Just("whenever")
        ],
        any::<bool>(),
    );
    (
        proptest::collection::vec(component, 1..8),
        proptest::collection::vec(nfr, 0..8),
        (
            1.0..50000.0f64,
            0.1..50000.0f64,
            0.0..1.0f64,
            1.0..10.0f64,
            1.0..4.0f64,
        ),
        proptest::collection::vec(1.0..50.0f64, 0..4),
        proptest::collection::vec(entity, 0..5),
        proptest::collection::vec(proptest::collection::vec(0..8usize, 1..5), 0..4),
    )
        .prop_map(
            |(components, nfrs, (users, rps, read, peak, stress), growth, entities, paths)| {
                let components: Vec<Component> = components
                    .into_iter()
                    .enumerate()
                    .map(|(n, (k, latency, capacity))| Component {
                        name: format!("c{n}"),
                        kind: KINDS[k],
                        stateless: None,
                        baseline_latency_ms: latency,
                        capacity_rps: capacity,
                    })
                    .collect();
                let n = components.len();
                Inputs {
                    requirements: Requirements {
                        system: None,
                        non_functional: nfrs
                            .into_iter()
                            .enumerate()
                            .map(|(k, (metric, target, percentile, category))| Nfr {
                                id: format!("NFR-{k}"),
                                category: category.map(Into::into),
                                metric: Some(metric.into()),
                                target,
                                percentile: percentile.map(Into::into),
                                scope: Some(if k % 2 == 0 {
                                    "api".into()
                                } else {
                                    "GET /p0".into()
                                }),
                                ..Default::default()
                            })
                            .collect(),
                        load: Load {
                            concurrent_users: users,
                            requests_per_second: rps,
                            read_ratio: read,
                            peak_factor: peak,
                            peak_duration_minutes: 60.0,
                            stress_factor: stress,
                        },
                        growth: growth
                            .into_iter()
                            .enumerate()
                            .map(|(k, m)| Growth {
                                horizon: format!("h{k}"),
                                traffic_multiplier: m,
                                data_multiplier: 1.0,
                            })
                            .collect(),
                    },
                    analysis: Analysis::default(),
                    system: System {
                        name: None,
                        critical_paths: paths
                            .into_iter()
                            .enumerate()
                            .map(|(k, hops)| CriticalPath {
                                name: format!("p{k}"),
                                endpoint: format!("GET /p{k}"),
                                components: hops
                                    .into_iter()
                                    .map(|h| format!("c{}", h % n))
                                    .collect(),
                                traffic_share: None,
                                may_answer_202: false,
                            })
                            .collect(),
                        components,
                        calls: Vec::new(),
                    },
                    data: Data {
                        entities: entities
                            .into_iter()
                            .enumerate()
                            .map(|(k, (ratio, freq, _))| Entity {
                                name: format!("e{k}"),
                                store: None,
                                records: None,
                                read_write_ratio: Some(ratio),
                                change_frequency: Some(freq.into()),
                                access_patterns: Vec::new(),
                            })
                            .collect(),
                    },
                    integration: Integration {
                        external_services: Vec::new(),
                        topics: vec![Topic {
                            name: "t".into(),
                            producer: None,
                            events: vec!["e0.updated".into(), "e2.deleted".into()],
                            entity: None,
                        }],
                    },
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn budgets_never_exceed_their_totals(total in 1.0..10000.0f64, hops in proptest::collection::vec((any::<bool>(), 0.0..3000.0f64), 1..8)) {
        let hops: Vec<(String, ComponentKind, f64)> = hops
            .into_iter()
            .enumerate()
            .map(|(n, (external, cost))| (format!("h{n}"), if external { ComponentKind::External } else { ComponentKind::Service }, cost))
            .collect();
        let (split, fit) = split_budget(total, &hops);
        let sum: f64 = split.iter().sum();
        let baseline: f64 = hops.iter().map(|h| h.2).sum();
        prop_assert!(split.iter().all(|b| *b >= 0.0));
        prop_assert!(sum <= total + 1e-9, "the budgets never pass the total");
        prop_assert!(distributable(total) <= total * (1.0 - HEADROOM) + 1e-9);
        match fit {
            Fit::Over => prop_assert!(baseline > total),
            Fit::Tight => {
                prop_assert!(baseline <= total);
                prop_assert!(sum > distributable(total) - 1e-9 || baseline > distributable(total));
            }
            Fit::Fits => prop_assert!(sum <= distributable(total) + 1e-9),
        }
        if fit != Fit::Over {
            // No hop below its baseline while the baselines fit the total.
            for (h, b) in hops.iter().zip(&split) {
                prop_assert!(*b >= h.2 - 1e-9, "{h:?} got {b}");
            }
        }
        let external: f64 = hops.iter().filter(|h| h.1 == ComponentKind::External).map(|h| h.2.ceil()).sum();
        if fit == Fit::Fits && external <= distributable(total) {
            for (h, b) in hops.iter().zip(&split) {
                if h.1 == ComponentKind::External { prop_assert_eq!(*b, h.2.ceil()); }
            }
        }
    }

    #[test]
    fn replicas_never_decrease_as_load_grows(a in 0.0..1e6f64, b in 0.0..1e6f64, cap in 1.0..1e5f64, min in 1u64..3) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(replicas_for(lo, cap, min) <= replicas_for(hi, cap, min));
        prop_assert!(replicas_for(lo, cap, min) >= min);
    }

    #[test]
    fn ttls_stay_in_range(interval in proptest::option::of(0.0..1e9f64)) {
        let ttl = ttl_for(interval);
        prop_assert!((TTL_MIN_S..=TTL_MAX_S).contains(&ttl));
    }

    #[test]
    fn derived_documents_keep_every_rule(i in arb_inputs()) {
        let arch = derive(&i).unwrap();
        let req = &arch.performance_requirements;
        // Coverage: every performance NFR is an SLO or reported; ratio computed right.
        let perf: Vec<&Nfr> = i.requirements.non_functional.iter().filter(|n| architect::is_performance(n)).collect();
        prop_assert_eq!(req.slos.len() + req.unmeasurable.len(), perf.len());
        let expected = if perf.is_empty() { 1.0 } else { (req.slos.len() as f64 / perf.len() as f64 * 1e4).round() / 1e4 };
        prop_assert_eq!(req.coverage.ratio, expected);
        // Budgets: segments + headroom never over the total.
        for b in &req.latency_budgets {
            let sum: f64 = b.segments.iter().map(|s| s.budget_ms).sum();
            prop_assert!(sum + b.headroom_ms <= b.total_ms + 1e-6, "{b:?}");
            prop_assert!(b.headroom_ms >= 0.0);
        }
        // Replicas: normal ≤ peak ≤ stress, and growth never below peak.
        for c in &arch.scalability_design.components {
            if let Some(r) = &c.replicas {
                prop_assert!(r.normal <= r.peak && r.peak <= r.stress, "{c:?}");
                for g in &r.growth { prop_assert!(g.replicas >= r.peak, "{c:?}"); }
                prop_assert_eq!(r.growth.len(), i.requirements.growth.len());
            }
        }
        // Caches: TTL in range, a policy each, events actually published.
        // Every entity has a caching decision.
        prop_assert_eq!(arch.caching_strategy.caches.len(), i.data.entities.len());
        for c in arch.caching_strategy.caches.iter().filter(|c| c.is_cached()) {
            prop_assert!(c.ttl_seconds.is_some_and(|t| (TTL_MIN_S..=TTL_MAX_S).contains(&t)));
            prop_assert!(["event-driven", "write-through", "ttl-only"].contains(&c.invalidation.policy.as_str()));
            for e in &c.invalidation.events { prop_assert!(i.integration.published_events().any(|p| p == e)); }
        }
        // The gates agree, and the load-test plan stays in seed 003's ranges.
        let doc = serde_json::to_value(&arch).unwrap();
        for rule in FOUR { prop_assert_eq!(check(rule, &doc, &i), vec![], "{}", rule); }
        for s in loadtest::plan(&arch).scenarios {
            prop_assert!((1..=50_000).contains(&s.users) && (10..=86_400).contains(&s.duration_s));
            prop_assert!(s.ramp_up_s <= 3600 && (0.1..=100_000.0).contains(&s.rate_rps) && (100..=300_000).contains(&s.timeout_ms));
        }
        // Determinism.
        prop_assert_eq!(serde_json::to_string(&derive(&i).unwrap()).unwrap(), serde_json::to_string(&arch).unwrap());
    }
}

#[test]
fn the_load_test_plan_clamps_into_range_and_says_so() {
    let mut i = inputs("telemetry");
    i.requirements.load.concurrent_users = 40_000.0; // stress: 40 000 × 2 × 1.5
    let plan = loadtest::plan(&derive(&i).unwrap());
    let names: Vec<&str> = plan.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["baseline", "stress", "spike", "soak"]);
    let stress = &plan.scenarios[1];
    assert_eq!(stress.users, 50_000);
    assert!(
        plan.adjustments
            .iter()
            .any(|a| a.starts_with("stress: users 120000 clamped to 50000")),
        "{:?}",
        plan.adjustments
    );
    // Pass criteria come from the SLOs.
    let baseline = &plan.scenarios[0];
    assert!(baseline.pass_criteria.iter().any(|c| c.slo == "SLO-1"
        && c.percentile.as_deref() == Some("p99")
        && c.threshold == 50.0));
}

// ---- the third system: rules that hold on systems they were not written for -------

/// The freight platform (examples/freight) derived, with its document as JSON.
fn freight() -> (Inputs, baton_performance::PerformanceArchitecture, Value) {
    let i = inputs("freight");
    let arch = derive(&i).unwrap();
    let doc = serde_json::to_value(&arch).unwrap();
    (i, arch, doc)
}

#[test]
fn a_tight_path_keeps_every_hop_at_its_baseline_and_is_reported_tight() {
    // The case: a 1 ms and a 15 ms hop under an 18 ms total (room 16 ms).
    let hops = vec![
        ("gw".to_string(), ComponentKind::Gateway, 1.0),
        ("svc".to_string(), ComponentKind::Service, 15.0),
        ("cache".to_string(), ComponentKind::Cache, 1.0),
    ];
    let (split, fit) = split_budget(18.0, &hops);
    assert_eq!(fit, Fit::Tight);
    assert_eq!(split, vec![1.0, 15.0, 1.0], "never below a baseline");
    // The same hops under 30 ms fit with the full headroom; over 16 ms they do not fit.
    assert_eq!(split_budget(30.0, &hops).1, Fit::Fits);
    assert_eq!(split_budget(16.0, &hops).1, Fit::Over);

    let (_, arch, doc) = freight();
    let quote = &arch.performance_requirements.latency_budgets[0];
    assert_eq!(quote.path, "quote");
    assert!(quote.tight && !quote.over_budget, "{quote:?}");
    assert_eq!((quote.headroom_ms, quote.min_headroom_ms), (1.0, 2.0));
    for s in &quote.segments {
        assert!(s.budget_ms >= s.baseline_ms, "{s:?}");
    }
    // The optimization aims at the hop that dominates the path, with what it saves.
    let item = arch
        .optimization_plan
        .items
        .iter()
        .find(|o| o.cause.source.ends_with("#/critical_paths/0"))
        .unwrap();
    assert_eq!(
        (item.priority.as_str(), item.cause.kind.as_str()),
        ("P1", "path_tight")
    );
    assert!(
        item.action
            .contains("`pricing-service` (15 of the path's 17 ms)"),
        "{}",
        item.action
    );
    assert!(
        item.expected_impact.contains("1 ms off `pricing-service`"),
        "{}",
        item.expected_impact
    );
    // An external hop dominates `book`: cache, move off the path, or renegotiate.
    let book = arch
        .optimization_plan
        .items
        .iter()
        .find(|o| o.cause.source.ends_with("#/critical_paths/1"))
        .unwrap();
    assert!(
        book.action.contains("external `carrier-api`") && book.action.contains("renegotiate"),
        "{}",
        book.action
    );
    assert!(
        book.expected_impact.contains("up to 240 ms"),
        "{}",
        book.expected_impact
    );
    let md = baton_performance::render::markdown(&arch);
    assert!(
        md.contains("TIGHT: the baselines (17 ms) leave 1 ms of headroom, under the 2 ms minimum"),
        "{md}"
    );
    let i = inputs("freight");
    assert_eq!(check("latency-budgets", &doc, &i), vec![]);
}

#[test]
fn gate_2_refuses_a_hop_budgeted_under_its_baseline() {
    let (i, _, mut doc) = freight();
    // The old split: headroom kept, the 1 ms hop at 0 ms and the 15 ms hop at 14 ms.
    let quote = &mut doc["performance_requirements"]["latency_budgets"][0];
    quote["segments"][0]["budget_ms"] = json!(0.0);
    quote["segments"][1]["budget_ms"] = json!(14.0);
    quote["headroom_ms"] = json!(2.0);
    let found = check("latency-budgets", &doc, &i);
    assert_eq!(
        pointers(&found),
        [
            "/performance_requirements/latency_budgets/0/segments/0/budget_ms",
            "/performance_requirements/latency_budgets/0/segments/1/budget_ms",
        ]
    );
    assert!(found[1].message.contains("under its baseline") && found[1].expected.contains("15 ms"));
}

#[test]
fn events_match_entities_by_plural_prefix_and_declared_entity() {
    use architect::{invalidating_events, singular};
    assert_eq!(singular("orders"), "order");
    assert_eq!(singular("categories"), "category");
    assert_eq!(singular("addresses"), "address");
    assert_eq!(singular("status"), "statu"); // no dictionary: `status` events say `status`
    let (i, arch, doc) = freight();
    let by = |e: &str| {
        arch.caching_strategy
            .caches
            .iter()
            .find(|c| c.entity == e)
            .unwrap()
    };
    let orders = &by("orders").invalidation;
    assert_eq!(orders.policy, "event-driven");
    assert_eq!(
        orders.events,
        ["order.updated", "order.cancelled"],
        "creations do not invalidate"
    );
    assert!(orders.matches[0].by.contains("singular or plural"));
    let tariffs = &by("tariff_rules").invalidation;
    assert_eq!(tariffs.events, ["tariff.updated"]);
    assert!(
        tariffs.matches[0].by.contains("first word") && tariffs.reason.contains("tariff-events")
    );
    let carriers = &by("carriers").invalidation;
    assert_eq!(carriers.events, ["partner.changed"]);
    assert!(carriers.matches[0].by.contains("declares entity"));
    assert_eq!(by("customers").invalidation.policy, "write-through");
    assert!(invalidating_events("invoices", &i.integration).is_empty());
    assert_eq!(check("cache-invalidation", &doc, &i), vec![]);
    // An event nobody publishes is still refused.
    let mut bad = doc.clone();
    let at = arch
        .caching_strategy
        .caches
        .iter()
        .position(|c| c.entity == "customers")
        .unwrap();
    bad["caching_strategy"]["caches"][at]["invalidation"] =
        json!({"policy": "event-driven", "events": ["customer.updated"], "reason": "hoped for"});
    let found = check("cache-invalidation", &bad, &i);
    assert_eq!(
        pointers(&found),
        [format!(
            "/caching_strategy/caches/{at}/invalidation/events/0"
        )]
    );
}

#[test]
fn warnings_fire_before_the_target_and_error_budgets_get_burn_rate_alerts() {
    let (_, arch, _) = freight();
    let m = &arch.monitoring;
    assert_eq!(m.warning_margin, 0.2);
    let alert = |slo: &str| {
        m.alerts
            .iter()
            .find(|a| a.slo.as_deref() == Some(slo))
            .unwrap()
    };
    let quote = alert("SLO-1");
    assert_eq!(
        (quote.comparison.as_str(), quote.warning, quote.critical),
        (">", 14.4, 18.0)
    );
    let availability = alert("SLO-4");
    assert_eq!(
        (
            availability.comparison.as_str(),
            availability.warning,
            availability.critical
        ),
        ("<", 99.96, 99.95)
    );
    let errors = alert("SLO-5");
    assert_eq!((errors.warning, errors.critical), (0.4, 0.5));
    for a in m.alerts.iter().filter(|a| a.slo.is_some()) {
        match a.comparison.as_str() {
            ">" => assert!(a.warning < a.critical, "{a:?}"),
            _ => assert!(a.warning > a.critical, "{a:?}"),
        }
    }
    let pairs: Vec<(String, f64, String, String, String, f64)> = m
        .burn_rate_alerts
        .iter()
        .map(|b| {
            (
                b.slo.clone(),
                b.burn_rate,
                b.long_window.clone(),
                b.short_window.clone(),
                b.severity.clone(),
                b.error_ratio_above_percent,
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            (
                "SLO-4".into(),
                14.4,
                "1h".into(),
                "5m".into(),
                "page".into(),
                0.72
            ),
            (
                "SLO-4".into(),
                6.0,
                "6h".into(),
                "30m".into(),
                "page".into(),
                0.3
            ),
            (
                "SLO-4".into(),
                1.0,
                "3d".into(),
                "6h".into(),
                "ticket".into(),
                0.05
            ),
            (
                "SLO-5".into(),
                14.4,
                "1h".into(),
                "5m".into(),
                "page".into(),
                7.2
            ),
            (
                "SLO-5".into(),
                6.0,
                "6h".into(),
                "30m".into(),
                "page".into(),
                3.0
            ),
            (
                "SLO-5".into(),
                1.0,
                "3d".into(),
                "6h".into(),
                "ticket".into(),
                0.5
            ),
        ]
    );
    assert!(
        m.burn_rate_alerts
            .iter()
            .all(|b| b.budget_window_days == 30)
    );
    assert_eq!(m.burn_rate_alerts[0].error_budget_percent, 0.05);
    let md = baton_performance::render::markdown(&arch);
    assert!(
        md.contains("| SLO-4 | 0.05 % over 30 days | 14.4x | 1h and 5m | 0.72 % errors | page |"),
        "{md}"
    );
}

#[test]
fn every_entity_has_a_caching_decision_and_stateful_stores_grow_in_shards() {
    let (i, arch, doc) = freight();
    let caches = &arch.caching_strategy.caches;
    assert_eq!(caches.len(), i.data.entities.len());
    let by = |e: &str| caches.iter().find(|c| c.entity == e).unwrap();
    assert_eq!(by("vehicle_positions").invalidation.policy, "not-cached");
    assert!(
        by("vehicle_positions")
            .invalidation
            .reason
            .contains("real time")
    );
    assert_eq!(by("invoices").invalidation.policy, "not-cached");
    assert!(by("invoices").invalidation.reason.contains("write-heavy"));
    // A hand-written document that leaves an entity out is refused.
    let mut bad = doc.clone();
    let at = caches
        .iter()
        .position(|c| c.entity == "vehicle_positions")
        .unwrap();
    bad["caching_strategy"]["caches"]
        .as_array_mut()
        .unwrap()
        .remove(at);
    let found = check("cache-invalidation", &bad, &i);
    assert_eq!(pointers(&found), ["/caching_strategy/caches"]);
    assert!(found[0].message.contains("vehicle_positions"));
    // The tariff cache's demand outgrows one shard: it is sized in shards.
    let component = |n: &str| {
        arch.scalability_design
            .components
            .iter()
            .find(|c| c.name == n)
            .unwrap()
    };
    let cache = component("tariff-cache");
    let shards = cache.shards.as_ref().expect("a cache is sharded");
    let last = shards.count.growth.last().unwrap();
    assert!(
        last.replicas > shards.count.peak && shards.count.peak >= 1,
        "{shards:?}"
    );
    let replicas = cache.replicas.as_ref().unwrap();
    assert_eq!(
        replicas.growth.last().unwrap().replicas,
        last.replicas * shards.replicas_per_shard
    );
    assert!(cache.strategy.contains("shard"), "{}", cache.strategy);
    assert!(
        component("positions-store").shards.is_some(),
        "a stateful store is sharded too"
    );
    assert!(
        component("pricing-service").shards.is_none(),
        "a stateless service is not"
    );
    for rule in FOUR {
        assert_eq!(check(rule, &doc, &i), vec![], "{rule}");
    }
}

// ---- advice a senior engineer would sign (issue 31) --------------------------------

/// Whether `alert` fires at `value`.
fn fires(alert: &baton_performance::output::Alert, value: f64) -> bool {
    match alert.comparison.as_str() {
        ">" => value > alert.warning,
        "<" => value < alert.warning,
        other => panic!("unknown comparison {other}"),
    }
}

#[test]
fn no_alert_fires_below_a_throughput_target_on_low_demand() {
    for system in ["webshop", "telemetry"] {
        let i = inputs(system);
        let arch = derive(&i).unwrap();
        let slo = arch
            .performance_requirements
            .slos
            .iter()
            .find(|s| s.metric == "throughput")
            .unwrap();
        let promise = arch
            .monitoring
            .capacity
            .iter()
            .find(|c| c.slo == slo.id)
            .expect("a throughput SLO is read as a capacity promise");
        assert!(promise.sized_rps >= slo.target, "{promise:?}");
        let limiting = arch
            .scalability_design
            .components
            .iter()
            .find(|c| c.name == promise.limited_by)
            .unwrap();
        let alerts: Vec<_> = arch
            .monitoring
            .alerts
            .iter()
            .filter(|a| a.slo.as_deref() == Some(slo.id.as_str()))
            .collect();
        assert_eq!(alerts.len(), 1, "{system}");
        let alert = alerts[0];
        assert!(
            alert.reason.as_deref().unwrap().contains("capacity"),
            "{alert:?}"
        );
        // Any traffic from nothing up to the target, served by the replicas an
        // autoscaler runs for it, fires nothing: quiet nights page nobody.
        let share_of_scope = limiting.demand_rps.normal / slo.target;
        for step in 0..=20 {
            let traffic = slo.target * f64::from(step) / 20.0;
            let demand = traffic * share_of_scope;
            let replicas = architect::replicas_for(demand, limiting.capacity_rps, 1) as f64;
            let share = 100.0 * demand / (replicas * limiting.capacity_rps);
            assert!(
                !fires(alert, share),
                "{system}: fires at {traffic} rps ({share} %)"
            );
        }
        // Traffic nearing the capacity of the replicas running does.
        assert!(fires(alert, 85.0) && alert.comparison == ">");
        // The load-test plan proves the capacity: stress reaches and must sustain it.
        let plan = loadtest::plan(&arch);
        let stress = plan.scenarios.iter().find(|s| s.name == "stress").unwrap();
        assert!(
            stress.rate_rps >= promise.sized_rps.min(100_000.0),
            "{stress:?}"
        );
        assert!(
            stress
                .pass_criteria
                .iter()
                .any(|c| c.metric == "throughput" && c.comparison == ">=" && c.slo == slo.id),
            "{stress:?}"
        );
    }
}

#[test]
fn a_throughput_slo_without_sized_capacity_watches_refusals_not_low_traffic() {
    let mut i = inputs("webshop");
    i.system.critical_paths.clear();
    i.system
        .components
        .retain(|c| c.kind == ComponentKind::External);
    i.system.calls.clear();
    let arch = derive(&i).unwrap();
    let alert = arch
        .monitoring
        .alerts
        .iter()
        .find(|a| a.slo.as_deref() == Some("SLO-6"))
        .unwrap();
    assert_eq!(alert.comparison, ">");
    assert!(alert.metric.contains("refused"), "{alert:?}");
}

#[test]
fn gate_1_refuses_an_alert_that_fires_on_low_traffic() {
    let (i, mut doc) = webshop_doc();
    let alerts = doc["monitoring"]["alerts"].as_array_mut().unwrap();
    let at = alerts.iter().position(|a| a["slo"] == "SLO-6").unwrap();
    // The alert the rules used to write: "throughput api: warning < 600, critical < 500".
    alerts[at] = json!({
        "metric": "throughput api", "slo": "SLO-6", "comparison": "<",
        "warning": 600, "critical": 500, "unit": "rps", "action": "check saturation"
    });
    let found = check("measurable-slos", &doc, &i);
    assert_eq!(
        pointers(&found),
        [format!("/monitoring/alerts/{at}/comparison").as_str()]
    );
    assert!(found[0].message.contains("quiet night"), "{found:?}");
}

/// The items of `arch`'s plan about calls to `target`.
fn items_on<'a>(
    arch: &'a baton_performance::PerformanceArchitecture,
    target: &str,
) -> Vec<&'a baton_performance::output::Optimization> {
    arch.optimization_plan
        .items
        .iter()
        .filter(|o| o.target.as_deref() == Some(target))
        .collect()
}

/// An item about a call whose answer is unique and carried by the response advises
/// neither a cache nor a queue.
fn never_cached_or_queued(item: &baton_performance::output::Optimization) {
    assert!(
        !item
            .remedies
            .iter()
            .any(|r| r == "cache" || r == "off-request-path"),
        "{item:?}"
    );
}

#[test]
fn a_call_the_response_needs_is_never_cached_or_queued() {
    // The web shop's payment provider: an authorisation per checkout (POST), whose
    // result the response carries.
    let arch = derive(&inputs("webshop")).unwrap();
    let payment = items_on(&arch, "payment-provider");
    assert!(payment.len() >= 2, "{payment:?}");
    for item in &payment {
        never_cached_or_queued(item);
        assert!(
            !item.action.contains("cache its answers"),
            "{}",
            item.action
        );
        assert!(
            !item.action.contains("off the request path"),
            "{}",
            item.action
        );
        assert!(!item.action.contains("queue and batch"), "{}", item.action);
    }
    let slow = payment
        .iter()
        .find(|o| o.cause.kind == "slow_synchronous_integration")
        .unwrap();
    assert_eq!(
        slow.remedies,
        [
            "timeout",
            "circuit-breaker",
            "idempotent-retry",
            "renegotiate"
        ]
    );
    assert!(slow.action.contains("at most 250 ms"), "{}", slow.action);
    assert!(
        slow.action.contains("keep the cart"),
        "the named fallback: {}",
        slow.action
    );
    // The freight booking waits for the carrier's confirmation: no idempotency key,
    // so no retries either.
    let arch = derive(&inputs("freight")).unwrap();
    let carrier = items_on(&arch, "carrier-api");
    let waits = carrier
        .iter()
        .find(|o| o.cause.kind == "synchronous_call")
        .expect("the bottleneck names the call it waits for");
    assert_eq!(
        waits.remedies,
        ["timeout", "circuit-breaker", "renegotiate"]
    );
    assert!(waits.action.contains("do not retry"), "{}", waits.action);
    for item in &carrier {
        never_cached_or_queued(item);
    }
    // Telemetry's device lookup is declared cacheable, and its ingest path may answer
    // 202: both remedies apply there, and a failed lookup may be retried.
    let mut telemetry = inputs("telemetry");
    let arch = derive(&telemetry).unwrap();
    let registry = items_on(&arch, "device-registry");
    // Its 40 ms contract cannot fit the ingest hop's budget: the advice says so
    // rather than a timeout that would fail most calls silently.
    assert!(
        registry[0]
            .action
            .contains("a timeout alone would fail most calls"),
        "{}",
        registry[0].action
    );
    assert_eq!(
        registry[0].remedies,
        [
            "cache",
            "off-request-path",
            "timeout",
            "circuit-breaker",
            "idempotent-retry",
            "renegotiate"
        ]
    );
    // Hedged requests only where the provider allows them.
    assert!(!registry[0].remedies.iter().any(|r| r == "hedged-requests"));
    telemetry.integration.external_services[0].hedging = true;
    let arch = derive(&telemetry).unwrap();
    let hedged = &items_on(&arch, "device-registry")[0];
    assert!(
        hedged.remedies.iter().any(|r| r == "hedged-requests"),
        "{hedged:?}"
    );
    assert!(
        hedged.action.contains("hedge a request"),
        "{}",
        hedged.action
    );
}

#[test]
fn cacheable_defaults_to_reads_and_an_explicit_no_wins() {
    let mut i = inputs("webshop");
    // A provider on a read path only is cacheable by default ...
    i.system.critical_paths[1].endpoint = "GET /orders/quote".into();
    let arch = derive(&i).unwrap();
    let slow = items_on(&arch, "payment-provider")
        .into_iter()
        .find(|o| o.cause.kind == "slow_synchronous_integration")
        .unwrap();
    assert!(slow.remedies.iter().any(|r| r == "cache"), "{slow:?}");
    // ... unless the inputs say its answers cannot be reused.
    i.integration.external_services[0].cacheable = Some(false);
    let arch = derive(&i).unwrap();
    for item in items_on(&arch, "payment-provider") {
        assert!(!item.remedies.iter().any(|r| r == "cache"), "{item:?}");
    }
    // A call that is asynchronous in the inputs may leave the path.
    i.integration.external_services[0].sync = true;
    for c in i
        .system
        .calls
        .iter_mut()
        .filter(|c| c.to == "payment-provider")
    {
        c.sync = false;
    }
    let arch = derive(&i).unwrap();
    let rate = items_on(&arch, "payment-provider")
        .into_iter()
        .find(|o| o.cause.kind == "rate_limit")
        .unwrap();
    assert_eq!(rate.remedies, ["off-request-path"]);
}

#[test]
fn gate_2_refuses_advice_that_cannot_apply_to_its_call() {
    let (i, doc) = webshop_doc();
    let items = doc["optimization_plan"]["items"].as_array().unwrap();
    let at = items
        .iter()
        .position(|o| o["cause"]["kind"] == "slow_synchronous_integration")
        .unwrap();
    // The advice the rules used to write, as prose only (as a person or a model
    // would write it) ...
    let mut prose = doc.clone();
    prose["optimization_plan"]["items"][at] = json!({
        "id": "OPT-9", "area": "async", "priority": "P1",
        "action": "`payment-provider` takes 250 ms on a critical path: call it with a timeout of at most 2000 ms and a circuit breaker, cache its answers or move it off the request path",
        "cause": {"kind": "slow_synchronous_integration", "source": "x"},
        "expected_impact": "up to 250 ms"
    });
    let found = check("latency-budgets", &prose, &i);
    let at_action = format!("/optimization_plan/items/{at}/action");
    assert_eq!(
        pointers(&found),
        [at_action.as_str(), at_action.as_str()],
        "{found:?}"
    );
    // ... and as structured remedies.
    let mut listed = doc.clone();
    listed["optimization_plan"]["items"][at]["remedies"] =
        json!(["timeout", "cache", "off-request-path"]);
    let found = check("latency-budgets", &listed, &i);
    assert_eq!(
        pointers(&found),
        [
            format!("/optimization_plan/items/{at}/remedies/1").as_str(),
            format!("/optimization_plan/items/{at}/remedies/2").as_str()
        ]
    );
    assert!(found[0].message.contains("not cacheable"), "{found:?}");
    assert!(found[1].message.contains("changes the API"), "{found:?}");
}

#[test]
fn a_decision_not_to_cache_is_not_a_cache() {
    let (i, doc) = webshop_doc();
    let caches = doc["caching_strategy"]["caches"].as_array().unwrap();
    let at = caches.iter().position(|c| c["entity"] == "order").unwrap();
    let order = &caches[at];
    assert_eq!(order["invalidation"]["policy"], "not-cached");
    for absent in ["layer", "ttl_seconds", "expected_hit_ratio", "key_patterns"] {
        assert!(order.get(absent).is_none(), "{absent} in {order}");
    }
    assert!(
        order["invalidation"]["reason"]
            .as_str()
            .unwrap()
            .contains("write-heavy")
    );
    // A document that writes the old shape (a layer, a TTL of 0, a hit ratio of 0)
    // is refused, each field at its pointer.
    let mut bad = doc.clone();
    let c = &mut bad["caching_strategy"]["caches"][at];
    c["layer"] = json!("application cache (redis)");
    c["ttl_seconds"] = json!(0);
    c["expected_hit_ratio"] = json!(0.0);
    let found = check("cache-invalidation", &bad, &i);
    let base = format!("/caching_strategy/caches/{at}");
    assert_eq!(
        pointers(&found),
        [
            format!("{base}/layer").as_str(),
            format!("{base}/ttl_seconds").as_str(),
            format!("{base}/expected_hit_ratio").as_str()
        ]
    );
}

#[test]
fn a_path_measured_over_its_slo_puts_what_explains_the_gap_first() {
    let arch = derive(&inputs("webshop")).unwrap();
    let items = &arch.optimization_plan.items;
    // GET /products measures 290 ms at p95 against 200 ms: its hops' items lead.
    let leading: Vec<(&str, Option<f64>)> = items
        .iter()
        .take(3)
        .map(|o| (o.cause.kind.as_str(), o.explains_gap_ms))
        .collect();
    assert_eq!(
        leading,
        [
            ("hotspot", Some(90.0)),
            ("unbounded_query", Some(90.0)),
            ("missing_index", Some(90.0))
        ]
    );
    assert!(items[..3].iter().all(|o| o.priority == "P0"));
    assert!(
        items[0].expected_impact.contains("90 ms to find"),
        "{}",
        items[0].expected_impact
    );
    // Nothing off that path claims the gap.
    let n_plus_one = items.iter().find(|o| o.cause.kind == "n_plus_one").unwrap();
    assert_eq!(
        (n_plus_one.priority.as_str(), n_plus_one.explains_gap_ms),
        ("P1", None)
    );
    // Without the measurement, the hotspot is a P1 like before.
    let mut i = inputs("webshop");
    i.analysis.measured.clear();
    let arch = derive(&i).unwrap();
    let hotspot = arch
        .optimization_plan
        .items
        .iter()
        .find(|o| o.cause.kind == "hotspot")
        .unwrap();
    assert_eq!(
        (hotspot.priority.as_str(), hotspot.explains_gap_ms),
        ("P1", None)
    );
}
