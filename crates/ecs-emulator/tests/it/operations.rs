//! The ECS API through aws-sdk-ecs: RunTask, faults, limits and errors, task definitions,
//! service revisions, clusters, listing and tags.

use std::time::Duration;

use aws_sdk_ecs::types::ContainerDefinition;

use super::sdk::*;

/// RunTask one-off tasks exit with the scenario's code for their command, or fail to start.
#[tokio::test]
async fn run_task_exit_codes_and_failures() {
    let env = env().await;
    let td = env.register("web:v1").await;
    let nopull = env.register("web:nopull").await;
    let run = |command: &'static str, token: Option<&'static str>| {
        let ecs = env.ecs.clone();
        let td = td.clone();
        async move {
            ecs.run_task()
                .cluster("prod")
                .task_definition(td)
                .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
                .started_by("migrate")
                .set_client_token(token.map(str::to_string))
                .overrides(
                    aws_sdk_ecs::types::TaskOverride::builder()
                        .container_overrides(
                            aws_sdk_ecs::types::ContainerOverride::builder()
                                .name("app")
                                .command("sh")
                                .command("-c")
                                .command(command)
                                .build(),
                        )
                        .build(),
                )
                .send()
                .await
                .unwrap()
        }
    };
    let ok = run("migrate up", Some("token-1")).await;
    assert!(ok.failures().is_empty());
    let ok_arn = ok.tasks()[0].task_arn().unwrap().to_string();
    assert_eq!(ok.tasks()[0].group(), Some("family:web"));
    let again = run("migrate up", Some("token-1")).await;
    assert_eq!(
        again.tasks()[0].task_arn(),
        Some(ok_arn.as_str()),
        "clientToken is idempotent"
    );
    let bad = run("fail please", None).await;
    let bad_arn = bad.tasks()[0].task_arn().unwrap().to_string();
    let nopull_task = env
        .ecs
        .run_task()
        .cluster("prod")
        .task_definition(&nopull)
        .send()
        .await
        .unwrap();
    let nopull_arn = nopull_task.tasks()[0].task_arn().unwrap().to_string();
    env.emulator.advance(Duration::from_secs(30));
    let tasks = env
        .ecs
        .describe_tasks()
        .cluster("prod")
        .tasks(&ok_arn)
        .tasks(&bad_arn)
        .tasks(&nopull_arn)
        .tasks("0123456789abcdef0123456789abcdef")
        .send()
        .await
        .unwrap();
    let by_arn = |arn: &str| {
        tasks
            .tasks()
            .iter()
            .find(|t| t.task_arn() == Some(arn))
            .unwrap()
    };
    let ok = by_arn(&ok_arn);
    assert_eq!(ok.last_status(), Some("STOPPED"));
    assert_eq!(ok.stop_code().unwrap().as_str(), "EssentialContainerExited");
    assert_eq!(ok.containers()[0].exit_code(), Some(0));
    assert_eq!(ok.started_by(), Some("migrate"));
    assert_eq!(by_arn(&bad_arn).containers()[0].exit_code(), Some(3));
    let np = by_arn(&nopull_arn);
    assert_eq!(np.stop_code().unwrap().as_str(), "TaskFailedToStart");
    assert!(
        np.stopped_reason()
            .unwrap()
            .starts_with("CannotPullContainerError")
    );
    assert_eq!(tasks.failures().len(), 1);
    assert_eq!(tasks.failures()[0].reason(), Some("MISSING"));
}

