//! Waiting until an exact deadline. One helper for every waiting tool: it polls at a fixed rate —
//! each attempt starts at most one interval after the previous one started, whatever the call
//! took — with jitter that only ever shortens a gap (0.82–1.0 × the interval, never growing), and
//! races every attempt against the deadline, so a slow or hung call cannot carry a wait past its
//! `--timeout`. A waiter therefore notices a change within one interval of it happening.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// A point in time a wait must end by.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    start: Instant,
    at: Instant,
}

/// Instant plus duration without a panic: a sum past what the clock can hold is clamped to
/// [`crate::duration::ABSOLUTE_MAX`] from `from` (itself far inside it), else to `from`.
pub fn add_clamped(from: Instant, d: Duration) -> Instant {
    from.checked_add(d)
        .or_else(|| from.checked_add(crate::duration::ABSOLUTE_MAX))
        .unwrap_or(from)
}

impl Deadline {
    /// A deadline `timeout` from now (a `duration::Timeout` converts). Checked arithmetic: no
    /// value, however large, can panic here; flags are bounded long before (`duration`).
    pub fn after(timeout: impl Into<Duration>) -> Self {
        let start = Instant::now();
        Deadline {
            start,
            at: add_clamped(start, timeout.into()),
        }
    }
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
    pub fn expired(&self) -> bool {
        Instant::now() >= self.at
    }
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
    pub fn instant(&self) -> Instant {
        self.at
    }
    /// Run `fut`, or give up when the deadline passes.
    pub async fn run<F: Future>(&self, fut: F) -> Option<F::Output> {
        tokio::time::timeout_at(self.at, fut).await.ok()
    }
}

/// What one attempt found.
pub enum Poll<T> {
    Ready(T),
    Pending,
}

#[derive(Debug)]
pub enum PollError<E> {
    /// The deadline passed before the condition held.
    TimedOut,
    /// An attempt failed in a way retrying will not fix.
    Failed(E),
}

/// The gap between the starts of two polls: 0.82–1.0 × `interval`. Jitter spreads many waiters'
/// calls apart but only ever shortens the gap, so no poll comes later than one interval.
pub fn next_gap(interval: Duration) -> Duration {
    Duration::try_from_secs_f64(interval.as_secs_f64() * (0.82 + fastrand::f64() * 0.18))
        .unwrap_or(interval)
}

/// `interval` with jitter ([`next_gap`]), never past the deadline.
pub fn jittered(interval: Duration, deadline: &Deadline) -> Duration {
    next_gap(interval).min(deadline.remaining())
}

/// Call `attempt` until it is ready, it fails, or the deadline passes. The first attempt runs at
/// once; the attempt number (from 1) is passed in.
pub async fn poll_until<T, E, F, Fut>(
    deadline: &Deadline,
    interval: Duration,
    mut attempt: F,
) -> Result<T, PollError<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    let mut n = 0u32;
    loop {
        n += 1;
        let next_start = add_clamped(Instant::now(), next_gap(interval));
        match deadline.run(attempt(n)).await {
            None => return Err(PollError::TimedOut),
            Some(Err(e)) => return Err(PollError::Failed(e)),
            Some(Ok(Poll::Ready(v))) => return Ok(v),
            Some(Ok(Poll::Pending)) => {}
        }
        if deadline.expired() {
            return Err(PollError::TimedOut);
        }
        tokio::time::sleep_until(next_start.min(deadline.at)).await;
        if deadline.expired() {
            return Err(PollError::TimedOut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns the value as soon as an attempt is ready.
    #[tokio::test(start_paused = true)]
    async fn ready_after_three_attempts() {
        let d = Deadline::after(Duration::from_secs(60));
        let r: Result<u32, PollError<()>> =
            poll_until(&d, Duration::from_secs(5), |n| async move {
                Ok(if n == 3 {
                    Poll::Ready(n)
                } else {
                    Poll::Pending
                })
            })
            .await;
        assert_eq!(r.unwrap(), 3);
        // two gaps of 0.82–1.0 × 5 s: never later than one interval each
        assert!(
            d.elapsed() >= Duration::from_millis(8200) && d.elapsed() <= Duration::from_secs(10)
        );
    }

    /// The deadline fires when it says, even if an attempt hangs.
    #[tokio::test(start_paused = true)]
    async fn deadline_cuts_a_hung_attempt() {
        let d = Deadline::after(Duration::from_secs(7));
        let r: Result<(), PollError<()>> = poll_until(&d, Duration::from_secs(5), |n| async move {
            if n == 2 {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Ok(Poll::Pending)
        })
        .await;
        assert!(matches!(r, Err(PollError::TimedOut)));
        assert_eq!(d.elapsed(), Duration::from_secs(7));
    }

    /// Regression (issue 10): a deadline far past what the clock holds was `start + timeout`, a
    /// panic; it is clamped now, and so is a poll gap.
    #[tokio::test(start_paused = true)]
    async fn huge_durations_do_not_panic() {
        let d = Deadline::after(Duration::MAX);
        assert!(!d.expired());
        assert!(d.remaining() >= crate::duration::ABSOLUTE_MAX - Duration::from_secs(1));
        assert!(next_gap(Duration::MAX) <= Duration::MAX);
        let r: Result<(), PollError<()>> = poll_until(
            &Deadline::after(Duration::from_secs(1)),
            Duration::MAX,
            |_| async { Ok(Poll::Pending) },
        )
        .await;
        assert!(matches!(r, Err(PollError::TimedOut)));
    }

    /// The interval never grows: 10 attempts in 10 intervals.
    #[tokio::test(start_paused = true)]
    async fn interval_does_not_grow() {
        let d = Deadline::after(Duration::from_secs(20));
        let mut count = 0;
        let _ = poll_until::<(), (), _, _>(&d, Duration::from_secs(2), |_| {
            count += 1;
            async { Ok(Poll::Pending) }
        })
        .await;
        assert!((10..=13).contains(&count), "{count} attempts");
    }

    /// Fixed rate: a slow attempt does not push the next one later than one interval after the
    /// previous start.
    #[tokio::test(start_paused = true)]
    async fn slow_attempts_keep_the_rate() {
        let d = Deadline::after(Duration::from_secs(60));
        let starts = std::sync::Mutex::new(Vec::new());
        let _: Result<(), PollError<()>> = poll_until(&d, Duration::from_secs(5), |n| {
            starts.lock().unwrap().push(d.elapsed());
            async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Ok(if n == 4 {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                })
            }
        })
        .await;
        let starts = starts.into_inner().unwrap();
        for w in starts.windows(2) {
            assert!(w[1] - w[0] <= Duration::from_secs(5), "{starts:?}");
        }
    }
}
