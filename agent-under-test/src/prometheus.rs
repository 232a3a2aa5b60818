//! Prometheus text exposition format 0.0.4, just what `/metrics` needs: metric families with
//! labelled samples, and a way to turn any `Serialize` struct of counters into samples so a
//! new `SessionMetrics` field shows up without touching the server.

use std::fmt::Write;

/// `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    /// A number whose kind the exporter does not know (e.g. a struct field).
    Untyped,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Untyped => "untyped",
        }
    }
}

/// One metric name with its help text and samples (one per label set).
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub kind: Kind,
    pub samples: Vec<(Vec<(String, String)>, f64)>,
}

impl Family {
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: Kind) -> Family {
        Family { name: name.into(), help: help.into(), kind, samples: Vec::new() }
    }

    /// Adds a sample; `labels` are `(name, value)` pairs.
    pub fn sample(mut self, labels: &[(&str, &str)], value: f64) -> Family {
        self.samples.push((labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), value));
        self
    }
}

/// The exposition text for `families`, each family's samples kept together as the format requires.
pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for family in families {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP {} {}", family.name, escape(&family.help, false));
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.as_str());
        for (labels, value) in &family.samples {
            out.push_str(&family.name);
            if !labels.is_empty() {
                let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v, true))).collect();
                let _ = write!(out, "{{{}}}", pairs.join(","));
            }
            let _ = writeln!(out, " {}", number(*value));
        }
    }
    out
}

/// The numeric and boolean fields of a JSON object as `(field, value, kind)`: booleans become
/// 0/1 gauges, numbers are untyped; anything else (strings, nested objects) is skipped.
pub fn numeric_fields(value: &serde_json::Value) -> Vec<(String, f64, Kind)> {
    let Some(object) = value.as_object() else { return Vec::new() };
    object
        .iter()
        .filter_map(|(field, v)| match v {
            serde_json::Value::Bool(b) => Some((field.clone(), f64::from(u8::from(*b)), Kind::Gauge)),
            serde_json::Value::Number(n) => n.as_f64().map(|x| (field.clone(), x, Kind::Untyped)),
            _ => None,
        })
        .collect()
}

fn number(value: f64) -> String {
    match value {
        v if v.is_nan() => "NaN".into(),
        v if v == f64::INFINITY => "+Inf".into(),
        v if v == f64::NEG_INFINITY => "-Inf".into(),
        v => v.to_string(),
    }
}

/// Escapes `\` and newlines (HELP) plus `"` (label values).
fn escape(text: &str, label: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if label => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families_with_labels_and_escapes() {
        let families = [
            Family::new("x_active", "Live things.", Kind::Gauge).sample(&[], 2.0),
            Family::new("x_rejected_total", "Rejections by reason.", Kind::Counter)
                .sample(&[("reason", "bad\"token\\\n")], 3.0)
                .sample(&[("reason", "capacity")], 0.0),
        ];
        assert_eq!(
            render(&families),
            "# HELP x_active Live things.\n# TYPE x_active gauge\nx_active 2\n\
             # HELP x_rejected_total Rejections by reason.\n# TYPE x_rejected_total counter\n\
             x_rejected_total{reason=\"bad\\\"token\\\\\\n\"} 3\nx_rejected_total{reason=\"capacity\"} 0\n"
        );
    }

    #[test]
    fn numeric_fields_keep_numbers_and_booleans() {
        let value = serde_json::json!({ "rtp_received": 12, "connected": true, "jitter_ms": 1.5, "name": "x" });
        let mut fields = numeric_fields(&value);
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            fields,
            [
                ("connected".to_string(), 1.0, Kind::Gauge),
                ("jitter_ms".to_string(), 1.5, Kind::Untyped),
                ("rtp_received".to_string(), 12.0, Kind::Untyped)
            ]
        );
        assert!(numeric_fields(&serde_json::json!(3)).is_empty());
    }
}
