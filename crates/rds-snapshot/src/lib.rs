//! `rds-snapshot`: not built yet (see its issue).

use clap::Parser;
use dk_core::cli::{CommonArgs, HasCommonArgs};
use dk_core::{Outcome, Result, Tool, Ui};

#[derive(Debug, Parser)]
#[command(name = "rds-snapshot", version)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
}

impl HasCommonArgs for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

pub struct RdsSnapshot;

impl Tool for RdsSnapshot {
    const NAME: &'static str = "rds-snapshot";
    type Cli = Cli;
    async fn run(_cli: Cli, _ui: Ui) -> Result<Outcome> {
        Err(dk_core::Error::usage("rds-snapshot is not implemented yet"))
    }
}
