//! Waiting until an exact deadline. One helper for every waiting tool: it polls at a short fixed
//! interval with ±10 % jitter (never growing), and races every attempt against the deadline, so
//! a slow or hung call cannot carry a wait past its `--timeout`.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// A point in time a wait must end by.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    start: Instant,
    at: Instant,
}

impl Deadline {
    pub fn after(timeout: Duration) -> Self {
        let start = Instant::now();
        Deadline {
            start,
            at: start + timeout,
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

/// `interval` ±10 %, never past the deadline.
pub fn jittered(interval: Duration, deadline: &Deadline) -> Duration {
    let factor = 0.9 + fastrand::f64() * 0.2;
    interval.mul_f64(factor).min(deadline.remaining())
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
        match deadline.run(attempt(n)).await {
            None => return Err(PollError::TimedOut),
            Some(Err(e)) => return Err(PollError::Failed(e)),
            Some(Ok(Poll::Ready(v))) => return Ok(v),
            Some(Ok(Poll::Pending)) => {}
        }
        if deadline.expired() {
            return Err(PollError::TimedOut);
        }
        tokio::time::sleep(jittered(interval, deadline)).await;
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
        // two sleeps of 5 s ±10 %
        assert!(d.elapsed() >= Duration::from_secs(9) && d.elapsed() <= Duration::from_secs(11));
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
        assert!((10..=12).contains(&count), "{count} attempts");
    }
}
