//! The command line: bad input exits 2 before any AWS call, `--help` teaches, every action input is a flag.

use super::*;

/// Every bad input exits 2 before any AWS call (the endpoint is a port nothing listens on).
#[test]
fn bad_input_exits_2_without_calling_aws() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("td.json");
    std::fs::write(
        &good,
        r#"{"family": "web", "containerDefinitions": [{"name": "app", "image": "app:v1"}]}"#,
    )
    .unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "{\n  \"family\": \"web\"\n  \"containerDefinitions\": []\n}",
    )
    .unwrap();
    let good = good.to_str().unwrap().to_string();
    let broken = broken.to_str().unwrap().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--task-definition",
                &good,
                "--image",
                "apq=app:v2",
            ],
            "did you mean `app`",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--image",
                "app=App:V2",
            ],
            "lowercase",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--image",
                "app",
            ],
            "CONTAINER=IMAGE",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--task-definition",
                "missing/td.json",
            ],
            "cannot read task definition file",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--task-definition",
                &broken,
            ],
            "line 3, column",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--env",
                "app=X",
            ],
            "CONTAINER:NAME=VALUE",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--secret",
                "app:X=arn:aws:s3:::b",
            ],
            "Secrets Manager",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--image",
                "app=a:1",
                "--image",
                "app=a:2",
            ],
            "two images",
        ),
        (
            vec!["deploy", "--service", "s", "--image", "app=a:1"],
            "needs a cluster",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--smoke",
                "/nonexistent/smoke.yml",
            ],
            "cannot read the spec /nonexistent/smoke.yml",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--timeout",
                "1s",
                "--interval",
                "5s",
            ],
            "--interval",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--migrate-container",
                "app",
                "--migrate-command",
                "echo 'x",
            ],
            "unterminated",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--task-definition",
                &good,
                "--migrate-container",
                "db",
                "--migrate-command",
                "x",
            ],
            "not in",
        ),
        (
            vec![
                "rollback",
                "--cluster",
                "c",
                "--service",
                "s",
                "--to",
                "web:zero",
            ],
            "not a task definition",
        ),
        (
            vec!["prune", "--family", "we b", "--keep", "2", "--cluster", "c"],
            "not a task definition family",
        ),
    ];
    let endpoint = format!("http://127.0.0.1:{}", unused_port());
    for (args, needle) in cases {
        let out = Cmd::bin("ecs-roll")
            .args(args.iter().copied())
            .env("AWS_ENDPOINT_URL_ECS", &endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .run();
        assert_eq!(out.code, 2, "{args:?}\n{}", out.stderr);
        assert!(
            out.stderr.contains(needle),
            "{args:?}: expected `{needle}` in\n{}",
            out.stderr
        );
        out.assert_no_panic();
    }
    // Conflicting flags are refused by the parser (exit 2 too).
    for args in [
        vec![
            "deploy",
            "--cluster",
            "c",
            "--service",
            "s",
            "--no-rollback",
            "--rollback-all",
        ],
        vec![
            "deploy",
            "--cluster",
            "c",
            "--service",
            "s",
            "--migrate-container",
            "app",
        ],
        vec![
            "deploy",
            "--cluster",
            "c",
            "--service",
            "s",
            "--max-parallel",
            "0",
        ],
    ] {
        let out = Cmd::bin("ecs-roll")
            .args(args.iter().copied())
            .env("AWS_ENDPOINT_URL_ECS", &endpoint)
            .run();
        assert_eq!(out.code, 2, "{args:?}\n{}", out.stderr);
    }
}

/// --help teaches with examples and names the policies.
#[test]
fn help_has_examples_and_policies() {
    let out = Cmd::bin("ecs-roll").arg("--help").run();
    out.assert_code(0);
    for needle in [
        "Examples:",
        "ecs-roll deploy --cluster prod",
        "--rollback-all",
        "replaced",
    ] {
        assert!(
            out.stdout.contains(needle),
            "{needle} missing:\n{}",
            out.stdout
        );
    }
}

/// Every input of actions/ecs-roll/action.yml is a flag of some ecs-roll command, and every
/// output the action promises is one the tool writes.
#[test]
fn action_inputs_are_flags() {
    use clap::CommandFactory;
    let root = test_support::workspace_root();
    let yaml = std::fs::read_to_string(root.join("actions/ecs-roll/action.yml")).unwrap();
    let cli = ecs_roll::Cli::command();
    let mut flags: Vec<String> = cli
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect();
    for sub in cli.get_subcommands() {
        flags.extend(
            sub.get_arguments()
                .filter_map(|a| a.get_long().map(str::to_owned)),
        );
    }
    let mut section = "";
    let mut inputs = Vec::new();
    for line in yaml.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line.trim_end_matches(':');
        } else if section == "inputs"
            && let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !name.starts_with(' ')
        {
            inputs.push(name.to_string());
        }
    }
    assert!(inputs.len() > 20, "{inputs:?}");
    // `command` picks the subcommand; `version` is the action's own (which deploy-kit to install).
    for i in inputs.iter().filter(|i| *i != "command" && *i != "version") {
        assert!(flags.contains(i), "input `{i}` is not an ecs-roll flag");
    }
    for out in [
        "task_definition_arn",
        "previous_task_definition_arn",
        "deployment_id",
        "result",
    ] {
        assert!(
            yaml.contains(&format!("  {out}:\n")),
            "output {out} missing"
        );
    }
}
