//! A private X server for WebKitGTK: MiniBrowser cannot start without a display, and
//! WebKitWebDriver then hangs on the new-session request instead of failing.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::process::{ProcessGroup, log_tail};

const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `Xvfb`, stopped by PID when dropped (SIGTERM first, so it removes its lock file).
pub struct Xvfb {
    // Declared before the directory: the server stops before its log goes.
    _group: ProcessGroup,
    display: u32,
    _dir: tempfile::TempDir,
}

impl Xvfb {
    /// Starts Xvfb on a display it picks itself (`-displayfd`), so parallel runs never race
    /// for a display number.
    pub async fn start() -> Result<Xvfb, String> {
        let dir = tempfile::Builder::new().prefix("jitterbug-xvfb-").tempdir().map_err(|e| format!("scratch: {e}"))?;
        let log = dir.path().join("xvfb.log");
        let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let (mut reader, writer) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
        let mut command = Command::new("Xvfb");
        command
            .args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "1280x800x24"])
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(log_file);
        // Consumes `command` and with it our copy of the pipe's write end, so the read below
        // sees EOF if Xvfb exits.
        let group = ProcessGroup::spawn_configured("Xvfb", command).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "`Xvfb` not found (Debian package `xvfb`)".to_string(),
            _ => format!("cannot start Xvfb: {e}"),
        })?;
        // Xvfb writes "<display>\n" once it accepts clients; EOF means it exited.
        let read = tokio::task::spawn_blocking(move || {
            let mut text = String::new();
            let mut byte = [0u8; 1];
            while reader.read(&mut byte).is_ok_and(|n| n == 1) && byte[0] != b'\n' {
                text.push(char::from(byte[0]));
            }
            text
        });
        let text = match tokio::time::timeout(READY_TIMEOUT, read).await {
            Ok(Ok(text)) => text,
            Ok(Err(e)) => return Err(format!("reading Xvfb's display number: {e}")),
            // Dropping `group` kills Xvfb, which closes the pipe and ends the blocking read.
            Err(_) => return Err(format!("Xvfb did not report a display within {READY_TIMEOUT:?}")),
        };
        let display = text.trim().parse::<u32>().map_err(|_| {
            format!("Xvfb reported no display number ({text:?}); its log ends:\n{}", log_tail(&log, 15))
        })?;
        Ok(Xvfb { _group: group, display, _dir: dir })
    }

    /// The `DISPLAY` value for clients.
    pub fn display(&self) -> String {
        format!(":{}", self.display)
    }
}
