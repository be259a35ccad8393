//! Releasing: one or several services, from the service, a file or an existing revision; what is registered, and what is not.

use super::*;

/// A clean deploy registers one revision, rolls the service to it and reports every output.
#[test]
fn deploys_one_service() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 2, breaker(true));
    let out = e
        .cmd()
        .args(["deploy", "--cluster", "prod", "--service", "web"])
        .args([
            "--image",
            "app=app:v2",
            "--interval",
            "200ms",
            "--output",
            "json",
        ])
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_SHA", "0123abc")
        .github_actions()
        .run();
    out.assert_code(0).assert_no_panic();
    let json = out.json();
    assert_eq!(json["result"], "succeeded", "{}", out.stderr);
    assert_eq!(
        short(json["task_definition_arn"].as_str().unwrap()),
        "web:2"
    );
    assert_eq!(json["previous_task_definition_arn"], v1.as_str());
    let (id, td) = e.primary("web");
    assert_eq!(short(&td), "web:2");
    assert_eq!(json["deployment_id"], id.as_str());
    assert_eq!(json["detail"]["services"][0]["result"], "succeeded");
    assert!(json["duration_s"].as_f64().unwrap() > 0.0);
    assert_eq!(out.output("result"), "succeeded");
    assert_eq!(out.output("deployment_id"), id);
    assert_eq!(short(out.output("task_definition_arn")), "web:2");
    assert!(
        out.summary
            .contains("| prod/web | ✅ succeeded | web:2 | web:1 |"),
        "{}",
        out.summary
    );
    assert!(out.summary.contains("Timeline"), "{}", out.summary);
    // Rendered from the service's definition: env and tags carried, image replaced.
    let td = e.rt.block_on(
        e.ecs
            .describe_task_definition()
            .task_definition("web:2")
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send(),
    );
    let td = td.unwrap();
    let c = &td.task_definition().unwrap().container_definitions()[0];
    assert_eq!(c.image(), Some("app:v2"));
    assert_eq!(c.environment()[0].name(), Some("MODE"));
    let tags: Vec<(&str, &str)> = td
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert!(tags.contains(&("team", "web")), "{tags:?}");
    assert!(tags.contains(&("github:run-id", "4242")), "{tags:?}");
    assert!(tags.contains(&("github:sha", "0123abc")), "{tags:?}");
    assert_eq!(e.wait_stable("web").running_count(), 2);
}

/// Several services of one family share one new revision and all roll to it.
#[test]
fn deploys_several_services_with_one_revision() {
    let e = env();
    let v1 = e.web_service("app:v1", breaker(true));
    e.create_service("worker", &v1, 1, breaker(true));
    let out = e.deploy(&[
        "--service",
        "web",
        "--service",
        "prod/worker",
        "--image",
        "app=app:v2",
        "--max-parallel",
        "2",
    ]);
    out.assert_code(0);
    let json = out.json();
    assert_eq!(json["result"], "succeeded");
    assert_eq!(
        e.revisions("web").len(),
        2,
        "one new revision for both services"
    );
    assert_eq!(short(&e.primary("web").1), "web:2");
    assert_eq!(short(&e.primary("worker").1), "web:2");
    let services = json["detail"]["services"].as_array().unwrap();
    assert_eq!(services.len(), 2);
    assert!(services.iter().all(|s| s["result"] == "succeeded"));
    assert_eq!(json["services"].as_array().unwrap().len(), 2);
}

/// A deploy of what already runs registers nothing and starts no deployment.
#[test]
fn unchanged_definition_is_not_registered_again() {
    let e = env();
    e.web_service("app:v1", breaker(true));
    let before = e.primary("web");
    let out = e.deploy_web("app:v1", &[]);
    out.assert_code(0);
    assert_eq!(out.json()["result"], "unchanged");
    assert_eq!(out.json()["deployment_id"], before.0.as_str());
    assert_eq!(e.revisions("web").len(), 1);
    assert_eq!(e.primary("web"), before);
    assert_eq!(e.describe("web").deployments().len(), 1);
    assert!(out.stderr.contains("unchanged"), "{}", out.stderr);
}

