//! Results against a store of blessed baselines, fail closed; blessing results into one.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use jitterbug_core::baseline::{Baseline, Comparison, Tolerances, Verdict};
use jitterbug_core::identity::BackendKind;
use jitterbug_core::results::{Results, ScenarioResult};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::store::StoreError;

/// How a gate ended; the process exit code is its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every blessed scenario ran and every metric is within tolerance.
    Pass = 0,
    /// A metric moved beyond its tolerance, or a status changed (a new `unsupported`/`error`).
    Regressed = 1,
    /// Blessed scenarios or metrics are missing from the results: never a pass.
    Incomplete = 2,
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{file}: {message}")]
    Tolerances { file: PathBuf, message: String },
    #[error("{dir}: no baselines (expected {dir}/baselines/<backend>.json)")]
    NoBaselines { dir: PathBuf },
    #[error("{file}: cannot write: {source}")]
    Write {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn read(path: &Path) -> Result<String, GateError> {
    Ok(crate::store::read(path)?)
}

/// Baselines in `dir/baselines/*.json`, by backend (the file stem).
pub fn load_baselines(dir: &Path) -> Result<BTreeMap<String, Baseline>, GateError> {
    let bdir = dir.join("baselines");
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(&bdir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") {
                let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
                let b =
                    serde_json::from_str(&read(&p)?).map_err(|source| StoreError::Json { file: p.clone(), source })?;
                out.insert(stem, b);
            }
        }
    }
    Ok(out)
}

/// Tolerances per backend from `dir/tolerances.toml` (`[sim]`, `[live]`, …).
pub fn load_tolerances(dir: &Path) -> Result<BTreeMap<String, Tolerances>, GateError> {
    let file = dir.join("tolerances.toml");
    toml::from_str(&read(&file)?).map_err(|e| GateError::Tolerances { file, message: e.to_string() })
}

/// The gate's findings per backend.
#[derive(Debug)]
pub struct Gate {
    pub comparisons: BTreeMap<String, Comparison>,
    /// Scenarios missing from the baseline fail too (CI jobs that want nothing to slip).
    pub strict: bool,
}

impl Gate {
    pub fn outcome(&self) -> Outcome {
        let all = || self.comparisons.values();
        if all().any(|c| c.missing().next().is_some()) {
            Outcome::Incomplete
        } else if all().any(|c| c.regressions().next().is_some())
            || (self.strict && all().any(|c| c.rows.iter().any(|r| r.verdict == Verdict::New)))
        {
            Outcome::Regressed
        } else {
            Outcome::Pass
        }
    }

    /// Why the gate asks for a re-bless, if it does: the results' buffer is not the store's.
    pub fn rebless(&self) -> Option<String> {
        self.comparisons.iter().find_map(|(backend, c)| {
            c.rows.iter().find_map(|r| match &r.verdict {
                Verdict::BufferChanged { blessed, results } => Some(format!(
                    "[{backend}] re-bless: the caller's buffer changed (store blessed with {blessed}, results made with {results}); review, then `jitterbug bless`"
                )),
                _ => None,
            })
        })
    }

    /// One line per backend: the verdict's counts.
    pub fn totals(&self) -> Vec<String> {
        self.comparisons
            .iter()
            .map(|(backend, c)| {
                let count = |f: fn(&Verdict) -> bool| c.rows.iter().filter(|r| f(&r.verdict)).count();
                format!(
                    "[{backend}] {} checks: {} pass, {} regressed, {} status changed, {} missing; {} new scenarios not in the baseline",
                    c.rows.iter().filter(|r| r.verdict != Verdict::New).count(),
                    count(|v| *v == Verdict::Pass),
                    count(|v| matches!(v, Verdict::Regressed { .. })),
                    count(|v| matches!(v, Verdict::StatusChanged { .. })),
                    count(|v| *v == Verdict::Missing),
                    count(|v| *v == Verdict::New),
                )
            })
            .collect()
    }

    /// A readable diff: failures first (worst relative to their tolerance; under `--strict`
    /// unblessed scenarios too), then totals.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for (backend, c) in &self.comparisons {
            let mut bad: Vec<_> = c
                .rows
                .iter()
                .filter(|r| r.verdict != Verdict::Pass && (self.strict || r.verdict != Verdict::New))
                .collect();
            let severity = |v: &Verdict| match v {
                Verdict::Regressed { expected, actual, tolerance } => (actual - expected).abs() / tolerance.max(1e-12),
                _ => f64::INFINITY,
            };
            bad.sort_by(|a, b| severity(&b.verdict).total_cmp(&severity(&a.verdict)));
            if !bad.is_empty() {
                writeln!(
                    out,
                    "{:<60} {:<42} {:>12} {:>12} {:>10}",
                    format!("[{backend}] scenario"),
                    "metric",
                    "baseline",
                    "actual",
                    "tolerance"
                )
                .unwrap();
            }
            for r in &bad {
                if let Verdict::BufferChanged { blessed, results } = &r.verdict {
                    writeln!(
                        out,
                        "[{backend}] re-bless: the caller's buffer changed (store blessed with {blessed}, results made with {results})"
                    )
                    .unwrap();
                    continue;
                }
                let (e, a, t) = match &r.verdict {
                    Verdict::Regressed { expected, actual, tolerance } => {
                        (format!("{expected:.6}"), format!("{actual:.6}"), format!("{tolerance}"))
                    }
                    Verdict::Missing => ("(blessed)".into(), "MISSING".into(), String::new()),
                    Verdict::StatusChanged { expected, actual } => (expected.clone(), actual.clone(), "status".into()),
                    Verdict::New => ("(none)".into(), "NEW".into(), "--strict".into()),
                    Verdict::Pass | Verdict::BufferChanged { .. } => unreachable!("handled above"),
                };
                writeln!(out, "{:<60} {:<42} {e:>12} {a:>12} {t:>10}", r.scenario, r.metric).unwrap();
            }
        }
        for line in self.totals() {
            writeln!(out, "{line}").unwrap();
        }
        out
    }

    /// JUnit XML: one test suite per backend, one test case per scenario × metric.
    pub fn junit(&self) -> String {
        let mut report = Report::new("jitterbug gate");
        for (backend, c) in &self.comparisons {
            let mut suite = TestSuite::new(backend.as_str());
            for r in c.rows.iter().filter(|r| self.strict || r.verdict != Verdict::New) {
                let status = match &r.verdict {
                    Verdict::Pass => TestCaseStatus::success(),
                    Verdict::New => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message("not in the baseline (--strict)");
                        s.set_type("new");
                        s
                    }
                    Verdict::BufferChanged { blessed, results } => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(format!(
                            "re-bless: the caller's buffer changed (store {blessed}, results {results})"
                        ));
                        s.set_type("rebless");
                        s
                    }
                    Verdict::Regressed { expected, actual, tolerance } => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(format!("{} = {actual} (baseline {expected}, tolerance ±{tolerance})", r.metric));
                        s.set_type("regression");
                        s
                    }
                    Verdict::StatusChanged { expected, actual } => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(format!("status {actual}, baseline {expected}"));
                        s.set_type("status");
                        s
                    }
                    Verdict::Missing => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                        s.set_message("in the baseline, missing from the results");
                        s.set_type("missing");
                        s
                    }
                };
                let mut case = TestCase::new(r.metric.as_str(), status);
                case.set_classname(r.scenario.as_str());
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        report.to_string().expect("JUnit serialises")
    }
}

