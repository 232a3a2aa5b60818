//! Helpers shared by the core's integration tests.

use std::path::Path;

use jitterbug_core::profile::{DirectionSpec, Profile};

/// Parses a profile body (without description/source) and returns its uplink.
pub fn uplink(body: &str) -> DirectionSpec {
    let text = format!("description = \"test\"\nsource = \"test\"\n{body}");
    Profile::parse("test", &text, Path::new("test.toml"), None)
        .unwrap_or_else(|e| panic!("test profile must parse: {e}"))
        .uplink
}
