//! `--timeout` and `--interval`, the two flags of every waiting command (wait-stable, ecs-roll
//! deploy and rollback, rds-snapshot create and restore), flattened like the AWS flags so their
//! bounds are checked in one place: each a [`Bounded`] duration (1s to 7d, 100ms to 1h) and the
//! interval at most the timeout, so the wait polls at least once before its deadline.
//!
//! The defaults differ per command (a deployment waits 10 minutes, a restore an hour): each
//! command names them with a [`WaitDefaults`] type.
//!
//! ```ignore
//! #[derive(Debug, Clone, Copy)]
//! pub struct RestoreWait;
//! impl WaitDefaults for RestoreWait {
//!     const TIMEOUT: &'static str = "60m";
//!     const INTERVAL: &'static str = "10s";
//! }
//! #[command(flatten)]
//! pub wait: WaitArgs<RestoreWait>,
//! ```

use std::fmt::Debug;
use std::marker::PhantomData;
use std::time::Duration;

use clap::Args;

use crate::duration::{Bounded, DurationKind, Interval, Timeout, format_duration};
use crate::{Error, Result};

/// A waiting command's defaults for [`WaitArgs`].
pub trait WaitDefaults: Debug + Clone + Copy + Send + Sync + 'static {
    /// `--timeout`'s default, e.g. `10m`.
    const TIMEOUT: &'static str;
    /// `--interval`'s default, e.g. `5s`.
    const INTERVAL: &'static str;
}

/// An ECS deployment's wait (wait-stable, ecs-roll deploy and rollback): 10 minutes, polled
/// every 5 seconds.
#[derive(Debug, Clone, Copy)]
pub struct DeploymentWait;
impl WaitDefaults for DeploymentWait {
    const TIMEOUT: &'static str = "10m";
    const INTERVAL: &'static str = "5s";
}

/// `--timeout` and `--interval`.
#[derive(Debug, Clone, Copy, Args)]
pub struct WaitArgs<D: WaitDefaults> {
    /// Give up waiting after this long (exit 4), e.g. 90s, 10m, 1h (1s to 7d)
    #[arg(long, value_name = "DUR", default_value = D::TIMEOUT)]
    pub timeout: Timeout,
    /// Time between polls, e.g. 5s, 2s, 500ms; at most --timeout (100ms to 1h)
    #[arg(long, value_name = "DUR", default_value = D::INTERVAL)]
    pub interval: Interval,
    #[arg(skip)]
    defaults: PhantomData<D>,
}

impl<D: WaitDefaults> WaitArgs<D> {
    /// The two values, checked against each other (for code that builds them, e.g. tests).
    pub fn new(timeout: Timeout, interval: Interval) -> Result<Self> {
        let w = WaitArgs {
            timeout,
            interval,
            defaults: PhantomData,
        };
        w.validate()?;
        Ok(w)
    }

    /// The interval is at most the timeout: a usage error (exit 2) otherwise.
    pub fn validate(&self) -> Result<()> {
        check_interval(self.interval, self.timeout, "--timeout")
    }

    pub fn timeout(&self) -> Duration {
        self.timeout.get()
    }

    pub fn interval(&self) -> Duration {
        self.interval.get()
    }
}

/// `--interval` is at most `timeout` (the flag named `flag`), so the wait polls at least once.
pub fn check_interval<K: DurationKind>(
    interval: Interval,
    timeout: Bounded<K>,
    flag: &str,
) -> Result<()> {
    if interval > timeout {
        return Err(Error::usage(format!(
            "--interval {} is longer than {flag} {}",
            format_duration(interval),
            format_duration(timeout)
        ))
        .with_hint("poll at least once before the deadline, e.g. --timeout 10m --interval 5s"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Clone, Copy)]
    struct Quick;
    impl WaitDefaults for Quick {
        const TIMEOUT: &'static str = "2m";
        const INTERVAL: &'static str = "3s";
    }

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        wait: WaitArgs<Quick>,
    }

    fn parse(args: &[&str]) -> std::result::Result<WaitArgs<Quick>, String> {
        let cli = Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .map_err(|e| e.kind().to_string())?;
        cli.wait.validate().map_err(|e| e.message().to_string())?;
        Ok(cli.wait)
    }

    /// Defaults come from the command's `WaitDefaults`; the bounds and the interval ≤ timeout
    /// rule hold for every command alike.
    #[test]
    fn defaults_and_bounds() {
        let w = parse(&[]).unwrap();
        assert_eq!(
            (w.timeout(), w.interval()),
            (Duration::from_secs(120), Duration::from_secs(3))
        );
        let w = parse(&["--timeout", "1h", "--interval", "500ms"]).unwrap();
        assert_eq!(w.interval(), Duration::from_millis(500));
        assert_eq!(
            parse(&["--timeout", "5s", "--interval", "10s"]).unwrap_err(),
            "--interval 10.0s is longer than --timeout 5.0s"
        );
        assert!(parse(&["--timeout", "0s"]).is_err());
        assert!(parse(&["--interval", "50ms"]).is_err());
        assert!(parse(&["--timeout", "8d"]).is_err());
    }
}
