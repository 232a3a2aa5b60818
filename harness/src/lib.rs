//! The Jitterbug harness: catalogues, the virtual-time simulator, scenario runners and the
//! `jitterbug` CLI's commands.

#[cfg(feature = "full-stack")]
pub mod browser;
#[cfg(feature = "full-stack")]
pub mod call_cmd;
pub mod catalog;
pub mod clips;
pub mod compat;
pub mod embedded;
pub mod gate_cmd;
#[cfg(feature = "full-stack")]
pub mod live;
pub mod netns;
pub mod pcap;
pub mod profiles_cmd;
pub mod report;
pub mod run_cmd;
pub mod score_cmd;
pub mod sim;
pub mod sim_cmd;
pub mod wav;
