//! Whether a profile does what it says: a packet train through each direction's impairment
//! core, measured beside the analytic expectation (`profiles sample`, `profiles verify`).

use jitterbug_core::impairment::Direction;
use jitterbug_core::profile::{DirectionSpec, Profile};
use jitterbug_core::results::Status;
use jitterbug_core::sample::{Bounds, Comparison, Train, compare};
use serde::Serialize;

pub fn directions(p: &Profile) -> [(Direction, &DirectionSpec); 2] {
    [(Direction::Uplink, &p.uplink), (Direction::Downlink, &p.downlink)]
}

/// Samples one direction of a profile.
pub fn sample(profile: &Profile, direction: Direction, seed: u64, train: Train) -> Comparison {
    let spec = match direction {
        Direction::Uplink => &profile.uplink,
        Direction::Downlink => &profile.downlink,
    };
    compare(spec, direction, seed, train)
}

/// A profile sampled in both directions and judged against its configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub profile: String,
    pub seed: u64,
    #[serde(flatten)]
    pub status: Status,
    pub uplink: Comparison,
    pub downlink: Comparison,
}

/// Samples one profile in both directions; `status` is `error` where measured statistics fall
/// outside the agreement bounds.
pub fn verify(profile: &Profile, seed: u64, packets: u64) -> Verdict {
    let train = Train::voice(packets);
    let [up, down] = directions(profile).map(|(d, _)| sample(profile, d, seed, train));
    let problems: Vec<String> = [&up, &down]
        .into_iter()
        .flat_map(|c| {
            let dir = format!("{:?}", c.direction).to_lowercase();
            c.disagreements(Bounds::default()).into_iter().map(move |d| format!("{dir} {d}"))
        })
        .collect();
    let status = if problems.is_empty() {
        Status::Ok
    } else {
        Status::Error { reason: format!("measured disagrees with configured: {}", problems.join("; ")) }
    };
    Verdict { profile: profile.name.clone(), seed, status, uplink: up, downlink: down }
}
