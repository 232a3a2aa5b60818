//! What can go wrong driving a browser call, naming the browser and the step.

use std::time::Duration;

use jitterbug_core::identity::Browser;

/// The steps of one run, for timeouts and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Starting the WebDriver server (and its Xvfb or PulseAudio) until its port answers.
    DriverStart,
    /// Creating the WebDriver session (launches the browser).
    Session,
    /// Loading the page.
    Goto,
    /// The page's call, until `window.__done`.
    PageRun,
    /// Ending the session.
    Quit,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::DriverStart => "starting the WebDriver server",
            Step::Session => "creating the WebDriver session",
            Step::Goto => "loading the page",
            Step::PageRun => "running the call in the page",
            Step::Quit => "ending the WebDriver session",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("{browser}: `{binary}` not found; {install}")]
    DriverMissing { browser: Browser, binary: &'static str, install: &'static str },
    #[error("{browser}: cannot start `{binary}`: {source}")]
    DriverSpawn {
        browser: Browser,
        binary: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{browser}: `{binary}` exited during start-up; its log ends:\n{log_tail}")]
    DriverExited { browser: Browser, binary: String, log_tail: String },
    #[error("{browser}: {helper} for the browser failed: {reason}")]
    Helper { browser: Browser, helper: &'static str, reason: String },
    #[error("{browser}: WebDriver session at {url} failed: {source}")]
    Session {
        browser: Browser,
        url: String,
        #[source]
        source: fantoccini::error::NewSessionError,
    },
    #[error("{browser}: WebDriver command failed while {step}: {source}")]
    Command {
        browser: Browser,
        step: Step,
        #[source]
        source: fantoccini::error::CmdError,
    },
    #[error("{browser}: the page reported an error: {message}")]
    Page { browser: Browser, message: String, stack: Option<String> },
    #[error("{browser}: the page finished without {missing}")]
    PageIncomplete { browser: Browser, missing: &'static str },
    #[error("{browser}: the page's capture is unusable: {reason}")]
    Capture { browser: Browser, reason: String },
    #[error("{browser}: timed out after {after:?} while {step}")]
    Timeout { browser: Browser, step: Step, after: Duration },
    #[error("{browser}: {reason}")]
    Unsupported { browser: Browser, reason: String },
    #[error("cannot serve the test page: {source}")]
    Server {
        #[source]
        source: std::io::Error,
    },
    #[error("cannot prepare the run's scratch files: {source}")]
    Scratch {
        #[source]
        source: std::io::Error,
    },
}
