//! The browsers, their WebDriver servers and the capabilities that make WebRTC work headless on
//! loopback (see docs/browsers.md for why each flag and pref is there).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::wd::Capabilities;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

pub use jitterbug_core::identity::Browser;

use super::config::CertTrust;
use super::error::{BrowserError, Step};
use super::process::{ProcessGroup, log_tail};
use super::pulse::PulseAudio;
use super::xvfb::Xvfb;

/// How long a driver may take to open its port.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

fn driver_binary(browser: Browser) -> &'static str {
    match browser {
        Browser::Chromium => "chromedriver",
        Browser::Firefox => "geckodriver",
        Browser::Webkit => "WebKitWebDriver",
        Browser::Safari => "safaridriver",
    }
}

fn driver_install(browser: Browser) -> &'static str {
    match browser {
        Browser::Chromium => "install Debian packages `chromium` and `chromium-driver` (scripts/deps.sh)",
        Browser::Firefox => "run `cargo install geckodriver` (and install Debian package `firefox-esr`)",
        Browser::Webkit => "install Debian packages `webkit2gtk-driver`, `libwebkit2gtk-4.1-0` and `xvfb`",
        Browser::Safari => {
            "safaridriver ships only with macOS: on the Mac run `safaridriver --enable` once, then \
             `safaridriver -p 4444`, and pass `--webdriver http://127.0.0.1:4444` (browser-tests/README.md)"
        }
    }
}

/// A WebDriver server: one this run started (with what its browser needs), or one at a URL.
pub struct Driver {
    browser: Browser,
    url: String,
    // Field order is drop order: the driver and its browser go before their sound server,
    // display and scratch directory.
    _process: Option<ProcessGroup>,
    _pulse: Option<PulseAudio>,
    _xvfb: Option<Xvfb>,
    _dir: Option<tempfile::TempDir>,
}

impl Driver {
    /// A driver somebody else runs (`--webdriver URL`). For Firefox its environment needs
    /// `PULSE_SERVER`; for WebKit, `DISPLAY`.
    pub fn external(browser: Browser, url: &str) -> Driver {
        Driver {
            browser,
            url: url.trim_end_matches('/').to_string(),
            _process: None,
            _pulse: None,
            _xvfb: None,
            _dir: None,
        }
    }

    /// Starts the browser's driver on a free loopback port (with a private PulseAudio for
    /// Firefox, a private Xvfb for WebKit) and waits until the port answers.
    pub async fn start(browser: Browser) -> Result<Driver, BrowserError> {
        let helper = |helper: &'static str| move |reason: String| BrowserError::Helper { browser, helper, reason };
        if browser == Browser::Safari {
            return Err(BrowserError::DriverMissing {
                browser,
                binary: driver_binary(browser),
                install: driver_install(browser),
            });
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("jitterbug-{browser}-driver-"))
            .tempdir()
            .map_err(|source| BrowserError::Scratch { source })?;
        // The browser's temporary files (Firefox's profile, Chromium's scratch) land in here.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).map_err(|source| BrowserError::Scratch { source })?;
        let port = free_port().map_err(|source| BrowserError::Scratch { source })?;
        let binary = driver_binary(browser);
        let mut command = Command::new(find_binary(binary).unwrap_or_else(|| PathBuf::from(binary)));
        command.env("TMPDIR", &tmp);
        let (mut pulse, mut xvfb) = (None, None);
        match browser {
            Browser::Chromium => {
                command.arg(format!("--port={port}"));
            }
            Browser::Firefox => {
                let server = PulseAudio::start().await.map_err(helper("PulseAudio"))?;
                command.args(["--port", &port.to_string(), "--host", "127.0.0.1"]).env("PULSE_SERVER", server.server());
                pulse = Some(server);
            }
            Browser::Webkit => {
                let display = Xvfb::start().await.map_err(helper("Xvfb"))?;
                command.arg(format!("--port={port}")).env("DISPLAY", display.display());
                xvfb = Some(display);
            }
            Browser::Safari => unreachable!("returned above: no local safaridriver"),
        }
        let log = dir.path().join("driver.log");
        let process = ProcessGroup::spawn(binary, command, &log).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => {
                BrowserError::DriverMissing { browser, binary, install: driver_install(browser) }
            }
            _ => BrowserError::DriverSpawn { browser, binary: binary.to_string(), source },
        })?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let started = Instant::now();
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if process.has_exited() {
                return Err(BrowserError::DriverExited {
                    browser,
                    binary: binary.to_string(),
                    log_tail: log_tail(&log, 20),
                });
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(BrowserError::Timeout { browser, step: Step::DriverStart, after: READY_TIMEOUT });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(Driver {
            browser,
            url: format!("http://{addr}"),
            _process: Some(process),
            _pulse: pulse,
            _xvfb: xvfb,
            _dir: Some(dir),
        })
    }

    /// A new WebDriver session (launches the browser), given at most `timeout`: WebKitWebDriver
    /// can hang on this request instead of failing.
    pub async fn session(&self, caps: Capabilities, timeout: Duration) -> Result<fantoccini::Client, BrowserError> {
        let browser = self.browser;
        let mut builder = fantoccini::ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps);
        match tokio::time::timeout(timeout, builder.connect(&self.url)).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(source)) => Err(BrowserError::Session { browser, url: self.url.clone(), source }),
            Err(_) => Err(BrowserError::Timeout { browser, step: Step::Session, after: timeout }),
        }
    }
}

