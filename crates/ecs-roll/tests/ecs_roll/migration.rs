//! `--migrate-command`: the one-off task on the new revision that gates the roll.

use super::*;

/// A migration that exits 0 gates the roll open; the service then rolls.
#[test]
fn passing_migration_then_roll() {
    let e = env();
    e.web_service("app:v1", breaker(true));
    let out = e.deploy_web(
        "app:v2",
        &[
            "--migrate-container",
            "app",
            "--migrate-command",
            "bin/rails db:migrate",
        ],
    );
    out.assert_code(0);
    let json = out.json();
    assert_eq!(json["result"], "succeeded");
    assert!(
        out.stderr.contains("container app exit code 0"),
        "{}",
        out.stderr
    );
    assert_eq!(short(&e.primary("web").1), "web:2");
    // The one-off task ran the NEW revision with the overridden command (ListTasks takes
    // `startedBy` only alone, so stopped tasks are listed by family and told apart here).
    let tasks =
        e.rt.block_on(
            e.ecs
                .list_tasks()
                .cluster("prod")
                .family("web")
                .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
                .send(),
        )
        .unwrap();
    let t =
        e.rt.block_on(
            e.ecs
                .describe_tasks()
                .cluster("prod")
                .set_tasks(Some(tasks.task_arns().to_vec()))
                .send(),
        )
        .unwrap();
    let migrations: Vec<_> = t
        .tasks()
        .iter()
        .filter(|t| t.started_by() == Some("ecs-roll-migrate"))
        .collect();
    assert_eq!(migrations.len(), 1);
    assert_eq!(short(migrations[0].task_definition_arn().unwrap()), "web:2");
}

/// A migration that exits non-zero stops the release with the service untouched.
#[test]
fn failing_migration_leaves_service_untouched() {
    let e = env();
    e.web_service("app:v1", breaker(true));
    let before = e.primary("web");
    let out = e.deploy_web(
        "app:v2",
        &[
            "--migrate-container",
            "app",
            "--migrate-command",
            r#"["bin/migrate", "--fail"]"#,
        ],
    );
    out.assert_code(1);
    let json = out.json();
    assert_eq!(json["result"], "failed");
    assert!(
        json["message"].as_str().unwrap().contains("exit code 3"),
        "{json}"
    );
    assert_eq!(json["detail"]["migration"]["exit_code"], 3);
    assert_eq!(
        e.primary("web"),
        before,
        "same task definition, no new deployment"
    );
    assert_eq!(e.describe("web").deployments().len(), 1);
    assert_eq!(out.output("result"), "failed");
}

/// Regression (#9.11): `--migrate-command` alone was exit 2 (`--migrate-container` required) even
/// for a one-container service; the only container is the default.
#[test]
fn migrate_command_alone_runs_in_the_only_container() {
    let e = env();
    e.web_service("app:v1", breaker(true));
    let out = e.deploy_web("app:v2", &["--migrate-command", "bin/migrate"]);
    out.assert_code(0);
    assert!(
        out.stderr.contains("container app exit code 0"),
        "{}",
        out.stderr
    );
    let inputs = e.emulator.calls().run_task_inputs;
    assert_eq!(inputs.len(), 1);
    assert_eq!(
        inputs[0]["overrides"]["containerOverrides"][0]["name"],
        "app"
    );
    assert_eq!(short(&e.primary("web").1), "web:2");
}

/// Regression (#9.11): the migration RunTask dropped the service's placement constraints,
/// placement strategy and EBS volume configurations, and ran on the service's FARGATE_SPOT
/// capacity, where a Spot interruption stops it half-way. It copies the first three and runs
/// on FARGATE unless --migrate-on-spot.
#[test]
fn migration_runs_like_the_service_but_on_demand() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    let placement =
        serde_json::json!([{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}]);
    let strategy =
        serde_json::json!([{"type": "spread", "field": "attribute:ecs.availability-zone"}]);
    let volumes = serde_json::json!([{"name": "data", "managedEBSVolume": {"roleArn": "arn:aws:iam::123456789012:role/ebs", "sizeInGiB": 20, "volumeType": "gp3"}}]);
    // Created raw: the SDK types would do, but the JSON is what the assertions compare.
    e.rt.block_on(
        e.ecs
            .create_service()
            .cluster("prod")
            .service_name("web")
            .task_definition(&v1)
            .desired_count(1)
            .deployment_configuration(breaker(true))
            .placement_constraints(
                aws_sdk_ecs::types::PlacementConstraint::builder()
                    .r#type(aws_sdk_ecs::types::PlacementConstraintType::MemberOf)
                    .expression("attribute:ecs.os-type == linux")
                    .build(),
            )
            .placement_strategy(
                aws_sdk_ecs::types::PlacementStrategy::builder()
                    .r#type(aws_sdk_ecs::types::PlacementStrategyType::Spread)
                    .field("attribute:ecs.availability-zone")
                    .build(),
            )
            .volume_configurations(
                aws_sdk_ecs::types::ServiceVolumeConfiguration::builder()
                    .name("data")
                    .managed_ebs_volume(
                        aws_sdk_ecs::types::ServiceManagedEbsVolumeConfiguration::builder()
                            .role_arn("arn:aws:iam::123456789012:role/ebs")
                            .size_in_gib(20)
                            .volume_type("gp3")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send(),
    )
    .unwrap();
    e.wait_stable("web");
    let spot = |provider: &str, weight: i32, base: i32| {
        aws_sdk_ecs::types::CapacityProviderStrategyItem::builder()
            .capacity_provider(provider)
            .weight(weight)
            .base(base)
            .build()
            .unwrap()
    };
    e.rt.block_on(
        e.ecs
            .create_service()
            .cluster("prod")
            .service_name("worker")
            .task_definition(&v1)
            .desired_count(1)
            .deployment_configuration(breaker(true))
            .capacity_provider_strategy(spot("FARGATE_SPOT", 3, 0))
            .capacity_provider_strategy(spot("FARGATE", 1, 1))
            .send(),
    )
    .unwrap();
    e.wait_stable("worker");
    for (service, extra) in [
        ("web", None),
        ("worker", None),
        ("worker", Some("--migrate-on-spot")),
    ] {
        let mut args = vec![
            "--service",
            service,
            "--image",
            "app=app:v2",
            "--migrate-command",
            "bin/migrate",
            "--force-new-deployment",
        ];
        args.extend(extra);
        e.deploy(&args).assert_code(0);
    }
    let inputs = e.emulator.calls().run_task_inputs;
    assert_eq!(inputs.len(), 3, "{inputs:#?}");
    assert_eq!(inputs[0]["placementConstraints"], placement);
    assert_eq!(inputs[0]["placementStrategy"], strategy);
    assert_eq!(inputs[0]["volumeConfigurations"], volumes);
    let capacity = |v: &serde_json::Value| -> Vec<(String, i64, i64)> {
        v["capacityProviderStrategy"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["capacityProvider"].as_str().unwrap().to_string(),
                    i["weight"].as_i64().unwrap_or(0),
                    i["base"].as_i64().unwrap_or(0),
                )
            })
            .collect()
    };
    assert_eq!(
        capacity(&inputs[1]),
        vec![("FARGATE".to_string(), 4, 1)],
        "Spot replaced by on-demand: {:#?}",
        inputs[1]
    );
    assert_eq!(
        capacity(&inputs[2]),
        vec![
            ("FARGATE_SPOT".to_string(), 3, 0),
            ("FARGATE".to_string(), 1, 1)
        ],
        "--migrate-on-spot keeps the service's strategy"
    );
}
