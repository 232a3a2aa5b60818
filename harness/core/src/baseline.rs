//! The golden baseline store and its comparator: one place that says whether results match
//! what was blessed, used by `cargo test`'s conformance suite and by the CI gate.
//!
//! A baseline keeps, per scenario id, the expected status and every numeric metric of the
//! result flattened to dotted paths (`uplink.stoi`, `downlink.jitter_buffer.concealed_samples`).
//! Tolerances are per metric leaf name; integers (counters) compare exactly unless a tolerance
//! names them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::results::{ScenarioResult, Status};

/// Expected outcome of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expected {
    /// `ok`, `unsupported` or `error`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub metrics: BTreeMap<String, f64>,
}

/// Blessed results: scenario id → expectation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Baseline {
    /// The harness and the caller's jitter buffer the scenarios were blessed with; a gate
    /// against results of another buffer asks for a re-bless rather than listing what moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_buffer: Option<String>,
    pub scenarios: BTreeMap<String, Expected>,
}

/// Absolute tolerance per metric leaf name (`stoi`, `mouth_to_ear_ms`, …).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerances {
    /// For floating-point metrics not listed in `metrics`.
    pub default_float: f64,
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Metric path prefixes not compared at all (counters a real-time run cannot repeat).
    #[serde(default)]
    pub ignore: Vec<String>,
}

impl Tolerances {
    fn ignores(&self, path: &str) -> bool {
        self.ignore.iter().any(|p| path == p || path.strip_prefix(p.as_str()).is_some_and(|r| r.starts_with('.')))
    }

    fn for_metric(&self, path: &str, integral: bool) -> f64 {
        let leaf = path.rsplit('.').next().unwrap_or(path);
        match self.metrics.get(leaf) {
            Some(t) => *t,
            None if integral => 0.0,
            None => self.default_float,
        }
    }
}

/// What the comparator found for one scenario × metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// Outside tolerance.
    Regressed {
        expected: f64,
        actual: f64,
        tolerance: f64,
    },
    /// In the baseline, absent from the results (fail closed).
    Missing,
    /// The status differs from the blessed one (a new `unsupported` or `error`).
    StatusChanged {
        expected: String,
        actual: String,
    },
    /// In the results, not in the baseline: reported, not failed (unless the gate is strict).
    New,
    /// The results come from another jitter buffer than the one blessed: every number may have
    /// moved for that reason alone, so the store needs a re-bless, not a list of regressions.
    BufferChanged {
        blessed: String,
        results: String,
    },
}

/// One row of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub scenario: String,
    pub metric: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// The outcome of comparing results to a baseline.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Comparison {
    pub rows: Vec<Row>,
}

impl Comparison {
    pub fn regressions(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| {
            matches!(
                r.verdict,
                Verdict::Regressed { .. } | Verdict::StatusChanged { .. } | Verdict::BufferChanged { .. }
            )
        })
    }

    pub fn missing(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.verdict == Verdict::Missing)
    }
}

fn status_name(s: &Status) -> (&'static str, Option<String>) {
    match s {
        Status::Ok => ("ok", None),
        Status::Unsupported { reason } => ("unsupported", Some(reason.clone())),
        Status::Error { reason } => ("error", Some(reason.clone())),
        Status::Invalid { reason } => ("invalid", Some(reason.clone())),
    }
}

/// Every numeric leaf of `v` under dotted paths; `integral` marks integer values.
fn flatten_into(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, (f64, bool)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten_into(&p, v, out);
            }
        }
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.insert(prefix.to_string(), (f, n.is_i64() || n.is_u64()));
            }
        }
        _ => {}
    }
}

