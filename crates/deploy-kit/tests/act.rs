//! Every action run by a real workflow runner: act (host mode, no Docker) runs
//! tests/workflows/selftest.yml on a copy of this checkout against the local stand-ins (the ECS
//! emulator, moto's RDS and STS, the Distribution registry). Each job installs deploy-kit by
//! itself — a release of this build served over loopback https and verified against the sums
//! recorded in the copy — and checks every action's outputs in later steps. State is read back
//! from the stand-ins afterwards, not from the runner's words.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition,
    DeploymentCircuitBreaker, DeploymentConfiguration, LaunchType, NetworkConfiguration,
    NetworkMode,
};
use ecs_emulator::{Config, Emulator, RunningEmulator, Scenario};
use test_support::{AwsAccount, moto_account, standins, workspace_root};

const SCENARIO: &str = r#"
time_scale: 40
default: { behavior: healthy, start_seconds: 2, healthy_after_seconds: 4 }
run_task: { duration_seconds: 4, exit_code: 0 }
"#;

fn act_bin() -> PathBuf {
    #[allow(clippy::disallowed_methods)]
    let cache = std::env::var("DK_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/deploy-kit")
        });
    let act = cache.join("venv-ci/bin/act");
    assert!(
        act.exists(),
        "{} is missing: run scripts/setup",
        act.display()
    );
    act
}

/// Today's state in the stand-ins: a service `prod/web` running v1 with the circuit breaker, and
/// a Postgres instance `app-db`.
struct World {
    rt: tokio::runtime::Runtime,
    emulator: RunningEmulator,
    account: AwsAccount,
    ecs: aws_sdk_ecs::Client,
}

impl World {
    fn new(cluster: &str) -> World {
        let stand = standins();
        let account = moto_account();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emulator = rt
            .block_on(Emulator::start(Config::new(
                Scenario::parse(SCENARIO).unwrap(),
            )))
            .unwrap();
        let ecs =
            aws_sdk_ecs::Client::new(&rt.block_on(test_support::sdk_config(&emulator.url(), None)));
        let rds = aws_sdk_rds::Client::new(
            &rt.block_on(test_support::sdk_config(&stand.moto, Some(&account))),
        );
        rt.block_on(async {
            ecs.create_cluster()
                .cluster_name(cluster)
                .send()
                .await
                .unwrap();
            let td = ecs
                .register_task_definition()
                .family("web")
                .network_mode(NetworkMode::Awsvpc)
                .requires_compatibilities(Compatibility::Fargate)
                .cpu("256")
                .memory("512")
                .container_definitions(
                    ContainerDefinition::builder()
                        .name("web")
                        .image(format!("{}/app/web:v1", stand.registry))
                        .essential(true)
                        .build(),
                )
                .send()
                .await
                .unwrap();
            let vpc = AwsVpcConfiguration::builder()
                .subnets("subnet-1")
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .unwrap();
            let breaker = DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build();
            ecs.create_service()
                .cluster(cluster)
                .service_name("web")
                .task_definition(td.task_definition().unwrap().task_definition_arn().unwrap())
                .desired_count(2)
                .launch_type(LaunchType::Fargate)
                .network_configuration(
                    NetworkConfiguration::builder()
                        .awsvpc_configuration(vpc)
                        .build(),
                )
                .deployment_configuration(
                    DeploymentConfiguration::builder()
                        .deployment_circuit_breaker(breaker)
                        .build(),
                )
                .send()
                .await
                .unwrap();
            test_support::postgres_instance(&rds, "app-db")
                .send()
                .await
                .unwrap();
        });
        World {
            rt,
            emulator,
            account,
            ecs,
        }
    }

    fn service_task_definition(&self, cluster: &str) -> String {
        self.rt.block_on(async {
            let out = self
                .ecs
                .describe_services()
                .cluster(cluster)
                .services("web")
                .send()
                .await
                .unwrap();
            out.services()[0].task_definition().unwrap().to_string()
        })
    }
}

/// One act run of one job of a workflow in a fresh copy of this checkout; returns act's exit
/// code and its log.
fn act(
    workflow: &str,
    job: &str,
    env: &[(String, String)],
    extra: &[&str],
    prepare: impl FnOnce(&Path),
) -> (i32, String) {
    let rel = common::release();
    let copy = common::checkout_copy(Some(&rel.sums));
    prepare(copy.path());
    let certs = tempfile::tempdir().unwrap();
    let server = common::serve(rel.served.path(), certs.path(), "https");
    let cache = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@localhost"])
            .args(args)
            .current_dir(copy.path())
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    };
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "checkout under test"]);
    let mut lines: Vec<(String, String)> = vec![
        ("DK_VERSION".into(), common::tag()),
        ("DK_RELEASE_BASE_URL".into(), server.url.clone()),
        ("CURL_CA_BUNDLE".into(), server.ca.display().to_string()),
        ("DK_CACHE".into(), cache.path().display().to_string()),
    ];
    lines.extend(env.iter().cloned());
    let env_file = copy.path().join(".act-env");
    let text: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(&env_file, text).unwrap();
    let out = Command::new(act_bin())
        .args(["workflow_dispatch", "-W", workflow, "-j", job])
        .args([
            "-P",
            "ubuntu-latest=-self-hosted",
            "-P",
            "ubuntu-24.04=-self-hosted",
        ])
        .args(["--use-gitignore=false", "--env-file"])
        .arg(&env_file)
        .args(extra)
        .current_dir(copy.path())
        .env("HOME", cache.path())
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), log)
}

