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

#[cfg(all(test, feature = "aws"))]
mod tests {
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
