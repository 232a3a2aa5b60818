//! Section: the browser compatibility matrix (design report table 7), when the run had
//! browser calls.

use std::fmt::Write;

use jitterbug_core::results::ScenarioResult;

use super::esc;
use crate::compat::{FEATURES, matrix};

pub(super) fn render(out: &mut String, results: &[ScenarioResult]) {
    let rows = matrix(results);
    if rows.is_empty() {
        return;
    }
    out.push_str(
        "<h2 id=\"compat\">Browser compatibility</h2>\n<table class=\"compat\">\n<tr><th class=\"l\">browser</th>",
    );
    for f in FEATURES {
        let _ = write!(out, "<th>{}</th>", esc(f));
    }
    out.push_str("</tr>\n");
    for r in &rows {
        let _ = write!(out, "<tr><td class=\"l\">{} {}</td>", esc(&r.browser), esc(&r.version));
        for f in FEATURES {
            let (v, d) = r.cells.get(f).map(|c| c.verdict()).unwrap_or(("–", ""));
            let class = match v {
                "yes" => "pass",
                "no" => "fail",
                _ => "muted",
            };
            let _ = write!(out, "<td class=\"{class}\" title=\"{}\">{v}</td>", esc(d));
        }
        out.push_str("</tr>\n");
    }
    out.push_str(
        "</table>\n<p class=\"muted\">Generated from this run's browser calls (design report table 7). Hover a cell \
         for what was observed; \"not run\" means no call in this run exercised the feature.</p>\n",
    );
}
