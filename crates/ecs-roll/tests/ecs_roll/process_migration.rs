//! The migration as a real process (the emulator's process mode): `app:v2` is a small HTTP
//! server, and its `bin/migrate` program a shell script that records itself in a file and
//! prints its progress — or, with `--broken`, fails with the database's error on stderr. Its
//! exit code, not the scenario, decides the release; its output reaches moto's CloudWatch Logs
//! through the emulator's awslogs driver, where ecs-roll reads it back.

use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, LogConfiguration, LogDriver};
use test_support::{standins, unique};

use super::*;

/// Serves `/health` on $PORT (the service's v2 tasks).
const SERVE: &str = r#"d=$(mktemp -d); echo ok > "$d/health"; cd "$d"; exec python3 -m http.server "$PORT" --bind 127.0.0.1"#;
/// The migration: progress on stdout, recorded in $DB_FILE with the task definition's $MODE;
/// `--broken` fails its last step on stderr.
const MIGRATE: &str = r#"echo "== 0001_create_users: migrated"
if [ "$1" = --broken ]; then echo 'ERROR: relation "meal_plans" already exists' >&2; exit 1; fi
echo "0001_create_users $MODE" >> "$DB_FILE"; echo "== done""#;

impl Env {
    /// Process mode for `app:v2` (logs to moto), the rest as the suite's scenario.
    fn with_processes(&self, db_file: &std::path::Path) {
        let mut scenario = Scenario::parse(SCENARIO).unwrap();
        let doc = serde_json::json!({
            "cloudwatch_logs_url": standins().moto,
            "images": {"app:v2": {
                "command": ["sh", "-c", SERVE],
                "environment": {"DB_FILE": db_file},
                "programs": {"bin/migrate": ["sh", "-c", MIGRATE, "migrate"]},
            }},
        });
        scenario.processes = Some(serde_json::from_value(doc).unwrap());
        self.emulator.set_scenario(scenario);
    }

    /// `web` on `app:v1` (MODE=prod), logging to a new moto log group (prefix `ecs`).
    fn logged_service(&self) -> String {
        let group = format!("/ecs/{}", unique("migrate"));
        let logs = self.rt.block_on(async {
            aws_sdk_cloudwatchlogs::Client::new(
                &test_support::sdk_config(&standins().moto, None).await,
            )
        });
        self.rt
            .block_on(logs.create_log_group().log_group_name(&group).send())
            .unwrap();
        let container = ContainerDefinition::builder()
            .name("app")
            .image("app:v1")
            .essential(true)
            .environment(KeyValuePair::builder().name("MODE").value("prod").build())
            .log_configuration(
                LogConfiguration::builder()
                    .log_driver(LogDriver::Awslogs)
                    .options("awslogs-group", &group)
                    .options("awslogs-region", "us-east-1")
                    .options("awslogs-stream-prefix", "ecs")
                    .build()
                    .unwrap(),
            )
            .build();
        let out = self
            .rt
            .block_on(
                self.ecs
                    .register_task_definition()
                    .family("web")
                    .container_definitions(container)
                    .send(),
            )
            .unwrap();
        let v1 = out
            .task_definition()
            .unwrap()
            .task_definition_arn()
            .unwrap();
        self.create_service("web", v1, 1, breaker(true));
        group
    }

    fn deploy_migrating(&self, command: &str) -> Output {
        self.cmd()
            .env("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", standins().moto)
            .args(["deploy", "--cluster", "prod", "--service", "web"])
            .args(["--image", "app=app:v2", "--migrate-command", command])
            .args([
                "--interval",
                "200ms",
                "--timeout",
                "60s",
                "--output",
                "json",
            ])
            .github_actions()
            .run()
    }
}

fn db_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    (dir, path)
}

/// The migration process ran once, on the new revision's environment, and exited 0: the
/// release goes on and v2 rolls out.
#[test]
fn migration_process_exiting_0_lets_the_release_continue() {
    let e = env();
    let (_dir, db) = db_file();
    e.with_processes(&db);
    e.logged_service();
    let out = e.deploy_migrating("bin/migrate");
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.json()["result"], "succeeded", "{}", out.stderr);
    assert!(
        out.stderr.contains("migration: container app exit code 0"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&db).unwrap_or_default(),
        "0001_create_users prod\n",
        "the migration process ran once with the task definition's environment"
    );
    assert_eq!(short(&e.primary("web").1), "web:2");
}

/// The migration process exits 1: the release stops with exit 1 before any service change,
/// and ecs-roll shows the process's own lines, read from CloudWatch Logs.
#[test]
fn migration_process_exiting_1_stops_the_release_with_its_own_lines() {
    let e = env();
    let (_dir, db) = db_file();
    e.with_processes(&db);
    e.logged_service();
    let before = e.primary("web");
    let out = e.deploy_migrating("bin/migrate --broken");
    out.assert_code(1).assert_no_panic();
    let json = out.json();
    assert_eq!(json["result"], "failed", "{}", out.stderr);
    assert_eq!(json["detail"]["migration"]["exit_code"], 1, "{json}");
    assert_eq!(e.primary("web"), before, "no new deployment");
    assert_eq!(e.describe("web").deployments().len(), 1);
    assert!(!db.exists(), "the broken migration recorded nothing");
    for line in [
        "migration | == 0001_create_users: migrated",
        "migration | ERROR: relation \"meal_plans\" already exists",
    ] {
        assert!(
            out.stderr.contains(line),
            "`{line}` missing:\n{}",
            out.stderr
        );
    }
    let tail = &json["detail"]["migration"]["log_tail"];
    assert_eq!(tail.as_array().map(Vec::len), Some(2), "{tail}");
}
