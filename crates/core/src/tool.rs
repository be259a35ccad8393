//! The `Tool` trait and the `main` every tool binary and the multi-call binary share: parse the
//! flags (usage errors exit 2 before anything else happens), start a runtime, run, report, and
//! turn a panic, should one ever happen, into a one-line internal error instead of a backtrace.

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

pub trait Tool {
    /// The binary and subcommand name: `rds-snapshot`, `wait-stable`, …
    const NAME: &'static str;
    /// The clap definition; also a value (`command()`) that the multi-call binary, docs and the
    /// action-input check reuse.
    type Cli: Parser + HasCommonArgs + Send + 'static;

    fn run(cli: Self::Cli, ui: Ui) -> impl Future<Output = Result<Outcome>> + Send;

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
    let result =
        std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(T::run(cli, run_ui))));
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
