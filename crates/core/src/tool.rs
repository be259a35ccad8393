//! The `Tool` trait and the `main` every tool binary and the multi-call binary share: parse the
//! flags, validate them ([`Tool::validate`]: usage errors exit 2 before any runtime, AWS config
//! or client exists), start a runtime, run, report, and turn a panic, should one ever happen,
//! into a one-line internal error instead of a backtrace.
//!
//! Validation is a step of the trait, not a convention: `run` receives the [`Tool::Plan`] that
//! `validate` returned, so a tool cannot reach the network with inputs nobody checked.

use std::ffi::OsString;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::HasCommonArgs;
use crate::context::Context;
use crate::error::Result;
use crate::exit;
use crate::outcome::Outcome;
use crate::report;
use crate::ui::Ui;

/// Declares a tool's top-level clap `Cli` once: the struct as written, with the shared flags
/// flattened in first — `pub aws: AwsArgs` (the `aws;` form, needs core's `aws` feature), then
/// `pub common: CommonArgs` — and the [`HasCommonArgs`] impl core reads them through. The derive
/// and `#[command(…)]` attributes stay the tool's own, so `--help` is what the tool wrote.
///
/// ```
/// use clap::Parser;
///
/// dk_core::tool_cli! {
///     #[derive(Debug, Parser)]
///     #[command(name = "probe", about = "An example tool")]
///     pub struct Cli {
///         /// The one flag of its own
///         #[arg(long)]
///         pub name: String,
///     }
/// }
///
/// let cli = Cli::parse_from(["probe", "--name", "x", "--quiet"]);
/// assert!(dk_core::cli::HasCommonArgs::common(&cli).quiet);
/// ```
#[macro_export]
macro_rules! tool_cli {
    (@common $name:ident) => {
        impl $crate::cli::HasCommonArgs for $name {
            fn common(&self) -> &$crate::cli::CommonArgs {
                &self.common
            }
        }
    };
    (aws; $(#[$meta:meta])* $vis:vis struct $name:ident { $($fields:tt)* }) => {
        $(#[$meta])*
        $vis struct $name {
            #[command(flatten)]
            pub aws: $crate::aws::AwsArgs,
            // AwsArgs sets the "AWS" heading for what follows; the tool's own flags have none.
            #[command(flatten, next_help_heading = None::<&str>)]
            pub common: $crate::cli::CommonArgs,
            $($fields)*
        }
        $crate::tool_cli!(@common $name);
    };
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($fields:tt)* }) => {
        $(#[$meta])*
        $vis struct $name {
            #[command(flatten)]
            pub common: $crate::cli::CommonArgs,
            $($fields)*
        }
        $crate::tool_cli!(@common $name);
    };
}

pub trait Tool {
    /// The binary and subcommand name: `rds-snapshot`, `wait-stable`, …
    const NAME: &'static str;
    /// The clap definition; also a value (`command()`) that the multi-call binary, docs and the
    /// action-input check reuse.
    type Cli: Parser + HasCommonArgs + Send + 'static;
    /// What [`Tool::validate`] hands to [`Tool::run`]: the inputs parsed and checked (`()` when
    /// `run` reads them from the `Cli` again).
    type Plan: Send + 'static;

    /// Every check that needs no network: flag shapes and combinations, files the flags name,
    /// the AWS flags (`AwsArgs::validate`). Core calls it before any runtime or client exists,
    /// so an error here (normally [`crate::Error::usage`], exit 2) never follows a network call.
    fn validate(cli: &Self::Cli, ctx: &Context) -> Result<Self::Plan>;

    fn run(
        cli: Self::Cli,
        plan: Self::Plan,
        ui: Ui,
    ) -> impl Future<Output = Result<Outcome>> + Send;

    fn command() -> clap::Command {
        Self::Cli::command()
    }
}

/// `fn main` of a tool binary.
pub fn main<T: Tool>() -> ExitCode {
    ExitCode::from(run::<T, _>(std::env::args_os(), Context::from_process()))
}

/// Run a tool with explicit arguments (`args[0]` is the program name) and context.
pub fn run<T: Tool, I>(args: I, ctx: Context) -> u8
where
    I: IntoIterator<Item = OsString>,
{
    install_panic_hook(T::NAME);
    let cli = match T::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and exit 0; usage errors exit 2. A usage
            // error quotes what the user typed (a workflow input, maybe a PR title): neutralised.
            if !e.use_stderr() {
                let _ = e.print();
                return exit::SUCCESS;
            }
            print_usage_error(&e.render().to_string());
            return exit::USAGE;
        }
    };
    let format = cli.common().output;
    let ui = Ui::new(ctx, cli.common());
    let plan = match T::validate(&cli, ui.context()) {
        Ok(plan) => plan,
        Err(e) => return report::finish(&ui, T::NAME, format, Err(e)),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8)))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let err = crate::Error::runtime(format!("cannot start the async runtime: {e}"));
            return report::finish(&ui, T::NAME, format, Err(err));
        }
    };
    let run_ui = ui.clone();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(T::run(cli, plan, run_ui))
    }));
    // Background tasks (spinners, in-flight requests) must not outlive the report.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(result) => report::finish(&ui, T::NAME, format, result),
        Err(_) => {
            ui.clear_status();
            exit::RUNTIME
        }
    }
}

