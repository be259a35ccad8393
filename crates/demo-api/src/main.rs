//! `demo-api`: the teams' API as a "container" for the ECS emulator's process mode and
//! `scripts/demo`. `demo-api [serve]` serves it; `demo-api migrate [--broken]` is its schema
//! migration, the release's one-off task (`migrate.rs`). Everything else comes from the
//! environment, as in a task definition:
//!
//! | Variable | Meaning |
//! |---|---|
//! | `PORT` | loopback port to listen on (the emulator sets it per task) |
//! | `DEMO_VERSION` | the release reported in every response |
//! | `DEMO_BEHAVIOUR` | `healthy`, `crash`, `slow`, `errors`, `unhealthy` |
//! | `JWT_SECRET`, `DB_PASSWORD` | required (from the task definition's `secrets`); missing → exit 78 |
//! | `DEMO_USER_PASSWORD` | the password `POST /auth/login` accepts |
//! | `DEMO_ERROR_RATE` | `errors`: fraction of API requests answered 500 (default 0.5) |
//! | `DEMO_LATENCY_MS` | `slow`: added to every response (default 300) |
//! | `DEMO_START_DELAY_MS` | `slow`: wait before listening (default 3000) |
//! | `DEMO_EXIT_CODE` | `crash`: the exit code (default 1) |
//! | `DEMO_DB_FILE` | `migrate`: the "database", one applied migration per line |
//!
//! Exit codes: 0 after SIGTERM/SIGINT (in-flight requests finish first), or a migration that
//! applied; 1 a migration that failed; `DEMO_EXIT_CODE` for `crash`; 2 bad flags or values; 3
//! the port cannot be bound; 78 a required secret is missing (`migrate` needs `DB_PASSWORD`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use demo_api::{Behaviour, Config};

/// The teams' meal-planner API (demo and test equipment). Configured by environment.
#[derive(Debug, Parser)]
#[command(name = "demo-api", version)]
struct Cli {
    /// `serve` the API, or `migrate` the database and exit
    #[arg(value_parser = ["serve", "migrate"], default_value = "serve")]
    command: String,
    /// `migrate`: the release's last migration fails (exit 1)
    #[arg(long)]
    broken: bool,
    #[arg(long, env = "DEMO_DB_FILE")]
    db_file: Option<std::path::PathBuf>,
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,
    #[arg(long, env = "DEMO_VERSION", default_value = "0.0.0-dev")]
    app_version: String,
    #[arg(long, env = "DEMO_BEHAVIOUR", default_value = "healthy",
          value_parser = clap::builder::PossibleValuesParser::new(Behaviour::NAMES))]
    behaviour: String,
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    #[arg(long, env = "DB_PASSWORD", hide_env_values = true)]
    db_password: Option<String>,
    #[arg(
        long,
        env = "DEMO_USER_PASSWORD",
        hide_env_values = true,
        default_value = ""
    )]
    user_password: String,
    #[arg(long, env = "DEMO_ERROR_RATE", default_value_t = 0.5)]
    error_rate: f64,
    #[arg(long, env = "DEMO_LATENCY_MS", default_value_t = 300)]
    latency_ms: u64,
    #[arg(long, env = "DEMO_START_DELAY_MS", default_value_t = 3000)]
    start_delay_ms: u64,
    #[arg(long, env = "DEMO_EXIT_CODE", default_value_t = 1)]
    exit_code: u8,
}

/// A required secret is missing (EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let behaviour = Behaviour::parse(&cli.behaviour).unwrap_or_default();
    let version = cli.app_version.clone();
    if cli.command == "migrate" {
        return migrate(&cli);
    }
    if behaviour == Behaviour::Crash {
        eprintln!(
            "demo-api {version}: crashing on start (DEMO_BEHAVIOUR=crash), exit {}",
            cli.exit_code
        );
        return ExitCode::from(cli.exit_code);
    }
    let (Some(jwt_secret), Some(_db_password)) = (cli.jwt_secret.clone(), cli.db_password.clone())
    else {
        eprintln!(
            "demo-api {version}: JWT_SECRET and DB_PASSWORD must be set (the task definition's secrets)"
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    if behaviour == Behaviour::Slow {
        tokio::time::sleep(Duration::from_millis(cli.start_delay_ms)).await;
    }
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", cli.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "demo-api {version}: cannot listen on 127.0.0.1:{}: {e}",
                cli.port
            );
            return ExitCode::from(3);
        }
    };
    let config = Config {
        version: version.clone(),
        behaviour,
        jwt_secret,
        user_password: cli.user_password,
        latency: Duration::from_millis(cli.latency_ms),
        error_rate: cli.error_rate,
        ..Config::default()
    };
    eprintln!(
        "demo-api {version} ({}) listening on http://127.0.0.1:{}",
        cli.behaviour, cli.port
    );
    demo_api::serve(
        listener,
        config,
        Arc::default(),
        dk_core::shutdown::requested(),
    )
    .await;
    eprintln!("demo-api {version}: stopped");
    ExitCode::SUCCESS
}

/// `demo-api migrate`: the database password is the secret it needs.
fn migrate(cli: &Cli) -> ExitCode {
    let version = &cli.app_version;
    if cli.db_password.is_none() {
        eprintln!(
            "demo-api {version}: migrate: DB_PASSWORD must be set (the task definition's secrets)"
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let done = demo_api::migrate::run(
        version,
        cli.db_file.as_deref(),
        cli.broken,
        Duration::from_millis(100),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    ExitCode::from(done.exit_code)
}
