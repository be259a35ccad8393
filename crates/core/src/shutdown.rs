//! Waiting to be asked to stop: the first SIGTERM (what ECS, a runner cancelling a job, or
//! `scripts/standins stop` sends) or SIGINT (ctrl-c). The long-running binaries (the ECS
//! emulator, demo-api) serve until then and shut down cleanly.

/// Resolves at the first SIGTERM or SIGINT; where the signals cannot be watched (or off Unix),
/// at ctrl-c.
pub async fn requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
