//! Waiting for a snapshot or a restored database to become available (it only reads, through
//! `rds_api`; nothing here knows about restores): the shared poll loop
//! (fixed interval with jitter, exact deadline), live status and progress percentage, and the
//! RDS waiters' failure states reported the moment they are seen.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use dk_core::poll::{Deadline, Poll, PollError, poll_until};
use dk_core::{Error, Result, Ui};

use crate::rds_api::{DbState, Kind, Rds, Snapshot};

/// How a wait ended.
pub enum Waited<T> {
    Ready(T),
    /// A terminal failure state, with the last thing seen.
    Failed(T),
    /// The deadline passed; the last thing seen, if anything was.
    TimedOut(Option<T>),
}

/// What one look at the resource says.
enum State {
    Ready,
    Failed,
    Pending,
}

/// One wait, or several under one deadline: what to read through, where progress goes, the
/// deadline and the time between looks.
pub struct Waiter<'a> {
    pub rds: &'a Rds<'a>,
    pub ui: &'a Ui,
    pub deadline: Deadline,
    pub interval: Duration,
}

impl Waiter<'_> {
    pub async fn snapshot_available(&self, id: &str, kind: Kind) -> Result<Waited<Snapshot>> {
        let rds = self.rds;
        self.wait_for(
            || async {
                rds.snapshot(id, Some(kind)).await?.ok_or_else(|| {
                    Error::failed(format!("snapshot {id} disappeared while waiting for it"))
                })
            },
            |s: &Snapshot| {
                let progress = s
                    .percent_progress
                    .map(|p| format!(" {p}%"))
                    .unwrap_or_default();
                format!("snapshot {id}: {}{progress}", s.status)
            },
            |s| {
                if s.is_available() {
                    State::Ready
                } else if s.has_failed() {
                    State::Failed
                } else {
                    State::Pending
                }
            },
        )
        .await
    }

    pub async fn database_available(&self, id: &str, kind: Kind) -> Result<Waited<DbState>> {
        self.wait_for(
            || self.rds.db_state(id, kind),
            |s: &DbState| format!("{} {id}: {}", kind.as_str(), s.status),
            |s| match s.status.as_str() {
                "available" => State::Ready,
                "failed"
                | "incompatible-restore"
                | "incompatible-parameters"
                | "inaccessible-encryption-credentials"
                | "deleting" => State::Failed,
                _ => State::Pending,
            },
        )
        .await
    }

    /// Poll `describe` until `classify` says ready or failed, or the deadline passes; `line` is
    /// the live status shown while waiting.
    async fn wait_for<T, F, Fut>(
        &self,
        describe: F,
        line: impl Fn(&T) -> String,
        classify: impl Fn(&T) -> State,
    ) -> Result<Waited<T>>
    where
        T: Clone,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let (ui, deadline, interval) = (self.ui, &self.deadline, self.interval);
        // The last state seen, reported if the deadline passes.
        let last: Mutex<Option<T>> = Mutex::new(None);
        let result = poll_until(deadline, interval, |_| {
            let (last, describe, line, classify) = (&last, &describe, &line, &classify);
            async move {
                let seen = describe().await?;
                ui.status(&format!(
                    "{} ({} elapsed)",
                    line(&seen),
                    dk_core::duration::format_duration(deadline.elapsed())
                ));
                let verdict = match classify(&seen) {
                    State::Ready => Poll::Ready(Waited::Ready(seen.clone())),
                    State::Failed => Poll::Ready(Waited::Failed(seen.clone())),
                    State::Pending => Poll::Pending,
                };
                *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(seen);
                Ok::<_, Error>(verdict)
            }
        })
        .await;
        ui.clear_status();
        match result {
            Ok(w) => Ok(w),
            Err(PollError::TimedOut) => Ok(Waited::TimedOut(
                last.into_inner().unwrap_or_else(|p| p.into_inner()),
            )),
            Err(PollError::Failed(e)) => Err(e),
        }
    }
}
