//! The Performance Architecture Document as a view: the blocks a page draws (headings,
//! tables, stacked bars, line charts) in the format every stage's renderer may offer
//! as `view` (docs/DESIGN.md, "A stage's view"). The host and its page know no stage:
//! this is where the performance architect says what its document looks like.

use serde::Serialize;

use crate::output::PerformanceArchitecture;

/// A document's view: blocks, drawn in order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct View {
    /// The blocks.
    pub blocks: Vec<Block>,
}

/// One block of a view.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Block {
    /// A heading.
    Heading(String),
    /// A table of text cells.
    Table {
        /// Column headings.
        headers: Vec<String>,
        /// Rows, each as many cells as headings.
        rows: Vec<Vec<String>>,
    },
    /// A whole split into parts: a stacked bar.
    Bar {
        /// What it is of.
        title: String,
        /// Said after the title.
        note: String,
        /// A word of warning (`fail`) or caution (`muted`) after the note.
        flag: Option<Flag>,
        /// The whole.
        total: f64,
        /// The parts, in order.
        segments: Vec<Segment>,
    },
    /// Series of values over the same labels: a line chart.
    Lines {
        /// What it shows, for people who cannot see it.
        label: String,
        /// The labels along the horizontal axis.
        x: Vec<String>,
        /// One line each.
        series: Vec<Series>,
    },
}

/// A flag after a bar's note.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Flag {
    /// The words.
    pub text: String,
    /// `fail` or `muted`.
    pub tone: String,
}

/// A part of a bar.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Segment {
    /// What it is.
    pub label: String,
    /// How much.
    pub value: f64,
    /// Of what.
    pub unit: String,
    /// Drawn grey: what is left over, not a part.
    pub rest: bool,
}

/// One line of a chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Series {
    /// Its name.
    pub name: String,
    /// A value per label.
    pub values: Vec<f64>,
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn table(headers: &[&str], rows: Vec<Vec<String>>) -> Block {
    Block::Table {
        headers: headers.iter().map(|h| (*h).to_owned()).collect(),
        rows,
    }
}

/// The view of `arch`: its SLOs, latency budgets, replicas over the growth horizons,
/// caches and alerts.
pub fn view(arch: &PerformanceArchitecture) -> View {
    let req = &arch.performance_requirements;
    let mut blocks = vec![
        Block::Heading(format!("SLOs ({})", req.slos.len())),
        table(
            &["SLO", "Metric", "Target", "Scope", "Priority"],
            req.slos
                .iter()
                .map(|x| {
                    let at = x
                        .percentile
                        .as_ref()
                        .map_or_else(String::new, |p| format!(" at {p}"));
                    vec![
                        x.id.clone(),
                        x.metric.clone(),
                        format!("{} {} {}{at}", x.comparison, num(x.target), x.unit),
                        x.scope.clone(),
                        x.priority.clone(),
                    ]
                })
                .collect(),
        ),
        Block::Heading("Latency budgets".into()),
    ];
    for b in &req.latency_budgets {
        let mut segments: Vec<Segment> = b
            .segments
            .iter()
            .map(|g| Segment {
                label: g.component.clone(),
                value: g.budget_ms,
                unit: "ms".into(),
                rest: false,
            })
            .collect();
        if b.headroom_ms > 0.0 {
            segments.push(Segment {
                label: "headroom".into(),
                value: b.headroom_ms,
                unit: "ms".into(),
                rest: true,
            });
        }
        let flag = match (b.over_budget, b.tight) {
            (true, _) => Some(("over budget", "fail")),
            (false, true) => Some(("tight", "muted")),
            _ => None,
        };
        blocks.push(Block::Bar {
            title: if b.endpoint.is_empty() {
                b.path.clone()
            } else {
                b.endpoint.clone()
            },
            note: format!("{} ms at {}", num(b.total_ms), b.percentile),
            flag: flag.map(|(text, tone)| Flag {
                text: text.into(),
                tone: tone.into(),
            }),
            total: b.total_ms,
            segments,
        });
    }
    let scaled: Vec<_> = arch
        .scalability_design
        .components
        .iter()
        .filter_map(|c| Some((c, c.replicas.as_ref().filter(|r| !r.growth.is_empty())?)))
        .collect();
    if let Some((_, first)) = scaled.first() {
        let mut x = vec!["peak".to_owned()];
        x.extend(first.growth.iter().map(|g| g.horizon.clone()));
        blocks.push(Block::Heading("Replicas over the growth horizons".into()));
        blocks.push(Block::Lines {
            label: "replicas over growth horizons".into(),
            x,
            series: scaled
                .iter()
                .map(|(c, r)| Series {
                    name: c.name.clone(),
                    values: std::iter::once(r.peak as f64)
                        .chain(r.growth.iter().map(|g| g.replicas as f64))
                        .collect(),
                })
                .collect(),
        });
    }
    let caches = &arch.caching_strategy.caches;
    if !caches.is_empty() {
        // An entity decided not-cached has no layer, TTL or hit ratio: the view shows
        // the decision and its reason, not a cache that does not exist.
        let dash = |v: Option<String>| v.unwrap_or_else(|| "—".into());
        blocks.push(Block::Heading("Caches".into()));
        blocks.push(table(
            &[
                "Entity",
                "Decision",
                "Layer",
                "TTL",
                "Expected hit ratio",
                "Why",
            ],
            caches
                .iter()
                .map(|c| {
                    vec![
                        c.entity.clone(),
                        c.invalidation.policy.clone(),
                        dash(c.layer.clone()),
                        dash(c.ttl_seconds.map(|t| format!("{t} s"))),
                        dash(
                            c.expected_hit_ratio
                                .map(|r| format!("{}%", (r * 100.0).round() as i64)),
                        ),
                        c.invalidation.reason.clone(),
                    ]
                })
                .collect(),
        ));
    }
    let alerts = &arch.monitoring.alerts;
    if !alerts.is_empty() {
        blocks.push(Block::Heading("Alerts".into()));
        blocks.push(table(
            &["Metric", "SLO", "Warning", "Critical", "Action"],
            alerts
                .iter()
                .map(|a| {
                    vec![
                        a.metric.clone(),
                        a.slo.clone().unwrap_or_default(),
                        format!("{} {} {}", a.comparison, num(a.warning), a.unit),
                        format!("{} {} {}", a.comparison, num(a.critical), a.unit),
                        match &a.reason {
                            Some(r) => format!("{} ({r})", a.action),
                            None => a.action.clone(),
                        },
                    ]
                })
                .collect(),
        ));
    }
    View { blocks }
}
