//! The AWS side of the end-to-end tests: the database the tools snapshot, and the command lines
//! that name the service `prod/web` every ECS case deploys to.

use test_support::{AwsAccount, standins};

/// `wait-stable` on the service `prod/web`; the test adds its interval, timeout, output.
pub const WAIT_STABLE_PROD_WEB: [&str; 5] =
    ["wait-stable", "--cluster", "prod", "--service", "web"];

/// `ecs-roll deploy` to the service `prod/web`; the test adds `--image` and the rest.
pub const DEPLOY_PROD_WEB: [&str; 6] = [
    "ecs-roll",
    "deploy",
    "--cluster",
    "prod",
    "--service",
    "web",
];

/// `base` followed by `rest`: a command line built on one of the prefixes above.
pub fn with<'a>(base: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    [base, rest].concat()
}

/// A Postgres instance `id` (db.t3.micro, 20 GiB) in `account` in the moto stand-in, created on
/// a runtime of its own (so call it outside any other).
pub fn create_database(account: &AwsAccount, id: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = rt.block_on(test_support::sdk_config(&standins().moto, Some(account)));
    rt.block_on(test_support::postgres_instance(&aws_sdk_rds::Client::new(&config), id).send())
        .unwrap();
}