/// The session's capabilities. `profile` is a fresh directory for the browser's profile;
/// `fake_capture` a WAV that Chromium plays once as its microphone; `trust` a certificate the
/// browser must accept (Chromium pins its key, Firefox gets the CA in its profile).
pub fn capabilities(
    browser: Browser,
    profile: &Path,
    fake_capture: Option<&Path>,
    trust: Option<&CertTrust>,
) -> Result<Capabilities, BrowserError> {
    let (name, key, options) = match browser {
        Browser::Chromium => {
            let mut args: Vec<String> = [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--autoplay-policy=no-user-gesture-required",
                // Counts as a media permission grant: without it ICE gathers no candidates.
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                "--allow-loopback-in-peer-connection",
            ]
            .map(String::from)
            .to_vec();
            args.push(format!("--user-data-dir={}", profile.display()));
            if let Some(wav) = fake_capture {
                args.push(format!("--use-file-for-fake-audio-capture={}%noloop", wav.display()));
            }
            if let Some(trust) = trust {
                // Honoured only with --user-data-dir; covers the TURN client's TLS sockets too.
                args.push(format!("--ignore-certificate-errors-spki-list={}", trust.spki_sha256_b64));
            }
            let mut options = json!({ "args": args });
            if let Some(binary) = find_binary("chromium") {
                options["binary"] = json!(binary);
            }
            ("chrome", "goog:chromeOptions", options)
        }
        Browser::Firefox => {
            let prefs = json!({
                "media.peerconnection.ice.loopback": true,
                // Without a microphone grant Firefox gathers no candidates at all.
                "permissions.default.microphone": 1,
                "media.navigator.permission.disabled": true,
                "media.autoplay.default": 0,
                "media.autoplay.block-webaudio": false,
                "media.peerconnection.ice.obfuscate_host_addresses": false,
            });
            let mut args = vec!["-headless".to_string()];
            if let Some(trust) = trust {
                import_ca(browser, profile, &trust.ca_pem)?;
                args.extend(["-profile".to_string(), profile.display().to_string()]);
            }
            let mut options = json!({ "args": args, "prefs": prefs });
            if let Some(binary) = find_binary("firefox-esr").or_else(|| find_binary("firefox")) {
                options["binary"] = json!(binary);
            }
            ("firefox", "moz:firefoxOptions", options)
        }
        Browser::Webkit => {
            let binary = minibrowser().ok_or(BrowserError::DriverMissing {
                browser,
                binary: "MiniBrowser",
                install: "install Debian package `libwebkit2gtk-4.1-0` (it ships MiniBrowser)",
            })?;
            let args = [
                "--automation",
                "--enable-webrtc=true",
                "--enable-media-stream=true",
                "--enable-mock-capture-devices=true",
                "--autoplay-policy=allow",
            ];
            ("MiniBrowser", "webkitgtk:browserOptions", json!({ "binary": binary, "args": args }))
        }
        Browser::Safari => {
            if trust.is_some() {
                return Err(BrowserError::Unsupported {
                    browser,
                    reason: "Safari trusts certificates only through the macOS keychain; the harness cannot \
                             add its throwaway TURN/TLS CA there"
                        .into(),
                });
            }
            // Mock capture devices are a Safari setting on the Mac (`defaults write com.apple.Safari
            // WebKitMockCaptureDevicesEnabled 1`); the page injects its clip through Web Audio anyway.
            let webrtc = json!({ "DisableInsecureMediaCapture": true, "DisableICECandidateFiltering": true });
            let mut caps = Capabilities::new();
            caps.insert("browserName".into(), Value::from("safari"));
            caps.insert("safari:automaticInspection".into(), Value::from(false));
            caps.insert("safari:automaticProfiling".into(), Value::from(false));
            caps.insert("webkit:WebRTC".into(), webrtc);
            return Ok(caps);
        }
    };
    let mut caps = Capabilities::new();
    caps.insert("browserName".into(), Value::from(name));
    caps.insert(key.into(), options);
    Ok(caps)
}