/// An injected throttle reaches the SDK (retries off) as ThrottlingException; a 500 as
/// ServerException; the next call succeeds.
#[tokio::test]
async fn injected_faults_reach_the_sdk() {
    let env = env().await;
    env.emulator.inject_fault(ecs_emulator::Fault {
        operation: "DescribeServices".into(),
        count: 1,
        kind: ecs_emulator::FaultKind::Throttle,
    });
    let err = env
        .ecs
        .describe_services()
        .cluster("prod")
        .services("web")
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&err),
        Some("ThrottlingException")
    );
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::message(&err),
        Some("Rate exceeded")
    );
    env.emulator.inject_fault(ecs_emulator::Fault {
        operation: "*".into(),
        count: 1,
        kind: ecs_emulator::FaultKind::ServerError,
    });
    let err = env
        .ecs
        .list_clusters()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&err),
        Some("ServerException")
    );
    let ok = env
        .ecs
        .describe_services()
        .cluster("prod")
        .services("web")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.failures()[0].reason(), Some("MISSING"));
    // With retries on, a short throttling storm is absorbed by the SDK.
    let retrying = client(&env.emulator.url(), true).await;
    env.emulator.inject_fault(ecs_emulator::Fault {
        operation: "ListClusters".into(),
        count: 2,
        kind: ecs_emulator::FaultKind::Throttle,
    });
    retrying.list_clusters().send().await.unwrap();
    let calls = env.emulator.calls();
    assert_eq!(calls.count("DescribeServices"), 2);
    assert_eq!(calls.describe_services_batch_sizes, vec![1, 1]);
    assert_eq!(calls.faulted, 4);
}

/// Errors for limits and missing things are the ones ECS sends.
#[tokio::test]
async fn limits_and_missing_resources() {
    let env = env().await;
    let names: Vec<String> = (0..11).map(|i| format!("s{i}")).collect();
    let err = env
        .ecs
        .describe_services()
        .cluster("prod")
        .set_services(Some(names))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    let err = env
        .ecs
        .describe_services()
        .cluster("nope")
        .services("web")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_cluster_not_found_exception());
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::message(&err),
        Some("Cluster not found.")
    );
    let err = env
        .ecs
        .update_service()
        .cluster("prod")
        .service("ghost")
        .desired_count(1)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_service_not_found_exception());
    let missing = env
        .ecs
        .describe_services()
        .cluster("prod")
        .services("ghost")
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.failures()[0].arn(),
        Some("arn:aws:ecs:us-east-1:123456789012:service/prod/ghost")
    );
    assert_eq!(missing.failures()[0].reason(), Some("MISSING"));
    let err = env
        .ecs
        .describe_task_definition()
        .task_definition("ghost:1")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_client_exception());
}

/// Task definitions round-trip with tags beside them, list with paging, and deregister.
#[tokio::test]
async fn task_definitions_tags_and_listing() {
    let env = env().await;
    let out = env
        .ecs
        .register_task_definition()
        .family("api")
        .cpu("256")
        .memory("512")
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("api:1")
                .build(),
        )
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("team")
                .value("core")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = out
        .task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap()
        .to_string();
    assert_eq!(
        arn,
        "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1"
    );
    for _ in 0..2 {
        env.ecs
            .register_task_definition()
            .family("api")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image("api:2")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let described = env
        .ecs
        .describe_task_definition()
        .task_definition("api:1")
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .unwrap();
    assert_eq!(described.tags()[0].key(), Some("team"));
    assert_eq!(described.task_definition().unwrap().cpu(), Some("256"));
    let latest = env
        .ecs
        .describe_task_definition()
        .task_definition("api")
        .send()
        .await
        .unwrap();
    assert_eq!(latest.task_definition().unwrap().revision(), 3);
    assert!(latest.tags().is_empty());
    env.ecs
        .deregister_task_definition()
        .task_definition("api:3")
        .send()
        .await
        .unwrap();
    let page1 = env
        .ecs
        .list_task_definitions()
        .family_prefix("api")
        .sort(aws_sdk_ecs::types::SortOrder::Desc)
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        page1.task_definition_arns(),
        ["arn:aws:ecs:us-east-1:123456789012:task-definition/api:2"]
    );
    let page2 = env
        .ecs
        .list_task_definitions()
        .family_prefix("api")
        .sort(aws_sdk_ecs::types::SortOrder::Desc)
        .max_results(1)
        .next_token(page1.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page2.task_definition_arns(), [arn.as_str()]);
    assert!(page2.next_token().is_none());
    let inactive = env
        .ecs
        .list_task_definitions()
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Inactive)
        .send()
        .await
        .unwrap();
    assert_eq!(inactive.task_definition_arns().len(), 1);
    env.ecs
        .tag_resource()
        .resource_arn(&arn)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("env")
                .value("prod")
                .build(),
        )
        .send()
        .await
        .unwrap();
    env.ecs
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = env
        .ecs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].value(), Some("prod"));
}

