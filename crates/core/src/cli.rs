//! Flags every tool shares, flattened into each tool's clap definition.

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable progress and result on stderr; nothing on stdout.
    #[default]
    Text,
    /// Progress on stderr, and exactly one JSON object on stdout at the end.
    Json,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// Result format on stdout: `json` prints one JSON object at the end.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, global = true, help_heading = "Output")]
    pub output: OutputFormat,
    /// Print only errors and the final result on stderr.
    #[arg(long, short = 'q', global = true, help_heading = "Output")]
    pub quiet: bool,
}

/// Implemented by every tool's top-level `Cli` so core can read the shared flags.
pub trait HasCommonArgs {
    fn common(&self) -> &CommonArgs;
}