/// Makes `profile` a Firefox profile whose certificate database trusts `ca_pem` for servers
/// (NSS `certutil`, Debian `libnss3-tools`).
fn import_ca(browser: Browser, profile: &Path, ca_pem: &str) -> Result<(), BrowserError> {
    let helper = |reason: String| BrowserError::Helper { browser, helper: "certutil", reason };
    let ca = profile.join("jitterbug-ca.pem");
    std::fs::write(&ca, ca_pem).map_err(|source| BrowserError::Scratch { source })?;
    let db = format!("sql:{}", profile.display());
    let certutil = find_binary("certutil")
        .ok_or_else(|| helper("not found; install Debian package `libnss3-tools` (scripts/deps.sh)".into()))?;
    let run = |args: &[&str]| -> Result<(), BrowserError> {
        let out = Command::new(&certutil).args(args).output().map_err(|e| helper(format!("{e}")))?;
        if !out.status.success() {
            return Err(helper(format!(
                "`certutil {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    };
    run(&["-N", "-d", &db, "--empty-password"])?;
    run(&["-A", "-d", &db, "-n", "jitterbug-test-ca", "-t", "C,,", "-i", &ca.display().to_string()])
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound and released).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// `name` on `PATH`, or in `~/.cargo/bin` (where `cargo install geckodriver` puts it).
fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cargo_bin = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin"));
    std::env::split_paths(&path).chain(cargo_bin).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// MiniBrowser lives in the multiarch library directory, e.g. `/usr/lib/x86_64-linux-gnu/`.
fn minibrowser() -> Option<PathBuf> {
    let entries = std::fs::read_dir("/usr/lib").ok()?;
    entries
        .flatten()
        .map(|e| e.path().join("webkit2gtk-4.1/MiniBrowser"))
        .chain([
            PathBuf::from("/usr/lib/webkit2gtk-4.1/MiniBrowser"),
            PathBuf::from("/usr/libexec/webkit2gtk-4.1/MiniBrowser"),
        ])
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust() -> CertTrust {
        CertTrust { ca_pem: "-----BEGIN CERTIFICATE-----".into(), spki_sha256_b64: "pin=".into() }
    }

    #[test]
    fn chromium_pins_the_trusted_key() {
        let dir = tempfile::tempdir().unwrap();
        let caps = capabilities(Browser::Chromium, dir.path(), None, Some(&trust())).unwrap();
        let args = caps["goog:chromeOptions"]["args"].as_array().unwrap();
        assert!(args.iter().any(|a| a == "--ignore-certificate-errors-spki-list=pin="), "{args:?}");
        let plain = capabilities(Browser::Chromium, dir.path(), None, None).unwrap();
        let args = plain["goog:chromeOptions"]["args"].as_array().unwrap();
        assert!(!args.iter().any(|a| a.as_str().unwrap().contains("spki")), "no pin without trust");
    }

    #[test]
    fn firefox_profile_trusts_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let pki = jitterbug_agent::tls::test_pki(std::net::IpAddr::from([127, 0, 0, 1])).unwrap();
        let trust = CertTrust { ca_pem: pki.ca_pem, spki_sha256_b64: String::new() };
        let caps = capabilities(Browser::Firefox, dir.path(), None, Some(&trust)).unwrap();
        let args = caps["moz:firefoxOptions"]["args"].as_array().unwrap();
        assert_eq!(args[1..], [json!("-profile"), json!(dir.path().display().to_string())]);
        let db = format!("sql:{}", dir.path().display());
        let listed = Command::new("certutil").args(["-L", "-d", &db]).output().expect("certutil (libnss3-tools)");
        let listed = String::from_utf8_lossy(&listed.stdout);
        assert!(listed.lines().any(|l| l.starts_with("jitterbug-test-ca") && l.contains("C,,")), "{listed}");
    }

    #[test]
    fn safari_asks_for_webrtc_without_candidate_filtering() {
        let dir = tempfile::tempdir().unwrap();
        let caps = capabilities(Browser::Safari, dir.path(), None, None).unwrap();
        assert_eq!(caps["browserName"], "safari");
        assert_eq!(caps["webkit:WebRTC"]["DisableICECandidateFiltering"], true);
        assert_eq!(caps["webkit:WebRTC"]["DisableInsecureMediaCapture"], true);
        let err = capabilities(Browser::Safari, dir.path(), None, Some(&trust())).unwrap_err();
        assert!(matches!(err, BrowserError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("keychain"), "{err}");
    }

    #[tokio::test]
    async fn safari_has_no_local_driver_and_says_how_to_reach_one() {
        let err = Driver::start(Browser::Safari).await.err().expect("no local safaridriver");
        let text = err.to_string();
        assert!(text.contains("--webdriver") && text.contains("safaridriver --enable"), "{text}");
    }
}
