//! The shared core of deploy-kit. Everything two tools need lives here, once:
//!
//! - [`context`]: the process environment, TTY and CI detection, captured once and testable
//!   from a literal map; [`env_vars`] names every variable we read.
//! - [`error`] and [`exit`]: typed errors whose kind decides the exit code.
//! - [`outcome`]: what a tool returns; [`report`] writes it to stdout (`--output json`),
//!   `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY`. [`gha`] holds the workflow-command syntax.
//! - [`ui`]: progress on stderr (a spinner on a terminal, timestamped lines in CI logs).
//! - [`untrusted`]: the one neutraliser for third-party text (registry bodies, ECS events, stop
//!   reasons): control characters, bidi and ANSI made visible, `##[` and a leading `::` broken,
//!   length capped. `Ui` applies it to every line it prints and `report` to summaries and stdout,
//!   so only core's own [`gha::Command`]s can ever reach the runner as workflow commands.
//! - [`poll`] and [`retry`]: waiting until an exact deadline, and retrying with jittered backoff.
//! - [`wait`]: `--timeout`/`--interval` of every waiting command ([`wait::WaitArgs`]), one set
//!   of bounds.
//! - [`secret`]: `Secret<T>`, which never prints its value.
//! - [`shutdown`]: waiting for SIGTERM/SIGINT, for the binaries that serve until asked to stop.
//! - [`aws`] (feature `aws`): the `--region/--profile/--endpoint-url/--role-arn` flags and the one
//!   function that turns them into an `SdkConfig`, GitHub OIDC included.
//! - [`github`] (feature `github`): the one octocrab client and how GitHub's error answers and
//!   rate limits are read and retried.
//! - [`ecs`]: the ECS name rule, `--service` parsing into [`ecs::ServiceRef`], ARN helpers.
//! - [`task_logs`] (feature `logs`): a failed task's own last log lines (awslogs → CloudWatch Logs).
//! - [`tool`]: the `Tool` trait and the `main` every tool binary and the multi-call binary share.

#[cfg(feature = "aws")]
pub mod aws;
pub mod cli;
pub mod context;
pub mod duration;
pub mod ecs;
pub mod env_vars;
pub mod error;
pub mod exit;
pub mod gha;
#[cfg(feature = "github")]
pub mod github;
pub mod image_ref;
pub mod outcome;
pub mod poll;
pub mod report;
pub mod retry;
pub mod secret;
pub mod shutdown;
#[cfg(feature = "logs")]
pub mod task_logs;
pub mod tool;
pub mod ui;
pub mod untrusted;
pub mod wait;

pub use cli::{CommonArgs, OutputFormat};
pub use context::Context;
pub use error::{Error, ErrorKind, Result};
pub use outcome::{Outcome, Status};
pub use secret::Secret;
pub use tool::Tool;
pub use ui::Ui;