/// A ServiceDeployment names its source and target revisions; DescribeServiceRevisions tells
/// which task definition and images each ran (what a rollback tool reads).
#[tokio::test]
async fn service_revisions_name_the_task_definitions() {
    let env = env().await;
    let Redeploy {
        v1,
        next: v2,
        updated,
        ..
    } = env.redeploy(1, rolling(100, 200), 120, "web:v2").await;
    let sd_arn = updated.current_service_deployment().unwrap().to_string();
    let sd = env.service_deployment(&sd_arn).await;
    assert_eq!(sd.status().unwrap().as_str(), "PENDING");
    let source = sd.source_service_revisions()[0].arn().unwrap().to_string();
    let target = sd
        .target_service_revision()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let revisions = env
        .ecs
        .describe_service_revisions()
        .service_revision_arns(&source)
        .service_revision_arns(&target)
        .service_revision_arns("arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/1")
        .send()
        .await
        .unwrap();
    let td_of = |arn: &str| {
        revisions
            .service_revisions()
            .iter()
            .find(|r| r.service_revision_arn() == Some(arn))
            .and_then(|r| r.task_definition())
            .unwrap()
            .to_string()
    };
    assert_eq!(td_of(&source), v1);
    assert_eq!(td_of(&target), v2);
    assert_eq!(revisions.failures()[0].reason(), Some("MISSING"));
    let images = revisions.service_revisions()[0].container_images();
    assert!(images[0].image_digest().unwrap().starts_with("sha256:"));
    env.emulator.advance(Duration::from_secs(1));
    let listed = env
        .ecs
        .list_service_deployments()
        .cluster("prod")
        .service("web")
        .status(aws_sdk_ecs::types::ServiceDeploymentStatus::InProgress)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.service_deployments().len(), 1);
    assert_eq!(
        listed.service_deployments()[0].service_deployment_arn(),
        Some(sd_arn.as_str())
    );
}

/// Clusters, service listing with paging, tags on services and DeleteService through the SDK.
#[tokio::test]
async fn clusters_services_and_tags() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    for name in ["a", "b", "c"] {
        env.ecs
            .create_service()
            .cluster("prod")
            .service_name(name)
            .task_definition(&v1)
            .desired_count(1)
            .tags(
                aws_sdk_ecs::types::Tag::builder()
                    .key("svc")
                    .value(name)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let clusters = env
        .ecs
        .describe_clusters()
        .clusters("prod")
        .clusters("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(clusters.clusters()[0].cluster_name(), Some("prod"));
    assert_eq!(clusters.clusters()[0].active_services_count(), 3);
    assert_eq!(clusters.failures()[0].reason(), Some("MISSING"));
    let first = env
        .ecs
        .list_services()
        .cluster("prod")
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(first.service_arns().len(), 2);
    let rest = env
        .ecs
        .list_services()
        .cluster("prod")
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        rest.service_arns(),
        ["arn:aws:ecs:us-east-1:123456789012:service/prod/c"]
    );
    let tagged = env
        .ecs
        .describe_services()
        .cluster("prod")
        .services("b")
        .include(aws_sdk_ecs::types::ServiceField::Tags)
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.services()[0].tags()[0].value(), Some("b"));
    let untagged = env.describe("b").await;
    assert!(untagged.tags().is_empty());
    env.emulator.advance(Duration::from_secs(60));
    let deleted = env
        .ecs
        .delete_service()
        .cluster("prod")
        .service("a")
        .force(true)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.service().unwrap().status(), Some("DRAINING"));
    env.emulator.advance(Duration::from_secs(10));
    assert_eq!(env.describe("a").await.status(), Some("INACTIVE"));
    let listed = env
        .ecs
        .list_services()
        .cluster("prod")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.service_arns().len(), 2);
}
