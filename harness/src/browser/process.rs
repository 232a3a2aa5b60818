//! Helper processes (WebDriver servers, Xvfb, PulseAudio) that must not outlive the run.
//!
//! Each is started as the leader of its own process group, and stopped by signalling that
//! group: a driver's browser and the browser's own children are in the group, so a killed
//! chromedriver leaves no orphaned Chromium behind. Stopping happens in `Drop`, so it also
//! runs when the future driving the run is dropped or panics.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

/// How long a group gets to exit on SIGTERM (Xvfb removes its lock file, PulseAudio its
/// socket) before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// A running process group, stopped when dropped.
#[derive(Debug)]
pub struct ProcessGroup {
    name: &'static str,
    child: Child,
}

impl ProcessGroup {
    /// Spawns `command` as a new process group, stdin closed, stdout and stderr appended to
    /// `log` (read back for error messages).
    pub fn spawn(name: &'static str, mut command: Command, log: &Path) -> std::io::Result<ProcessGroup> {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        command.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out);
        Self::spawn_configured(name, command)
    }

    /// Spawns `command` as a new process group with its stdio as configured by the caller.
    pub fn spawn_configured(name: &'static str, mut command: Command) -> std::io::Result<ProcessGroup> {
        let child = command.process_group(0).spawn()?;
        Ok(ProcessGroup { name, child })
    }

    /// Whether the leader has exited. It is not reaped here (see [`ProcessGroup::stop`]).
    pub fn has_exited(&self) -> bool {
        !leader_running(self.child.id())
    }

    /// SIGTERM to the group, SIGKILL to whatever is left after [`GRACE`], then reap the leader.
    /// The leader stays unreaped (a zombie at worst) until the group is killed, so its PID,
    /// which is the group's id, cannot be reused by an unrelated process meanwhile.
    fn stop(&mut self) {
        let pgid = self.child.id();
        if signal_group(pgid, "TERM") {
            let until = Instant::now() + GRACE;
            while leader_running(pgid) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        signal_group(pgid, "KILL");
        // Signals the leader directly too, in case `kill` itself could not run.
        let _ = self.child.kill();
        if let Err(e) = self.child.wait() {
            eprintln!("jitterbug: reaping {} (pid {pgid}): {e}", self.name);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `kill -SIG -- -pgid` (std has no signal API); false when no process of the group is left.
fn signal_group(pgid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `pid` exists and is not a zombie.
fn leader_running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // pid (comm) state …; comm may contain spaces and parentheses.
    stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).is_some_and(|state| state != "Z")
}

/// The last `lines` lines of a helper's log, for error messages.
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| format!("(cannot read {}: {e})", log.display()));
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    if tail.trim().is_empty() { format!("(nothing in {})", log.display()) } else { tail }
}