#[test]
fn deploys_from_a_file() {
    let e = env();
    e.web_service("app:v1", breaker(true));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.json");
    std::fs::write(
        &file,
        r#"{"taskDefinition": {"family": "web", "revision": 9, "status": "ACTIVE", "someNewField": 1,
             "containerDefinitions": [{"name": "app", "image": "placeholder:0", "essential": true},
                                      {"name": "sidecar", "image": "sidecar:1", "essential": false}]},
            "tags": [{"key": "team", "value": "web"}]}"#,
    )
    .unwrap();
    let out = e.deploy(&[
        "--service",
        "web",
        "--task-definition",
        file.to_str().unwrap(),
        "--image",
        "app=app:v2",
    ]);
    out.assert_code(0);
    assert!(out.stderr.contains("someNewField"), "{}", out.stderr);
    let names: Vec<_> = e
        .task_definition("web:2")
        .container_definitions()
        .iter()
        .map(|c| c.image().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["app:v2", "sidecar:1"]);
}

/// An existing revision given with --task-definition and no overrides is deployed as is.
#[test]
fn deploys_an_existing_revision_as_is() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.register("web", "app:v2");
    e.create_service("web", &v1, 1, breaker(true));
    let out = e.deploy(&["--service", "web", "--task-definition", "web:2"]);
    out.assert_code(0);
    assert_eq!(
        short(out.json()["task_definition_arn"].as_str().unwrap()),
        "web:2"
    );
    assert_eq!(e.revisions("web").len(), 2, "nothing registered");
    assert_eq!(short(&e.primary("web").1), "web:2");
    // A container no definition has is a usage error, even when found only after reading AWS.
    let out = e.deploy(&["--service", "web", "--image", "ap=app:v3"]);
    out.assert_code(2);
    assert!(out.stderr.contains("did you mean `app`"), "{}", out.stderr);
}

/// Regression: re-running the same deploy while the previous run's deployment is still
/// IN_PROGRESS (the job crashed or timed out mid-wait) reported `unchanged`, exit 0, because the
/// service was already set to the revision — a false green for a deployment that never completed.
/// The re-run must follow that deployment and, when it fails, return to the revision it replaced.
#[test]
fn rerun_during_in_progress_deployment_is_not_unchanged() {
    let e = env();
    let v1 = e.web_service("app:v1", breaker(false));
    // The first run leaves its deployment in flight (as a crash would).
    let first = e.deploy_web("app:slow", &["--timeout", "1s", "--no-rollback"]);
    first.assert_code(4);
    let (in_flight, td) = e.primary("web");
    assert_eq!(short(&td), "web:2");
    let again = e.deploy_web("app:slow", &["--timeout", "2s"]);
    again.assert_code(1);
    let json = again.json();
    assert_eq!(json["result"], "rolled_back", "{}", again.stderr);
    assert_eq!(json["deployment_id"], in_flight.as_str());
    assert_eq!(json["previous_task_definition_arn"], v1.as_str());
    assert_eq!(e.wait_stable("web").task_definition(), Some(v1.as_str()));
    assert_eq!(e.revisions("web").len(), 2, "nothing registered again");
}

/// Regression (#9.11): `--task-definition web` with a `web/` folder in the working directory
/// was read as a file (exit 2, "Is a directory"); it is the family.
#[test]
fn family_named_like_a_folder_is_a_family() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.register("web", "app:v2");
    e.create_service("web", &v1, 1, breaker(true));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("web")).unwrap();
    let out = e
        .cmd()
        .current_dir(dir.path())
        .args(["deploy", "--cluster", "prod", "--service", "web"])
        .args(["--task-definition", "web", "--interval", "200ms"])
        .args(["--output", "json"])
        .run();
    out.assert_code(0);
    assert_eq!(
        short(out.json()["task_definition_arn"].as_str().unwrap()),
        "web:2",
        "{}",
        out.stderr
    );
}

/// #9.6 in ecs-roll: a release to a desiredCount-0 service proves nothing (no task ran the new
/// revision): not green, unless --allow-empty.
#[test]
fn empty_service_is_not_green_without_allow_empty() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 0, breaker(true));
    let out = e.deploy_web("app:v2", &[]);
    out.assert_code(1);
    let json = out.json();
    assert_ne!(json["result"], "succeeded", "{}", out.stderr);
    assert_eq!(json["detail"]["services"][0]["wait"]["result"], "no_tasks");
    let out = e.deploy_web("app:v2", &["--allow-empty"]);
    out.assert_code(0);
    assert_eq!(out.json()["result"], "succeeded", "{}", out.stderr);
    assert_eq!(short(&e.primary("web").1), "web:2");
}