#[allow(clippy::print_stderr)]
fn print_usage_error(text: &str) {
    for line in crate::untrusted::split_lines(text.trim_end()) {
        eprintln!("{}", crate::untrusted::neutralise(line));
    }
}

/// Panics print one line naming the bug, never a backtrace.
fn install_panic_hook(tool: &'static str) {
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "error: internal error in {tool}: {}{at}. This is a deploy-kit bug; please report it.",
                crate::untrusted::neutralise(&msg)
            );
        }
    }));
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use clap::Parser;

    use super::*;

    static RAN: AtomicBool = AtomicBool::new(false);

    crate::tool_cli! {
        #[derive(Debug, Parser)]
        struct Cli {
            #[arg(long)]
            name: String,
        }
    }

    /// A tool whose validation rejects any name but `ok`, and whose run records that it ran.
    struct Probe;
    impl Tool for Probe {
        const NAME: &'static str = "probe";
        type Cli = Cli;
        type Plan = usize;
        fn validate(cli: &Cli, _ctx: &Context) -> Result<usize> {
            if cli.name == "ok" {
                Ok(cli.name.len())
            } else {
                Err(crate::Error::usage(format!(
                    "--name `{}` is not ok",
                    cli.name
                )))
            }
        }
        async fn run(_cli: Cli, plan: usize, _ui: Ui) -> Result<Outcome> {
            RAN.store(true, Ordering::SeqCst);
            Ok(Outcome::succeeded("done", format!("plan {plan}")))
        }
    }

    fn args(name: &str) -> Vec<OsString> {
        ["probe", "--name", name, "--quiet"]
            .iter()
            .map(OsString::from)
            .collect()
    }

    /// A validation error exits 2 and `run` is never reached; a valid input runs with its plan.
    #[test]
    fn validation_runs_before_run_and_exits_2() {
        let ctx = || Context::from_map(Vec::<(String, String)>::new(), false);
        assert_eq!(run::<Probe, _>(args("bad"), ctx()), exit::USAGE);
        assert!(
            !RAN.load(Ordering::SeqCst),
            "run must not start after a usage error"
        );
        assert_eq!(run::<Probe, _>(args("ok"), ctx()), exit::SUCCESS);
        assert!(RAN.load(Ordering::SeqCst));
    }
}

#[cfg(all(test, feature = "aws"))]
mod tool_cli_tests {
    use clap::{CommandFactory, Parser};

    crate::tool_cli! { aws;
        #[derive(Debug, Parser)]
        struct Cli {
            /// The tool's own flag
            #[arg(long)]
            name: Option<String>,
        }
    }

    /// The AWS flags stand under "AWS", the shared ones under "Output", and the tool's own flags,
    /// declared after both, under no heading: AwsArgs' heading does not carry over to them.
    #[test]
    fn each_flag_keeps_its_own_heading() {
        let cmd = Cli::command();
        let heading = |id: &str| {
            cmd.get_arguments()
                .find(|a| a.get_id() == id)
                .map(|a| a.get_help_heading())
        };
        assert_eq!(heading("region"), Some(Some("AWS")));
        assert_eq!(heading("retry_mode"), Some(Some("AWS")));
        assert_eq!(heading("output"), Some(Some("Output")));
        assert_eq!(heading("name"), Some(None));
    }
}
