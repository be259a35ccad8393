//! `ecs-roll`: not built yet (see its issue).

use clap::Parser;
use dk_core::cli::{CommonArgs, HasCommonArgs};
use dk_core::{Outcome, Result, Tool, Ui};

#[derive(Debug, Parser)]
#[command(name = "ecs-roll", version)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
}

impl HasCommonArgs for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

pub struct EcsRoll;

impl Tool for EcsRoll {
    const NAME: &'static str = "ecs-roll";
    type Cli = Cli;
    async fn run(_cli: Cli, _ui: Ui) -> Result<Outcome> {
        Err(dk_core::Error::usage("ecs-roll is not implemented yet"))
    }
}
