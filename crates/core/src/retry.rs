//! Retrying transient failures with exponential backoff and full jitter, inside a deadline.
//! (AWS SDK calls use the SDK's own retry layer, configured in `aws`; this is for everything else,
//! such as registry HTTP calls.)

use std::future::Future;
use std::time::Duration;

use crate::poll::Deadline;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(5),
            max_attempts: 6,
        }
    }
}

impl Backoff {
    /// Delay before attempt `attempt + 1` (attempt counts from 1): full jitter over base·2ⁿ.
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        cap.mul_f64(fastrand::f64())
    }
}

/// Whether a failed attempt is worth another try.
pub trait Transient {
    fn is_transient(&self) -> bool;
}

/// Run `op` until it succeeds, fails permanently, runs out of attempts, or would sleep past the
/// deadline; the last error is returned.
pub async fn retry<T, E, F, Fut>(
    backoff: Backoff,
    deadline: Option<&Deadline>,
    mut op: F,
) -> Result<T, E>
where
    E: Transient,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match op(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) if !e.is_transient() || attempt >= backoff.max_attempts => return Err(e),
            Err(e) => {
                let delay = backoff.delay(attempt);
                if deadline.is_some_and(|d| d.remaining() <= delay) {
                    return Err(e);
                }
                tokio::time::sleep(delay).await;
            }
        }
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(bool);
    impl Transient for E {
        fn is_transient(&self) -> bool {
            self.0
        }
    }

    /// Transient errors are retried until success; permanent ones return at once.
    #[tokio::test(start_paused = true)]
    async fn retries_transient_only() {
        let mut calls = 0;
        let r: Result<u32, E> = retry(Backoff::default(), None, |n| {
            calls += 1;
            async move { if n < 3 { Err(E(true)) } else { Ok(n) } }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
        assert_eq!(calls, 3);
        let mut calls = 0;
        let r: Result<u32, E> = retry(Backoff::default(), None, |_| {
            calls += 1;
            async { Err(E(false)) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }

    /// Delays stay within base·2ⁿ and the cap.
    #[test]
    fn delay_is_capped() {
        let b = Backoff::default();
        for n in 1..20 {
            assert!(b.delay(n) <= b.max);
        }
    }
}
