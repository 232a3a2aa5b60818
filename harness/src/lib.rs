//! The Jitterbug harness. One way from scenario to result: a [`runner`] expands a matrix of
//! [`scenario`]s and hands each to a [`backend`] (the simulators, live calls on loopback, or
//! network namespaces); live backends drive a caller and an agent over one [`live::call`]
//! path; every result is [`score`]d the same way, its evidence written by [`artifacts`], the
//! results kept by [`store`], then [`gate`]d against blessed baselines and rendered by
//! [`report`].

pub mod artifacts;
pub mod backend;
pub mod browser;
pub mod calibration;
pub mod cancel;
pub mod catalog;
pub mod clips;
pub mod compat;
pub mod embedded;
pub mod evidence;
pub mod gate;
pub mod live;
pub mod netns;
pub mod pcap;
pub mod profile_check;
pub mod replay;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod score;
pub mod sim;
pub mod store;
pub mod wav;
pub mod whip_client;
