//! One scenario of a matrix — a profile, a preset, a clip, a seed and who calls — the unit
//! every backend runs and every result describes.

use jitterbug_core::identity::{BackendKind, Client};
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::Profile;
use jitterbug_core::results::{ScenarioResult, Status};

use crate::clips::Clip;

#[derive(Debug, Clone, Copy)]
pub struct Scenario<'a> {
    pub profile: &'a Profile,
    pub preset: &'a Preset,
    /// The user's line, as given; each backend builds its call from it (the simulator repeats
    /// it, a live call leaves room for the agent's answers).
    pub clip: &'a Clip,
    pub seed: u64,
    pub client: Client,
    /// How long the call lasts (at least).
    pub call_seconds: f64,
}

impl Scenario<'_> {
    /// `profile/preset/clip/client/backend/seed`.
    pub fn id(&self, backend: BackendKind) -> String {
        ScenarioResult::make_id(&self.profile.name, &self.preset.name, &self.clip.name, self.client, backend, self.seed)
    }

    /// A result for this scenario on `backend`, `ok` with nothing measured yet; `call_s` is the
    /// length of the call as played.
    pub fn blank_result(&self, backend: BackendKind, call_s: f64) -> ScenarioResult {
        ScenarioResult {
            id: self.id(backend),
            profile: self.profile.name.clone(),
            preset: self.preset.name.clone(),
            clip: self.clip.name.clone(),
            client: self.client,
            backend,
            seed: self.seed,
            status: Status::Ok,
            codec: format!("{}/{}", self.preset.codec.mime(), self.preset.codec.rtp_clock_rate()),
            call_s,
            uplink: None,
            downlink: None,
            live: None,
            browser: None,
        }
    }
}
