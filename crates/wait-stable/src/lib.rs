//! `wait-stable`: not built yet (see its issue).

use clap::Parser;
use dk_core::cli::{CommonArgs, HasCommonArgs};
use dk_core::{Outcome, Result, Tool, Ui};

#[derive(Debug, Parser)]
#[command(name = "wait-stable", version)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
}

impl HasCommonArgs for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

pub struct WaitStable;

impl Tool for WaitStable {
    const NAME: &'static str = "wait-stable";
    type Cli = Cli;
    async fn run(_cli: Cli, _ui: Ui) -> Result<Outcome> {
        Err(dk_core::Error::usage("wait-stable is not implemented yet"))
    }
}
