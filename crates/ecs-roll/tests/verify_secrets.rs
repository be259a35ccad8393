//! `ecs-roll deploy` checks the secrets its rendered revision references before registering it:
//! the real binary against the ECS emulator (which counts calls) with Secrets Manager on moto.

use std::time::Duration;

use aws_sdk_ecs::types::DeploymentConfiguration;
use ecs_emulator::{Config, Scenario};
use test_support::ecs::{Container, EcsFixture};
use test_support::{Cmd, standins, unique};

const SCENARIO: &str = r#"
time_scale: 40
images:
  "app:v1": { behavior: healthy, start_seconds: 2, healthy_after_seconds: 4 }
  "app:v2": { behavior: healthy, start_seconds: 2, healthy_after_seconds: 4 }
"#;

/// A secret in moto's default account (the static `testing` credentials), returning its ARN.
fn moto_secret(rt: &tokio::runtime::Runtime, name: &str) -> String {
    rt.block_on(async {
        let config = test_support::sdk_config(&standins().moto, None).await;
        let sm = aws_sdk_secretsmanager::Client::new(&config);
        sm.create_secret()
            .name(name)
            .secret_string(r#"{"password":"pw"}"#)
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_string()
    })
}

/// A rendered revision that references a missing secret stops with exit 2 before
/// RegisterTaskDefinition and before any service is touched; with the secret present (or with
/// --no-verify-secrets) the release goes ahead.
#[test]
fn missing_secret_stops_before_register() {
    let (fx, rt) = EcsFixture::start_blocking(Config::new(Scenario::parse(SCENARIO).unwrap()));
    rt.block_on(async {
        let td = fx.register("web", Container::new("app", "app:v1")).await;
        let config = DeploymentConfiguration::builder()
            .minimum_healthy_percent(100)
            .maximum_percent(200)
            .build();
        fx.create_service("prod", "web", &td, 1, config).await;
    });
    let EcsFixture { emulator, .. } = fx;
    let present = moto_secret(&rt, &unique("db"));
    let missing = present.replace(":secret:", ":secret:gone-");
    let deploy = |secret_arn: &str, extra: &[&str]| {
        Cmd::bin("ecs-roll")
            .env("AWS_ENDPOINT_URL_ECS", emulator.url())
            .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", standins().moto)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .timeout(Duration::from_secs(90))
            .args([
                "deploy",
                "--cluster",
                "prod",
                "--service",
                "web",
                "--image",
                "app=app:v2",
                "--interval",
                "200ms",
            ])
            .arg("--secret")
            .arg(format!("app:DB_PASSWORD={secret_arn}"))
            .args(extra.iter().copied())
            .run()
    };

    emulator.reset_calls();
    let out = deploy(&missing, &[]);
    out.assert_code(2).assert_no_panic();
    assert!(
        out.stderr.contains("DB_PASSWORD") && out.stderr.contains("no such secret"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--no-verify-secrets"), "{}", out.stderr);
    let calls = emulator.calls();
    assert_eq!(calls.count("RegisterTaskDefinition"), 0, "{calls:?}");
    assert_eq!(calls.count("UpdateService"), 0, "{calls:?}");

    // A JSON key that the secret lacks is missing too.
    let out = deploy(&format!("{present}:nokey::"), &[]);
    out.assert_code(2);
    assert_eq!(emulator.calls().count("RegisterTaskDefinition"), 0);

    let out = deploy(&format!("{present}:password::"), &["--output", "json"]);
    out.assert_code(0);
    assert_eq!(emulator.calls().count("RegisterTaskDefinition"), 1);

    // Skipping the check lets the broken reference through (ECS would fail the tasks later).
    let out = deploy(&missing, &["--no-verify-secrets", "--dry-run"]);
    out.assert_code(0);
}
