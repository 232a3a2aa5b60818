//! A browser call stopped by Ctrl-C (SIGINT) or a CI runner's SIGTERM leaves nothing running:
//! the driver, the browser, coturn and the helpers die with the harness.
#![cfg(feature = "browser")]

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Live processes (not zombies) and their parents.
fn processes() -> HashMap<u32, u32> {
    let mut out = HashMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // "pid (comm) state ppid …": comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        if let Some(ppid) = fields.get(1).and_then(|p| p.parse().ok()) {
            out.insert(pid, ppid);
        }
    }
    out
}

fn descendants(root: u32) -> HashSet<u32> {
    let all = processes();
    let mut found = HashSet::from([root]);
    loop {
        let before = found.len();
        for (pid, ppid) in &all {
            if found.contains(ppid) {
                found.insert(*pid);
            }
        }
        if found.len() == before {
            found.remove(&root);
            return found;
        }
    }
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_owned()
}

fn interrupted_call_cleans_up(signal: &str) {
    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jitterbug"))
        .args(["browser", "--browser", "chromium", "--profile", "nat-symmetric-turn", "--seconds", "20", "--out"])
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait until the browser runs (with coturn and the driver beside it).
    let started = Instant::now();
    let running = loop {
        let tree = descendants(pid);
        let names: HashSet<String> = tree.iter().map(|p| comm(*p)).collect();
        if ["chromium", "chromedriver", "turnserver"].iter().all(|n| names.contains(*n)) {
            break tree;
        }
        assert!(child.try_wait().unwrap().is_none(), "the call ended before it was interrupted");
        assert!(started.elapsed() < Duration::from_secs(60), "no browser after 60 s: {names:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let status = Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "jitterbug did not exit within 30 s of SIG{signal}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!exit.success(), "an interrupted call does not report success");
    // The guards kill by PID before exit; give the kernel a moment to reap what was killed.
    let started = Instant::now();
    loop {
        let alive = processes();
        let left: Vec<(u32, String)> =
            running.iter().filter(|p| alive.contains_key(p)).map(|p| (*p, comm(*p))).collect();
        if left.is_empty() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "left running after SIG{signal}: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigint_and_sigterm_stop_everything() {
    interrupted_call_cleans_up("INT");
    interrupted_call_cleans_up("TERM");
}