/// The metrics of a result that a baseline keeps: the directions' numbers and, for live
/// calls, the call's (setup, transit, turns, stage times).
pub fn metrics_of(r: &ScenarioResult) -> BTreeMap<String, (f64, bool)> {
    let mut out = BTreeMap::new();
    for (name, d) in [("uplink", &r.uplink), ("downlink", &r.downlink)] {
        if let Some(d) = d {
            let v = serde_json::to_value(d).expect("results serialise");
            flatten_into(name, &v, &mut out);
        }
    }
    if let Some(live) = &r.live {
        flatten_into("live", &serde_json::to_value(live).expect("results serialise"), &mut out);
    }
    out
}

impl Baseline {
    /// A baseline blessing exactly these results, made with the caller's buffer
    /// `jitter_buffer`.
    pub fn bless(results: &[ScenarioResult], jitter_buffer: Option<String>) -> Baseline {
        let scenarios = results
            .iter()
            .map(|r| {
                let (status, reason) = status_name(&r.status);
                let metrics = metrics_of(r).into_iter().map(|(k, (v, _))| (k, v)).collect();
                (r.id.clone(), Expected { status: status.into(), reason, metrics })
            })
            .collect();
        Baseline { harness_version: None, jitter_buffer, scenarios }
    }

    /// This baseline's expectations for the scenarios `ids` only: a suite that runs part of the
    /// blessed matrix checks that part, while the store keeps covering the whole of it.
    pub fn restricted_to<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Baseline {
        let scenarios = ids
            .into_iter()
            .filter_map(|id| self.scenarios.get_key_value(id).map(|(k, v)| (k.clone(), v.clone())))
            .collect();
        Baseline { scenarios, ..self.clone() }
    }

    /// Compares `results`, made with the buffer `jitter_buffer`, against this baseline: when
    /// the buffers differ that is the whole finding; otherwise every blessed scenario must be
    /// present with its blessed status and every blessed metric within tolerance.
    pub fn compare(
        &self,
        results: &[ScenarioResult],
        jitter_buffer: Option<&str>,
        tolerances: &Tolerances,
    ) -> Comparison {
        if self.jitter_buffer.as_deref() != jitter_buffer {
            let name = |v: Option<&str>| v.unwrap_or("before neteq-m156 (unnamed)").to_string();
            return Comparison {
                rows: vec![Row {
                    scenario: "*".into(),
                    metric: "jitter_buffer".into(),
                    verdict: Verdict::BufferChanged {
                        blessed: name(self.jitter_buffer.as_deref()),
                        results: name(jitter_buffer),
                    },
                }],
            };
        }
        let by_id: BTreeMap<&str, &ScenarioResult> = results.iter().map(|r| (r.id.as_str(), r)).collect();
        let mut rows = Vec::new();
        for (id, exp) in &self.scenarios {
            let Some(r) = by_id.get(id.as_str()) else {
                rows.push(Row { scenario: id.clone(), metric: "*".into(), verdict: Verdict::Missing });
                continue;
            };
            let (status, _) = status_name(&r.status);
            if status != exp.status {
                rows.push(Row {
                    scenario: id.clone(),
                    metric: "status".into(),
                    verdict: Verdict::StatusChanged { expected: exp.status.clone(), actual: status.into() },
                });
                continue;
            }
            let actual = metrics_of(r);
            for (metric, &expected) in exp.metrics.iter().filter(|(m, _)| !tolerances.ignores(m)) {
                let verdict = match actual.get(metric) {
                    None => Verdict::Missing,
                    Some(&(value, integral)) => {
                        let tolerance = tolerances.for_metric(metric, integral);
                        let same = value == expected || (value - expected).abs() <= tolerance;
                        if same { Verdict::Pass } else { Verdict::Regressed { expected, actual: value, tolerance } }
                    }
                };
                rows.push(Row { scenario: id.clone(), metric: metric.clone(), verdict });
            }
        }
        for r in results {
            if !self.scenarios.contains_key(&r.id) {
                rows.push(Row { scenario: r.id.clone(), metric: "*".into(), verdict: Verdict::New });
            }
        }
        Comparison { rows }
    }
}
