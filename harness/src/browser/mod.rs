//! Browser calls: a real Chromium, Firefox or WebKitGTK runs the test page (`browser-tests/page`)
//! under WebDriver and calls the agent over WHIP, so the agent meets a browser's WebRTC stack
//! (its jitter buffer, Opus settings, ICE) rather than only the native client. The page sends
//! a clip, records what it sent and received on one audio clock, and reports getStats; this
//! module serves it, drives the browser and hands back audio and results for scoring.

mod capture;
mod config;
mod driver;
mod error;
mod process;
mod pulse;
mod server;
mod session;
mod xvfb;

pub use config::{CertTrust, IceServer, Source};
pub use driver::Browser;
pub use error::{BrowserError, Step};
pub use server::AgentSession;
pub use session::{CycleTimings, PageOutcome, PageRun, run_page};