/// The store a checkout ships for `backend` (`golden/`, `golden/live/`, relative to the
/// working directory), if it is there.
pub fn shipped_store(backend: BackendKind) -> Option<PathBuf> {
    let dir = match backend {
        BackendKind::Sim => PathBuf::from("golden"),
        BackendKind::Live => PathBuf::from("golden/live"),
        BackendKind::SimFullStack | BackendKind::Netns => return None,
    };
    dir.join("baselines").join(format!("{}.json", backend.name())).is_file().then_some(dir)
}

/// Compares results with every baseline in `dir` (or only the backends in `only`); `strict`
/// fails scenarios the baseline does not have.
pub fn gate(dir: &Path, results: &Results<ScenarioResult>, only: &[String], strict: bool) -> Result<Gate, GateError> {
    let baselines = load_baselines(dir)?;
    if baselines.is_empty() {
        return Err(GateError::NoBaselines { dir: dir.into() });
    }
    let tolerances = load_tolerances(dir)?;
    let mut comparisons = BTreeMap::new();
    for (backend, baseline) in baselines.iter().filter(|(b, _)| only.is_empty() || only.contains(b)) {
        let mine: Vec<ScenarioResult> =
            results.scenarios.iter().filter(|r| r.backend.name() == backend).cloned().collect();
        let tol = tolerances.get(backend).cloned().unwrap_or_default();
        comparisons.insert(backend.clone(), baseline.compare(&mine, results.jitter_buffer.as_deref(), &tol));
    }
    Ok(Gate { comparisons, strict })
}

/// Writes the results into the baselines (per backend, replacing those scenarios; the whole
/// baseline when the results come from another jitter buffer) and says what changed.
pub fn bless(dir: &Path, results: &Results<ScenarioResult>) -> Result<String, GateError> {
    let mut baselines = load_baselines(dir)?;
    let tolerances = load_tolerances(dir).unwrap_or_default();
    let mut by_backend: BTreeMap<&str, Vec<ScenarioResult>> = BTreeMap::new();
    for r in &results.scenarios {
        by_backend.entry(r.backend.name()).or_default().push(r.clone());
    }
    let buffer = results.jitter_buffer.clone();
    let mut out = String::new();
    for (backend, rs) in by_backend {
        let old = baselines.entry(backend.to_string()).or_default();
        let tol = tolerances.get(backend).cloned().unwrap_or_default();
        if old.jitter_buffer != buffer && !old.scenarios.is_empty() {
            writeln!(
                out,
                "[{backend}] the store was blessed with another jitter buffer ({}): its {} scenarios are replaced",
                old.jitter_buffer.as_deref().unwrap_or("unnamed"),
                old.scenarios.len()
            )
            .unwrap();
            old.scenarios.clear();
            old.jitter_buffer.clone_from(&buffer);
        }
        let cmp = old.compare(&rs, buffer.as_deref(), &tol);
        let changed = cmp.regressions().count();
        let new = cmp.rows.iter().filter(|r| r.verdict == Verdict::New).count();
        for r in cmp.regressions() {
            writeln!(out, "  {} {}: {:?}", r.scenario, r.metric, r.verdict).unwrap();
        }
        let fresh = Baseline::bless(&rs, buffer.clone());
        old.scenarios.extend(fresh.scenarios);
        old.jitter_buffer.clone_from(&buffer);
        old.harness_version = Some(env!("CARGO_PKG_VERSION").to_string());
        let path = dir.join("baselines").join(format!("{backend}.json"));
        std::fs::create_dir_all(dir.join("baselines"))
            .map_err(|source| GateError::Write { file: path.clone(), source })?;
        let mut text = serde_json::to_string_pretty(old).expect("baseline serialises");
        text.push('\n');
        std::fs::write(&path, text).map_err(|source| GateError::Write { file: path.clone(), source })?;
        writeln!(out, "[{backend}] blessed {} scenarios into {}: {changed} metrics/statuses changed beyond tolerance, {new} new scenarios", rs.len(), path.display()).unwrap();
    }
    Ok(out)
}
