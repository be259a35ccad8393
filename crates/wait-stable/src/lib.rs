//! `wait-stable`: wait for an ECS deployment with live progress and an exact deadline, and never
//! report a false green. The waiter itself lives in [`waiter`] so that `ecs-roll` reuses it.

pub mod waiter;

use clap::Parser;
use dk_core::cli::{CommonArgs, HasCommonArgs};
use dk_core::{Outcome, Result, Tool, Ui};

pub use waiter::{
    ContainerExit, ServiceEvent, ServiceOutcome, ServiceResult, StoppedTask, Target, Track, Until, WaitOptions, summary_markdown,
    wait,
};

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
