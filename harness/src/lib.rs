//! The Jitterbug harness: profile catalogue, scenario runners and the `jitterbug` CLI's commands.

pub mod catalog;
pub mod profiles_cmd;
pub mod run_cmd;
