//! Waiting for a snapshot or a restored database to become available: the shared poll loop
//! (fixed interval with jitter, exact deadline), live status and progress percentage, and the
//! RDS waiters' failure states reported the moment they are seen.

use std::sync::Mutex;
use std::time::Duration;

use dk_core::poll::{Deadline, Poll, PollError, poll_until};
use dk_core::{Error, Result, Ui};

use crate::rds_api::{Kind, Rds, Snapshot};

/// How a wait ended.
pub enum Waited<T> {
    Ready(T),
    /// A terminal failure state, with the last thing seen.
    Failed(T),
    /// The deadline passed; the last thing seen, if anything was.
    TimedOut(Option<T>),
}

pub async fn snapshot_available(
    rds: &Rds<'_>,
    ui: &Ui,
    id: &str,
    kind: Kind,
    deadline: &Deadline,
    interval: Duration,
) -> Result<Waited<Snapshot>> {
    // The last state seen, reported if the deadline passes.
    let last: Mutex<Option<Snapshot>> = Mutex::new(None);
    let result = poll_until(deadline, interval, |_| {
        let last = &last;
        async move {
            let s = rds.snapshot(id, Some(kind)).await?.ok_or_else(|| {
                Error::failed(format!("snapshot {id} disappeared while waiting for it"))
            })?;
            let progress = s
                .percent_progress
                .map(|p| format!(" {p}%"))
                .unwrap_or_default();
            ui.status(&format!(
                "snapshot {id}: {}{progress} ({} elapsed)",
                s.status,
                dk_core::duration::format_duration(deadline.elapsed())
            ));
            let verdict = if s.is_available() {
                Poll::Ready(Waited::Ready(s.clone()))
            } else if s.has_failed() {
                Poll::Ready(Waited::Failed(s.clone()))
            } else {
                Poll::Pending
            };
            *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
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

/// A restored instance or cluster: its status and, once available, its endpoint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DbState {
    pub id: String,
    pub status: String,
    pub endpoint: Option<String>,
    pub port: Option<i32>,
}

pub async fn database_available(
    rds: &Rds<'_>,
    ui: &Ui,
    id: &str,
    kind: Kind,
    deadline: &Deadline,
    interval: Duration,
) -> Result<Waited<DbState>> {
    // The last state seen, reported if the deadline passes.
    let last: Mutex<Option<DbState>> = Mutex::new(None);
    let result = poll_until(deadline, interval, |_| {
        let last = &last;
        async move {
            let state = crate::restore::describe_db_state(rds, id, kind).await?;
            ui.status(&format!(
                "{} {id}: {} ({} elapsed)",
                kind.as_str(),
                state.status,
                dk_core::duration::format_duration(deadline.elapsed())
            ));
            let verdict = match state.status.as_str() {
                "available" => Poll::Ready(Waited::Ready(state.clone())),
                "failed"
                | "incompatible-restore"
                | "incompatible-parameters"
                | "inaccessible-encryption-credentials"
                | "deleting" => Poll::Ready(Waited::Failed(state.clone())),
                _ => Poll::Pending,
            };
            *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(state);
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
