//! A private PulseAudio for Firefox. Without a sound server Firefox's `AudioContext` stays
//! `suspended` forever; its mock audio backend runs slower than real time, which would skew
//! every delay measured in the page. Two null sinks stand in for a microphone and speakers.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::process::{ProcessGroup, log_tail};

const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A running PulseAudio daemon in its own scratch directory; stopped by PID when dropped.
pub struct PulseAudio {
    // Declared before the directory: the daemon stops before its runtime directory goes.
    _group: ProcessGroup,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl PulseAudio {
    /// Starts the daemon and waits until its socket accepts connections.
    pub async fn start() -> Result<PulseAudio, String> {
        let dir = tempfile::Builder::new().prefix("jitterbug-pulse-").tempdir().map_err(|e| format!("scratch: {e}"))?;
        let runtime = dir.path().join("runtime");
        std::fs::create_dir(&runtime).map_err(|e| format!("{}: {e}", runtime.display()))?;
        let socket = runtime.join("native");
        let log = dir.path().join("pulseaudio.log");
        let mut command = Command::new("pulseaudio");
        command
            .args(["-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "--use-pid-file=no"])
            .args(["--log-target=stderr", "-L"])
            .arg(format!("module-native-protocol-unix auth-anonymous=1 socket={}", socket.display()))
            .args([
                "-L",
                "module-null-sink sink_name=vmic rate=48000 channels=1 sink_properties=device.description=VirtualMic",
            ])
            .args([
                "-L",
                "module-null-sink sink_name=spk rate=48000 channels=2 sink_properties=device.description=Speakers",
            ])
            .args(["-L", "module-always-sink"])
            // Keeps the daemon's state and cookie out of the real home and runtime directories.
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("PULSE_RUNTIME_PATH", &runtime);
        let group = ProcessGroup::spawn("pulseaudio", command, &log).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "`pulseaudio` not found (Debian package `pulseaudio`)".to_string(),
            _ => format!("cannot start pulseaudio: {e}"),
        })?;
        let started = Instant::now();
        while UnixStream::connect(&socket).is_err() {
            if group.has_exited() {
                return Err(format!("pulseaudio exited at start-up; its log ends:\n{}", log_tail(&log, 15)));
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(format!("pulseaudio's socket {} did not open within {READY_TIMEOUT:?}", socket.display()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(PulseAudio { _group: group, socket, _dir: dir })
    }

    /// The `PULSE_SERVER` value that points clients at this daemon.
    pub fn server(&self) -> String {
        format!("unix:{}", self.socket.display())
    }
}
