//! `ecr-push`: not built yet (see its issue).

use clap::Parser;
use dk_core::cli::{CommonArgs, HasCommonArgs};
use dk_core::{Outcome, Result, Tool, Ui};

#[derive(Debug, Parser)]
#[command(name = "ecr-push", version)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
}

impl HasCommonArgs for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

pub struct EcrPush;

impl Tool for EcrPush {
    const NAME: &'static str = "ecr-push";
    type Cli = Cli;
    async fn run(_cli: Cli, _ui: Ui) -> Result<Outcome> {
        Err(dk_core::Error::usage("ecr-push is not implemented yet"))
    }
}
