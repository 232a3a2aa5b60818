//! Calls across real kernel paths: client, router and server network namespaces, real Linux
//! NAT per the profile, NFQUEUE impairment on the shared packet path. Needs root.

use std::num::NonZeroUsize;

use jitterbug_core::identity::{BackendKind, Client};
use jitterbug_core::nat::NatType;
use jitterbug_core::profile::TurnTransport;

use super::{Backend, Concurrency, Unsupported};
use crate::artifacts::CallArtifacts;
use crate::cancel::Cancel;
use crate::scenario::Scenario;

pub struct NetnsBackend {
    parallel: NonZeroUsize,
    cancel: Cancel,
}

impl NetnsBackend {
    pub fn new(parallel: NonZeroUsize, cancel: Cancel) -> NetnsBackend {
        NetnsBackend { parallel, cancel }
    }
}

impl Backend for NetnsBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Netns
    }

    fn supports(&self, s: &Scenario<'_>) -> Result<(), Unsupported> {
        if let Client::Browser(_) = s.client {
            return Err(Unsupported(
                "netns backend: browser calls in namespaces are not built yet; use --backend live".into(),
            ));
        }
        if s.profile.nat.turn != TurnTransport::None {
            return Err(Unsupported(
                "netns backend: TURN (coturn in the server namespace) is not built yet; use --backend live".into(),
            ));
        }
        if s.profile.nat.agent != NatType::None {
            return Err(Unsupported(
                "netns backend: a NAT in front of the agent (a fourth namespace) is not built yet".into(),
            ));
        }
        Ok(())
    }

    fn concurrency(&self) -> Concurrency {
        Concurrency::Calls(self.parallel)
    }

    fn run(&self, s: &Scenario<'_>) -> anyhow::Result<CallArtifacts> {
        let scratch = tempfile::Builder::new().prefix("jitterbug-netns-").tempdir()?;
        crate::netns::call::netns_call(s, scratch.path(), &self.cancel)?.into_artifacts()
    }

    fn keeps_evidence(&self) -> bool {
        true
    }
}