fn stand_env(world: &World, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let stand = standins();
    let mut env: Vec<(String, String)> = world.account.env(&stand.moto);
    env.push(("AWS_ENDPOINT_URL_ECS".into(), world.emulator.url()));
    env.push(("DK_TEST_CLUSTER".into(), "prod".into()));
    env.push(("DK_TEST_SERVICE".into(), "web".into()));
    env.push(("DK_TEST_DB".into(), "app-db".into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

fn count(log: &str, needle: &str) -> usize {
    log.matches(needle).count()
}

/// A fresh job whose only deploy-kit step is `uses: ./actions/wait-stable` installs deploy-kit by
/// itself and passes the wait's outputs to the next step.
#[test]
fn fresh_job_with_one_tool_action() {
    let world = World::new("prod");
    let env = stand_env(&world, &[]);
    let (code, log) = act("tests/workflows/selftest.yml", "fresh", &env, &[], |_| ());
    assert_eq!(code, 0, "{log}");
    assert_eq!(count(&log, "sha256 verified against releases/"), 1, "{log}");
    assert!(
        log.contains("wait-stable: succeeded, arn:aws:ecs:"),
        "{log}"
    );
    assert!(log.contains("Job succeeded"), "{log}");
}

/// Every tool action in one job, each output feeding the next; deploy-kit installed once.
#[test]
fn every_tool_action_in_one_job() {
    let world = World::new("prod");
    let image = tempfile::tempdir().unwrap();
    let st = Command::new("python3")
        .arg(workspace_root().join("scripts/make-oci-image.py"))
        .arg(image.path().join("v2"))
        .args(["--tag", "v2", "--version", "2.0.0"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let repo = test_support::unique("act/web");
    let registry = format!("http://{}", standins().registry);
    let image_dir = image.path().join("v2").display().to_string();
    let env = stand_env(
        &world,
        &[
            ("DK_TEST_IMAGE_DIR", &image_dir),
            ("DK_TEST_REGISTRY", &registry),
            ("DK_TEST_REPOSITORY", &repo),
        ],
    );
    let (code, log) = act("tests/workflows/selftest.yml", "tools", &env, &[], |_| ());
    assert_eq!(code, 0, "{log}");
    assert_eq!(count(&log, "sha256 verified against releases/"), 1, "{log}");
    assert_eq!(count(&log, "deploy-kit already installed in"), 6, "{log}");
    for expected in [
        "ecr-push: pushed ",
        "rds-snapshot: created pre-release-v2 (instance, available)",
        "ecs-roll: succeeded ",
        "wait-stable: succeeded on ",
        "ecs-roll rollback --dry-run: dry_run",
        "secrets-sync: applied, 3 added",
        "smoke-test: passed (1 passed, 0 failed)",
    ] {
        assert!(log.contains(expected), "`{expected}` missing:\n{log}");
    }
    assert!(
        world
            .service_task_definition("prod")
            .ends_with(":task-definition/web:2"),
        "the service should run web:2 now"
    );
}

/// The team's ECR repository exists (infrastructure as code made it), in the role's account.
fn create_ecr_repository(account: &AwsAccount, name: &str) {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=0",
        account.access_key_id
    );
    let headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        (
            "X-Amz-Target",
            "AmazonEC2ContainerRegistry_V20150921.CreateRepository",
        ),
        ("X-Amz-Security-Token", account.session_token.as_str()),
        ("Authorization", auth.as_str()),
    ];
    let body = format!("{{\"repositoryName\":\"{name}\"}}");
    let (status, text) =
        test_support::http_request(&standins().moto, "POST", "/", &headers, body.as_bytes());
    assert_eq!(status, 200, "moto CreateRepository: {text}");
}

/// The app repository's own commands that .github/workflows/deploy.yml calls: lint, test, build an
/// OCI image layout (here: the project's small image maker), migrate (run inside the task).
fn app_scripts(root: &Path) {
    let ci = root.join("ci");
    std::fs::create_dir_all(&ci).unwrap();
    let scripts = [
        ("lint", "echo app: lint ok\n".to_string()),
        ("test", "echo app: tests ok\n".to_string()),
        (
            "build-image",
            "python3 scripts/make-oci-image.py \"$1\" --tag app --version 2.0.0 >/dev/null\necho app: image built\n"
                .to_string(),
        ),
        ("migrate", "echo migrated\n".to_string()),
    ];
    // The smoke gate's spec: the environment's URL (here the stand-in registry) must answer.
    std::fs::write(
        ci.join("smoke.yml"),
        "checks:\n  - name: up\n    url: '{{base_url}}/v2/'\n    expect:\n      status: 200\n",
    )
    .unwrap();
    for (name, body) in scripts {
        let path = ci.join(name);
        std::fs::write(
            &path,
            format!("#!/usr/bin/env bash\nset -euo pipefail\n{body}"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// deploy.yml's deploy job, end to end under act with workflow_dispatch inputs: lint and test
/// run first, the image is built and pushed, the secrets the task definition references checked,
/// the database snapshotted, the service migrated, rolled and smoke-tested, the release recorded
/// as a GitHub deployment (test-support's GitHub fake) — AWS reached only through GitHub OIDC (no
/// keys in the job), the summary written.
#[test]
fn deploy_workflow_dispatch_to_staging() {
    let world = World::new("app");
    let stand = standins();
    let oidc = test_support::GithubOidcFake::start(
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm8vcjplbnZpcm9ubWVudDpzdGFnaW5nIn0.c2ln",
    );
    let role = format!("arn:aws:iam::{}:role/deploy", world.account.account_id);
    create_ecr_repository(&world.account, "app/web");
    let token = "ghs_actdeploytoken0123456789";
    let github = test_support::github_fake::GithubFake::start(token);
    github.add_repo("acme/app");
    let env: Vec<(String, String)> = vec![
        ("AWS_ENDPOINT_URL".into(), stand.moto.clone()),
        ("AWS_ENDPOINT_URL_ECS".into(), world.emulator.url()),
        ("ACTIONS_ID_TOKEN_REQUEST_URL".into(), oidc.url.clone()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
            "runtime-request-token".into(),
        ),
        ("GITHUB_API_URL".into(), github.url.clone()),
        ("GITHUB_REPOSITORY".into(), "acme/app".into()),
    ];
    let registry = format!("http://{}", stand.registry);
    let vars = [
        format!("DEPLOY_ROLE_ARN={role}"),
        format!("ECR_REGISTRY={registry}"),
        "DB_ID=app-db".to_string(),
        "AWS_REGION=us-east-1".to_string(),
        format!("APP_URL={registry}"),
    ];
    let secret = format!("GITHUB_TOKEN={token}");
    let mut extra = vec![
        "--input",
        "action=deploy",
        "--input",
        "environment=staging",
        "-s",
        secret.as_str(),
    ];
    for v in &vars {
        extra.extend(["--var", v.as_str()]);
    }
    let (code, log) = act(
        ".github/workflows/deploy.yml",
        "deploy",
        &env,
        &extra,
        app_scripts,
    );
    assert_eq!(code, 0, "{log}");
    for expected in [
        "app: lint ok",
        "app: tests ok",
        "app: image built",
        "deploy summary: staging succeeded ",
        "secrets verified",
        "smoke test passed",
    ] {
        assert!(log.contains(expected), "`{expected}` missing:\n{log}");
    }
    assert!(
        world
            .service_task_definition("app")
            .ends_with(":task-definition/web:2"),
        "the service should run web:2 now:\n{log}"
    );
    assert!(
        !oidc.requests.lock().unwrap().is_empty(),
        "AWS was reached without GitHub OIDC"
    );
    let deployments = github.deployments("acme/app");
    assert_eq!(deployments.len(), 1, "{deployments:?}\n{log}");
    let d = &deployments[0];
    assert_eq!(d.environment, "staging");
    assert_eq!(d.states(), ["in_progress", "success"], "{log}");
    assert!(
        d.sha.len() == 40 && d.statuses[1].log_url.contains("/acme/app/actions/runs/"),
        "{d:?}"
    );
    assert!(
        log.contains(&format!("GitHub deployment {}", d.id)),
        "{log}"
    );
    assert!(!log.contains(token), "the token reached the log");

    // The release manager's rollback job: back to web:1, recorded as a GitHub deployment (task
    // `rollback`) that succeeds, the release it undid marked inactive.
    let released = d.id;
    extra[1] = "action=rollback";
    let (code, log) = act(
        ".github/workflows/deploy.yml",
        "rollback",
        &env,
        &extra,
        app_scripts,
    );
    assert_eq!(code, 0, "{log}");
    assert!(
        world
            .service_task_definition("app")
            .ends_with(":task-definition/web:1"),
        "the service should run web:1 again:\n{log}"
    );
    let deployments = github.deployments("acme/app");
    assert_eq!(deployments.len(), 2, "{deployments:?}\n{log}");
    let rollback = deployments.iter().find(|d| d.id != released).unwrap();
    assert_eq!(
        (rollback.task.as_str(), rollback.environment.as_str()),
        ("rollback", "staging")
    );
    assert_eq!(rollback.states(), ["in_progress", "success"], "{log}");
    let undone = deployments.iter().find(|d| d.id == released).unwrap();
    assert_eq!(
        undone.states(),
        ["in_progress", "success", "inactive"],
        "{log}"
    );
    let summary = log
        .lines()
        .find(|l| l.contains("rollback summary: staging rolled_back "))
        .unwrap_or_else(|| panic!("no rollback summary:\n{log}"));
    assert!(
        summary.ends_with(&format!(
            ":task-definition/web:1, GitHub deployment {}",
            rollback.id
        )),
        "{summary}"
    );
    assert!(!log.contains(token), "the token reached the log");
}
