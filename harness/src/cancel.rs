//! Stopping a run from outside (Ctrl-C, CI's SIGTERM): a token every backend watches. Live
//! work selected against it is dropped when it fires, and dropping stops every process,
//! socket and namespace the work started.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

/// Cancelled once, for good; clones watch the same token.
#[derive(Debug, Clone)]
pub struct Cancel(Arc<watch::Sender<bool>>);

impl Default for Cancel {
    fn default() -> Self {
        Cancel(Arc::new(watch::Sender::new(false)))
    }
}

/// What work returns when it was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted: everything the run had started was stopped")]
pub struct Interrupted;

impl Cancel {
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    pub async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Runs `work` until it ends or the token fires; then the work is dropped and the result
    /// is [`Interrupted`].
    pub async fn run<T>(&self, work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
        tokio::select! {
            r = work => r,
            () = self.cancelled() => Err(Interrupted.into()),
        }
    }
}

/// Whether `e` says the run was cancelled.
pub fn is_interrupted(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Interrupted>().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelling_drops_the_work_and_says_so() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let cancel = Cancel::default();
        let c = cancel.clone();
        let r: anyhow::Result<()> = rt.block_on(async move {
            tokio::spawn(async move { c.cancel() });
            cancel.run(std::future::pending()).await
        });
        assert!(is_interrupted(&r.unwrap_err()));
    }
}
