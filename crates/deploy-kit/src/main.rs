//! `deploy-kit`: one binary for every tool, so one download serves every action.
//!
//! - `deploy-kit <tool> ARGS…` runs a tool;
//! - invoked through a link named after a tool (`rds-snapshot ARGS…`, busybox style) it runs that
//!   tool directly — `scripts/install` creates the links;
//! - `deploy-kit --version`, `deploy-kit --help` and `deploy-kit tools` answer without starting
//!   any runtime.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use dk_core::Context;
use dk_core::tool::{self, Tool};

type Runner = fn(Vec<OsString>, Context) -> u8;
type Definition = fn() -> clap::Command;

/// Every tool: name, one-line purpose, how to run it, and its clap definition.
const TOOLS: &[(&str, &str, Runner, Definition)] = &[
    (
        "ecr-push",
        "push an image to ECR without a Docker daemon; digest out",
        run::<ecr_push::EcrPush>,
        <ecr_push::EcrPush as Tool>::command,
    ),
    (
        "ecs-roll",
        "render a task definition, migrate, roll, wait, roll back by itself",
        run::<ecs_roll::EcsRoll>,
        <ecs_roll::EcsRoll as Tool>::command,
    ),
    (
        "wait-stable",
        "wait for an ECS deployment with live progress and an exact deadline",
        run::<wait_stable::WaitStable>,
        <wait_stable::WaitStable as Tool>::command,
    ),
    (
        "smoke-test",
        "post-deploy checks and latency/error gates from one YAML spec",
        run::<smoke_test::SmokeTest>,
        <smoke_test::SmokeTest as Tool>::command,
    ),
    (
        "rds-snapshot",
        "snapshot RDS before migrations, wait, list, prune, restore",
        run::<rds_snapshot::RdsSnapshot>,
        <rds_snapshot::RdsSnapshot as Tool>::command,
    ),
    (
        "secrets-sync",
        "sync secrets to Secrets Manager or GitHub, diffed by key without values; export; verify",
        run::<secrets_sync::SecretsSync>,
        <secrets_sync::SecretsSync as Tool>::command,
    ),
];

fn run<T: Tool>(args: Vec<OsString>, ctx: Context) -> u8 {
    tool::run::<T, _>(args, ctx)
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    ExitCode::from(dispatch(args, Context::from_process()))
}

fn dispatch(mut args: Vec<OsString>, ctx: Context) -> u8 {
    let invoked = args
        .first()
        .and_then(|a| Path::new(a).file_stem())
        .and_then(|s| s.to_str())
        .unwrap_or("deploy-kit")
        .to_string();
    if let Some((_, _, runner, _)) = TOOLS.iter().find(|(name, _, _, _)| *name == invoked) {
        return runner(args, ctx);
    }
    let Some(first) = args.get(1).and_then(|a| a.to_str()).map(str::to_owned) else {
        print_help();
        return dk_core::exit::USAGE;
    };
    match first.as_str() {
        "-V" | "--version" | "version" => {
            print_out(&format!("deploy-kit {}", env!("CARGO_PKG_VERSION")));
            dk_core::exit::SUCCESS
        }
        "-h" | "--help" | "help" => {
            print_help();
            dk_core::exit::SUCCESS
        }
        "tools" => {
            for (name, _, _, _) in TOOLS {
                print_out(name);
            }
            dk_core::exit::SUCCESS
        }
        // Hidden: every tool's long flags per subcommand, from its clap definition, as JSON —
        // what scripts/check-actions holds each action's inputs against.
        "__flags" => {
            print_out(&flags_json());
            dk_core::exit::SUCCESS
        }
        name => match TOOLS.iter().find(|(n, _, _, _)| *n == name) {
            Some((_, _, runner, _)) => {
                args.remove(0);
                runner(args, ctx)
            }
            None => {
                let hint = dk_core::error::did_you_mean(name, TOOLS.iter().map(|(n, _, _, _)| *n))
                    .map(|m| format!(" (did you mean `{m}`?)"))
                    .unwrap_or_default();
                // `name` is whatever was typed: neutralised like any untrusted text.
                print_err(&format!(
                    "error: unknown tool `{}`{hint}\n\nRun `deploy-kit --help` for the list of tools.",
                    dk_core::untrusted::neutralise(name)
                ));
                dk_core::exit::USAGE
            }
        },
    }
}

/// A tool's clap definition, by name (the same table as `TOOLS`, without running anything).
fn command_of(name: &str) -> Option<clap::Command> {
    TOOLS
        .iter()
        .find(|(n, _, _, _)| *n == name)
        .map(|(_, _, _, definition)| definition())
}

/// `{"tool": {"": ["--flag", …], "sub": ["--flag", …]}, …}`; "" holds the top-level flags.
fn flags_json() -> String {
    let quote = |s: &str| format!("{s:?}");
    let longs = |c: &clap::Command| {
        let mut v: Vec<String> = c
            .get_arguments()
            .filter_map(|a| a.get_long())
            .map(|l| quote(&format!("--{l}")))
            .collect();
        v.sort();
        format!("[{}]", v.join(","))
    };
    let tools: Vec<String> = TOOLS
        .iter()
        .filter_map(|(name, _, _, _)| {
            let cmd = command_of(name)?;
            let mut parts = vec![format!("\"\":{}", longs(&cmd))];
            parts.extend(
                cmd.get_subcommands()
                    .map(|s| format!("{}:{}", quote(s.get_name()), longs(s))),
            );
            Some(format!("{}:{{{}}}", quote(name), parts.join(",")))
        })
        .collect();
    format!("{{{}}}", tools.join(","))
}

fn print_help() {
    let mut text = format!(
        "deploy-kit {} — take a container app from CI to AWS ECS and back out safely\n\n\
         Usage: deploy-kit <TOOL> [ARGS]...\n       <TOOL> [ARGS]...   (through a link named after the tool)\n\nTools:\n",
        env!("CARGO_PKG_VERSION")
    );
    for (name, about, _, _) in TOOLS {
        text.push_str(&format!("  {name:<14}{about}\n"));
    }
    text.push_str(
        "\nExit codes: 0 success · 1 operation failed · 2 usage/input error · 3 runtime error · 4 timed out\n\
         Run `deploy-kit <TOOL> --help` for a tool's flags and examples.",
    );
    print_out(&text);
}

#[allow(clippy::print_stdout)]
fn print_out(text: &str) {
    println!("{text}");
}

#[allow(clippy::print_stderr)]
fn print_err(text: &str) {
    eprintln!("{text}");
}
