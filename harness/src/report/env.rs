//! Section 5: the run's environment from `run.json`.

use std::fmt::Write;

use jitterbug_core::results::ScenarioResult;

use super::esc;

/// Fields shown first, in this order; any other field of `run.json` follows.
const KNOWN: [(&str, &str); 12] = [
    ("run_id", "run id"),
    ("jitterbug_version", "jitterbug"),
    ("agent_version", "reference agent"),
    ("webrtc_version", "webrtc crate"),
    ("libopus_version", "libopus"),
    ("host", "host"),
    ("started", "started"),
    ("finished", "finished"),
    ("wall_seconds", "wall time (s)"),
    ("scenarios", "scenarios"),
    ("seeds", "seeds"),
    ("command_line", "command line"),
];

pub(super) fn render(out: &mut String, run: Option<&serde_json::Value>, results: &[ScenarioResult]) {
    out.push_str("<h2 id=\"environment\">Environment</h2>\n");
    // Browsers come from the results (each browser call records its version).
    let mut browsers: Vec<String> =
        results.iter().filter_map(|r| r.browser.as_ref().map(|b| format!("{} {}", b.name, b.version))).collect();
    browsers.sort();
    browsers.dedup();
    if !browsers.is_empty() {
        let _ = writeln!(out, "<p>Browsers: {}</p>", esc(&browsers.join(", ")));
    }
    let Some(obj) = run.and_then(|r| r.as_object()) else {
        out.push_str("<p class=\"muted\">No run.json: environment unknown.</p>\n");
        return;
    };
    out.push_str("<dl class=\"env\">\n");
    for (key, label) in KNOWN {
        if let Some(v) = obj.get(key) {
            let _ = writeln!(out, "<dt>{label}</dt><dd>{}</dd>", esc(&show(key, v)));
        }
    }
    for (key, v) in obj.iter().filter(|(k, _)| !KNOWN.iter().any(|(n, _)| n == k)) {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(key), esc(&show(key, v)));
    }
    out.push_str("</dl>\n");
}

fn show(key: &str, v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) if key == "wall_seconds" => {
            n.as_f64().map_or(n.to_string(), |f| format!("{f:.1}"))
        }
        // The command line as a shell would take it back.
        serde_json::Value::Array(a) if key == "command_line" => {
            a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), quote)).collect::<Vec<_>>().join(" ")
        }
        serde_json::Value::Array(a) => {
            a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=,:@+%".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
