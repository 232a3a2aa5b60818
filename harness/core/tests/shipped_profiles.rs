//! Every profile shipped in `netem-profiles/` loads, and the public profile names and NAT
//! coverage that users and CI rely on are present.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jitterbug_core::nat::NatType;
use jitterbug_core::profile::{Loss, Profile, TurnTransport};

/// Profile names that are part of the public interface (CLI arguments, CI matrices, docs).
const INTERFACE_NAMES: [&str; 7] =
    ["clean", "loss-random-5", "loss-random-10", "loss-burst-ge", "jitter-high", "blackout-3s", "nat-symmetric-turn"];

fn profiles_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../netem-profiles")
}

fn profile_paths() -> Vec<PathBuf> {
    let dir = profiles_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
}

/// Loads every shipped profile, reporting all failures at once.
fn load_all() -> BTreeMap<String, Profile> {
    let mut profiles = BTreeMap::new();
    let mut errors = Vec::new();
    for path in profile_paths() {
        match Profile::load(&path) {
            Ok(p) => {
                profiles.insert(p.name.clone(), p);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert!(errors.is_empty(), "profiles failed to load:\n{}", errors.join("\n\n"));
    profiles
}

#[test]
fn all_shipped_profiles_load() {
    let profiles = load_all();
    assert!(profiles.len() >= 16, "expected at least 16 shipped profiles, found {}", profiles.len());
    for (name, p) in &profiles {
        assert!(!p.description.is_empty(), "{name}: empty description");
        assert!(!p.source.is_empty(), "{name}: empty source");
    }
}

#[test]
fn shipped_profiles_start_with_a_summary_comment() {
    for path in profile_paths() {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap_or("");
        assert!(
            first.starts_with("# ") && first.len() > 2,
            "{}: the first line must be a one-line `# ` summary comment",
            path.display()
        );
    }
}

#[test]
fn interface_names_exist() {
    let profiles = load_all();
    for name in INTERFACE_NAMES {
        assert!(profiles.contains_key(name), "missing interface profile `{name}`");
    }
}

#[test]
fn every_nat_type_is_covered_as_a_client_nat() {
    let profiles = load_all();
    for nat in NatType::ALL.into_iter().filter(|n| *n != NatType::None) {
        assert!(
            profiles.values().any(|p| p.nat.client == nat),
            "no shipped profile puts the client behind a {nat:?} NAT"
        );
    }
}

#[test]
fn nat_symmetric_turn_forces_a_relay() {
    let profiles = load_all();
    let p = &profiles["nat-symmetric-turn"];
    assert_eq!(p.nat.client, NatType::Symmetric);
    assert_ne!(p.nat.turn, TurnTransport::None);
}

#[test]
fn blackout_3s_has_a_three_second_blackout() {
    let profiles = load_all();
    let p = &profiles["blackout-3s"];
    for (dir, spec) in [("uplink", &p.uplink), ("downlink", &p.downlink)] {
        let found = spec
            .schedule
            .iter()
            .any(|s| matches!(s.loss, Some(Loss::Blackout)) && ((s.until_s - s.from_s) - 3.0).abs() < 1e-9);
        assert!(found, "blackout-3s: no 3 s blackout segment on the {dir}");
    }
}

/// Reports and `profiles sample` output embed the profile as JSON. Today `Loss::Blackout` is
/// `#[serde(skip)]`, so serialising any profile with a blackout segment fails.
#[test]

fn shipped_profiles_serialise_to_json() {
    for (name, p) in load_all() {
        if let Err(e) = serde_json::to_string(&p) {
            panic!("{name}: cannot serialise: {e}");
        }
    }
}

#[test]
fn clean_has_no_impairment() {
    let profiles = load_all();
    let p = &profiles["clean"];
    for spec in [&p.uplink, &p.downlink] {
        assert!(spec.base.delay.is_zero());
        assert_eq!(spec.base.loss, Loss::default());
        assert!(spec.base.rate.is_none() && spec.base.reorder.is_none());
        assert_eq!(spec.base.duplicate_percent.value(), 0.0);
        assert_eq!(spec.base.corrupt_percent.value(), 0.0);
        assert!(spec.schedule.is_empty());
    }
    assert_eq!(p.nat.client, NatType::None);
    assert_eq!(p.nat.agent, NatType::None);
}

const BAD_PERCENT: &str = r#"description = "bad"
source = "test"

[both.delay]
ms = 20

[both.loss]
model = "random"
percent = 140
"#;

const BAD_NAT_FIELD: &str = r#"description = "bad"
source = "test"

[nat]
client = "symmetric"
lifetime_s = 30
"#;

const BAD_LOSS_FIELD: &str = r#"description = "bad"
source = "test"

[uplink.loss]
model = "gemodel"
p_percent = 1
r = 30
"#;

fn parse_error(text: &str) -> String {
    Profile::parse("bad", text, Path::new("bad.toml"), None)
        .expect_err("the malformed profile must be rejected")
        .to_string()
}

/// The message names some line: `bad.toml:N:` (validation) or `at line N` (TOML syntax).
fn has_line_number(msg: &str) -> bool {
    let after =
        |pat: &str| msg.match_indices(pat).any(|(i, _)| msg[i + pat.len()..].starts_with(|c: char| c.is_ascii_digit()));
    after("line ") || after("bad.toml:")
}

#[test]
fn out_of_range_percent_names_file_line_and_value() {
    let msg = parse_error(BAD_PERCENT);
    assert!(msg.contains("bad.toml"), "no file name in: {msg}");
    assert!(has_line_number(&msg), "no line number in: {msg}");
    assert!(msg.contains("140"), "no offending value in: {msg}");
    assert!(msg.contains("percentage between 0 and 100"), "no explanation in: {msg}");
}

#[test]
fn unknown_nat_field_names_file_line_and_field() {
    let msg = parse_error(BAD_NAT_FIELD);
    assert!(msg.contains("bad.toml"), "no file name in: {msg}");
    assert!(msg.contains("line 6"), "wrong or no line number in: {msg}");
    assert!(msg.contains("lifetime_s"), "no field name in: {msg}");
}

#[test]
fn unknown_loss_field_names_file_line_and_field() {
    let msg = parse_error(BAD_LOSS_FIELD);
    assert!(msg.contains("bad.toml"), "no file name in: {msg}");
    assert!(has_line_number(&msg), "no line number in: {msg}");
    assert!(msg.contains("`r`"), "no field name in: {msg}");
}

/// What the error should say once spans survive inside direction tables. Today the
/// `#[serde(flatten)]` on `DirectionSpec::base` and the internally tagged `Loss` enum make
/// serde buffer the values, so the TOML error points at the first `[both.*]` header (line 4)
/// and does not name `percent`.
#[test]

fn out_of_range_percent_points_at_the_offending_key() {
    let msg = parse_error(BAD_PERCENT);
    assert!(msg.contains("line 9"), "wrong or no line number in: {msg}");
    assert!(msg.contains("percent"), "no field name in: {msg}");
}
