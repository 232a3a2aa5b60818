//! Ctrl-C and SIGTERM (what CI runners send on cancel or timeout) cancel the run: live work is
//! dropped, which stops every process, socket and namespace it started.

use jitterbug::cancel::Cancel;
use tokio::signal::unix::{SignalKind, signal};

/// A token that fires on the first SIGINT or SIGTERM from now on.
pub fn watch() -> anyhow::Result<Cancel> {
    let cancel = Cancel::default();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Both handlers are in place before any work starts, so no signal meets the default one.
    let (mut int, mut term) =
        rt.block_on(async { anyhow::Ok((signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?)) })?;
    let fire = cancel.clone();
    std::thread::spawn(move || {
        let signal = rt.block_on(async {
            tokio::select! {
                _ = int.recv() => "interrupted (Ctrl-C)",
                _ = term.recv() => "terminated (SIGTERM)",
            }
        });
        eprintln!("jitterbug: {signal}: stopping");
        fire.cancel();
    });
    Ok(cancel)
}
