//! The Performance Architecture Document in markdown, in the shape of seed 001's
//! output format: summary, SLO table, budgets per path, capacity, caching,
//! optimization plan, alerts, Phase 4 handoff and quality metrics.

use std::fmt::Write as _;

use crate::output::PerformanceArchitecture;

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Renders `arch` as markdown.
pub fn markdown(arch: &PerformanceArchitecture) -> String {
    let mut o = String::new();
    let req = &arch.performance_requirements;
    let w = &mut o;
    let _ = writeln!(w, "## Performance Architecture Document: {}\n", arch.system);
    let _ = writeln!(w, "### Summary");
    let _ = writeln!(w, "- SLOs defined: {}", arch.summary.slos);
    let _ = writeln!(
        w,
        "- Latency budgets: {} critical paths",
        arch.summary.latency_budgets
    );
    let _ = writeln!(w, "- Scaling strategy: {}", arch.summary.scaling_strategy);
    let _ = writeln!(w, "- Cache layers: {}\n", arch.summary.cache_layers);

    let _ = writeln!(
        w,
        "### Performance Requirements\n\n#### Service Level Objectives (SLOs)\n"
    );
    let _ = writeln!(
        w,
        "| SLO | NFR | Metric | Scope | Target | Measurement | Priority |\n|---|---|---|---|---|---|---|"
    );
    for s in &req.slos {
        let metric = match &s.percentile {
            Some(p) => format!("{} ({p})", s.metric),
            None => s.metric.clone(),
        };
        let _ = writeln!(
            w,
            "| {} | {} | {metric} | {} | {} {} {} | {} | {} |",
            s.id,
            s.nfr,
            s.scope,
            s.comparison,
            num(s.target),
            s.unit,
            s.measurement,
            s.priority
        );
    }
    let _ = writeln!(
        w,
        "\nSLO coverage: {} of {} performance requirements ({:.1} %).",
        req.coverage.covered,
        req.coverage.performance_nfrs,
        req.coverage.ratio * 100.0
    );
    for u in &req.unmeasurable {
        let _ = writeln!(w, "- Not measurable: {}: {}", u.nfr, u.reason);
    }
    let _ = writeln!(w, "\n#### Latency Budgets\n");
    for b in &req.latency_budgets {
        let flag = if b.over_budget {
            format!(
                " — OVER BUDGET: the baselines ({} ms) exceed the total",
                num(b.baseline_ms)
            )
        } else if b.tight {
            format!(
                " — TIGHT: the baselines ({} ms) leave {} ms of headroom, under the {} ms minimum",
                num(b.baseline_ms),
                num(b.headroom_ms),
                num(b.min_headroom_ms)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            w,
            "```\n{} ({}): {} ms ({}), from {}{flag}",
            b.path,
            b.endpoint,
            num(b.total_ms),
            b.percentile,
            b.source
        );
        for s in &b.segments {
            let _ = writeln!(
                w,
                "├── {}: {} ms (baseline {} ms)",
                s.component,
                num(s.budget_ms),
                num(s.baseline_ms)
            );
        }
        let _ = writeln!(w, "└── headroom: {} ms\n```\n", num(b.headroom_ms));
    }
    let p = &req.load_profiles;
    let _ = writeln!(
        w,
        "#### Load Profiles\n\n| Profile | Concurrent users | RPS | Read ratio | Duration |\n|---|---|---|---|---|"
    );
    for (name, lp) in [
        ("Normal", &p.normal),
        ("Peak", &p.peak),
        ("Stress", &p.stress),
    ] {
        let d = lp
            .duration_minutes
            .map_or_else(|| "-".into(), |m| format!("{} min", num(m)));
        let _ = writeln!(
            w,
            "| {name} | {} | {} | {} | {d} |",
            num(lp.concurrent_users),
            num(lp.requests_per_second),
            num(lp.read_ratio)
        );
    }

    let sd = &arch.scalability_design;
    let _ = writeln!(
        w,
        "\n### Scalability Design\n\nSized at {} % utilisation, at least {} instance(s) of anything that scales.\n",
        num(sd.target_utilization * 100.0),
        sd.min_replicas
    );
    let horizons: Vec<&str> = sd.growth.iter().map(|g| g.horizon.as_str()).collect();
    let mut header = "| Component | Kind | Strategy | Normal | Peak | Stress |".to_string();
    let mut rule = "|---|---|---|---|---|---|".to_string();
    for h in &horizons {
        let _ = write!(header, " {h} |");
        rule.push_str("---|");
    }
    let _ = writeln!(w, "{header}\n{rule}");
    for c in &sd.components {
        let (n, pk, st, growth) = match &c.replicas {
            Some(r) => (
                r.normal.to_string(),
                r.peak.to_string(),
                r.stress.to_string(),
                r.growth
                    .iter()
                    .map(|g| g.replicas.to_string())
                    .collect::<Vec<_>>(),
            ),
            None => (
                "-".into(),
                "-".into(),
                "-".into(),
                vec!["-".to_string(); horizons.len()],
            ),
        };
        let _ = write!(
            w,
            "| {} | {} | {} | {n} | {pk} | {st} |",
            c.name, c.kind, c.strategy
        );
        for g in growth {
            let _ = write!(w, " {g} |");
        }
        let _ = writeln!(w);
    }
    for c in &sd.components {
        if let Some(pool) = &c.connection_pool {
            let _ = writeln!(
                w,
                "\n- `{}` connection pool: {} connections ({} busy at peak, Little's law)",
                c.name,
                pool.size,
                num(pool.busy_at_peak)
            );
        }
        if let Some(parts) = c.partitions {
            let _ = writeln!(w, "- `{}` partitions: {parts}", c.name);
        }
        for note in &c.notes {
            let _ = writeln!(w, "- `{}`: {note}", c.name);
        }
    }

    let cs = &arch.caching_strategy;
    let _ = writeln!(
        w,
        "\n### Caching Strategy\n\nLayers: {}\n",
        if cs.layers.is_empty() {
            "none".into()
        } else {
            cs.layers.join(", ")
        }
    );
    let _ = writeln!(
        w,
        "| Entity | Keys | TTL | Hit ratio | Invalidation |\n|---|---|---|---|---|"
    );
    let uncached: Vec<&crate::output::Cache> =
        cs.caches.iter().filter(|c| !c.is_cached()).collect();
    for c in cs.caches.iter().filter(|c| c.is_cached()) {
        let inv = if c.invalidation.events.is_empty() {
            c.invalidation.policy.clone()
        } else {
            format!(
                "{} on {}",
                c.invalidation.policy,
                c.invalidation.events.join(", ")
            )
        };
        let _ = writeln!(
            w,
            "| {} | `{}` | {} s | {} | {inv}: {} |",
            c.entity,
            c.key_patterns.join("`, `"),
            c.ttl_seconds.unwrap_or_default(),
            num(c.expected_hit_ratio.unwrap_or_default()),
            c.invalidation.reason
        );
    }
    if !uncached.is_empty() {
        let _ = writeln!(w, "\nNot cached:");
        for c in uncached {
            let _ = writeln!(w, "- {}: {}", c.entity, c.invalidation.reason);
        }
    }

    let _ = writeln!(
        w,
        "\n### Optimization Plan\n\n| Id | Priority | Area | Action | Cause | Expected impact |\n|---|---|---|---|---|---|"
    );
    for i in &arch.optimization_plan.items {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} (`{}`) | {} |",
            i.id, i.priority, i.area, i.action, i.cause.kind, i.cause.source, i.expected_impact
        );
    }

    let _ = writeln!(
        w,
        "\n### Performance Monitoring\n\nMetrics: {}\n",
        arch.monitoring.metrics.join("; ")
    );
    let _ = writeln!(
        w,
        "| Metric | Warning | Critical | Action |\n|---|---|---|---|"
    );
    for a in &arch.monitoring.alerts {
        let _ = writeln!(
            w,
            "| {} | {} {} {} | {} {} {} | {} |",
            a.metric,
            a.comparison,
            num(a.warning),
            a.unit,
            a.comparison,
            num(a.critical),
            a.unit,
            a.action
        );
    }
    let _ = writeln!(
        w,
        "\nWarnings fire {:.0} % short of each target (of the error budget, for availability); critical is the target itself. A throughput SLO is a capacity promise: its alert watches traffic against the capacity of the running replicas, never low traffic.",
        arch.monitoring.warning_margin * 100.0
    );
    for a in arch.monitoring.alerts.iter() {
        if let Some(reason) = &a.reason {
            let _ = writeln!(w, "\n- {}: {reason}.", a.metric);
        }
    }
    if !arch.monitoring.capacity.is_empty() {
        let _ = writeln!(
            w,
            "\n#### Capacity Promised\n\n| SLO | Scope | Promised | Sized for (replicas at peak) | First to fill |\n|---|---|---|---|---|"
        );
        for c in &arch.monitoring.capacity {
            let _ = writeln!(
                w,
                "| {} | {} | {} rps | {} rps | `{}` |",
                c.slo,
                c.scope,
                num(c.target_rps),
                num(c.sized_rps),
                c.limited_by
            );
        }
    }
    if !arch.monitoring.burn_rate_alerts.is_empty() {
        let _ = writeln!(
            w,
            "\n#### Error-Budget Burn-Rate Alerts\n\n| SLO | Error budget | Burn rate | Windows | Fires above | Severity |\n|---|---|---|---|---|---|"
        );
        for a in &arch.monitoring.burn_rate_alerts {
            let _ = writeln!(
                w,
                "| {} | {} % over {} days | {}x | {} and {} | {} % errors | {} |",
                a.slo,
                num(a.error_budget_percent),
                a.budget_window_days,
                num(a.burn_rate),
                a.long_window,
                a.short_window,
                num(a.error_ratio_above_percent),
                a.severity
            );
        }
    }

    let h = &arch.handoff;
    let _ = writeln!(
        w,
        "\n### Handoff to Phase 4 Implementation\n\n**For Code Generator (Agent 018):**"
    );
    let _ = writeln!(
        w,
        "- Performance patterns: {}",
        h.code_generator.performance_patterns.join("; ")
    );
    let _ = writeln!(
        w,
        "- Optimization requirements: {}",
        h.code_generator.optimization_requirements.join("; ")
    );
    let _ = writeln!(w, "\n**For All Implementation Agents (018-030):**");
    let _ = writeln!(
        w,
        "- Caching patterns: {}",
        h.implementation.caching_patterns.join("; ")
    );
    let _ = writeln!(
        w,
        "- Async patterns: {}",
        h.implementation.async_patterns.join("; ")
    );
    let rl = &h.implementation.resource_limits;
    let _ = writeln!(
        w,
        "- Resource limits: request timeout {} ms, page size {}, body {} bytes",
        num(rl.request_timeout_ms),
        rl.max_page_size,
        rl.max_body_bytes
    );
    let _ = writeln!(
        w,
        "- Metrics to implement: {}",
        h.implementation.metrics_to_implement.join("; ")
    );
    let _ = writeln!(w, "\n**For Performance Optimizer (Agent 036):**");
    let _ = writeln!(
        w,
        "- Performance baselines: {}",
        h.performance_optimizer.baselines.join("; ")
    );
    let _ = writeln!(
        w,
        "- Monitoring requirements: {}",
        h.performance_optimizer.monitoring_requirements.join("; ")
    );
    let _ = writeln!(
        w,
        "- Optimization priorities: {}",
        h.performance_optimizer.optimization_priorities.join(", ")
    );

    let q = &arch.quality_metrics;
    let _ = writeln!(w, "\n### Quality Metrics");
    let _ = writeln!(w, "- SLO coverage: {:.1} %", q.slo_coverage * 100.0);
    let _ = writeln!(
        w,
        "- Critical paths budgeted: {} of {}",
        q.paths_budgeted.done, q.paths_budgeted.total
    );
    let _ = writeln!(
        w,
        "- Components sized for every growth horizon: {} of {}",
        q.components_sized.done, q.components_sized.total
    );
    let _ = writeln!(
        w,
        "- Caches with invalidation: {} of {}",
        q.caches_with_invalidation.done, q.caches_with_invalidation.total
    );
    let _ = writeln!(
        w,
        "- Monitoring readiness: {}",
        if q.monitoring_ready {
            "every SLO has an alert"
        } else {
            "some SLOs have no alert"
        }
    );
    if !arch.assumptions.is_empty() {
        let _ = writeln!(w, "\n### Assumptions");
        for a in &arch.assumptions {
            let _ = writeln!(w, "- {a}");
        }
    }
    o
}
