//! `ecs-emulator`: runs the ECS rollout emulator on 127.0.0.1 until SIGTERM/SIGINT.
//!
//! Exit codes: 0 after a signal, 2 for bad flags or an unreadable/invalid scenario, 3 when the
//! port cannot be bound or the port file cannot be written.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ecs_emulator::{Config, Emulator, Scenario};

/// ECS rollout emulator (test equipment, not ECS): speaks the ECS JSON 1.1 API on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "ecs-emulator", version)]
struct Cli {
    /// Port on 127.0.0.1 (0 picks a free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write the port number to this file once listening.
    #[arg(long, value_name = "PATH")]
    port_file: Option<PathBuf>,
    /// Scenario file (YAML or JSON): image behaviours, time scale, one-off task results.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Emulated seconds per real second (overrides the scenario's time_scale).
    #[arg(long, value_name = "X")]
    time_scale: Option<f64>,
    /// Move time only through POST /_emulator/advance.
    #[arg(long)]
    manual_clock: bool,
    /// Process mode: the Secrets Manager endpoint (moto) that task definitions' `secrets` are
    /// resolved from, unless the scenario's `processes.secrets_manager_url` names one.
    #[arg(long, value_name = "URL")]
    secrets_manager_url: Option<String>,
}

const EXIT_USAGE: u8 = 2;
const EXIT_RUNTIME: u8 = 3;

fn load_scenario(cli: &Cli) -> Result<Scenario, String> {
    let mut scenario = match &cli.scenario {
        Some(path) => Scenario::from_file(path).map_err(|e| e.to_string())?,
        None => Scenario::default(),
    };
    if let Some(scale) = cli.time_scale {
        scenario.time_scale = scale;
        scenario = scenario
            .validated()
            .map_err(|e| format!("--time-scale: {e}"))?;
    }
    if let (Some(url), Some(mode)) = (&cli.secrets_manager_url, scenario.processes.as_mut()) {
        mode.secrets_manager_url.get_or_insert_with(|| url.clone());
    }
    Ok(scenario)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let scenario = match load_scenario(&cli) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("ecs-emulator: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let config = Config {
        scenario,
        port: cli.port,
        manual_clock: cli.manual_clock,
    };
    let emulator = match Emulator::start(config).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ecs-emulator: cannot listen on 127.0.0.1:{}: {e}", cli.port);
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    if let Some(path) = &cli.port_file {
        // Write then rename, so a reader polling for the file never sees it half written.
        let tmp = path.with_extension("tmp");
        let written = std::fs::write(&tmp, format!("{}\n", emulator.port()))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            eprintln!(
                "ecs-emulator: cannot write port file {}: {e}",
                path.display()
            );
            return ExitCode::from(EXIT_RUNTIME);
        }
    }
    eprintln!("ecs-emulator listening on {}", emulator.url());
    dk_core::shutdown::requested().await;
    emulator.shutdown().await;
    ExitCode::SUCCESS
}
