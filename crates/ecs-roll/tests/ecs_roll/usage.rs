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
    // Every case but one releases service `s` of cluster `c`: `deploy` puts that in front.
    let deploy = |rest: &[&str]| -> Vec<String> {
        let head = ["deploy", "--cluster", "c", "--service", "s"];
        head.iter().chain(rest).map(|a| a.to_string()).collect()
    };
    let other = |args: &[&str]| -> Vec<String> { args.iter().map(|a| a.to_string()).collect() };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            deploy(&["--task-definition", &good, "--image", "apq=app:v2"]),
            "did you mean `app`",
        ),
        (deploy(&["--image", "app=App:V2"]), "lowercase"),
        (deploy(&["--image", "app"]), "CONTAINER=IMAGE"),
        (
            deploy(&["--task-definition", "missing/td.json"]),
            "cannot read task definition file",
        ),
        (deploy(&["--task-definition", &broken]), "line 3, column"),
        (deploy(&["--env", "app=X"]), "CONTAINER:NAME=VALUE"),
        (
            deploy(&["--secret", "app:X=arn:aws:s3:::b"]),
            "Secrets Manager",
        ),
        (
            deploy(&["--image", "app=a:1", "--image", "app=a:2"]),
            "two images",
        ),
        (
            other(&["deploy", "--service", "s", "--image", "app=a:1"]),
            "needs a cluster",
        ),
        (
            deploy(&["--smoke", "/nonexistent/smoke.yml"]),
            "cannot read the spec /nonexistent/smoke.yml",
        ),
        (
            deploy(&["--timeout", "1s", "--interval", "5s"]),
            "--interval",
        ),
        (
            deploy(&["--migrate-container", "app", "--migrate-command", "echo 'x"]),
            "unterminated",
        ),
        (
            deploy(&["--task-definition", &good, "--migrate-container", "db"])
                .into_iter()
                .chain(["--migrate-command".into(), "x".into()])
                .collect(),
            "not in",
        ),
        (
            other(&[
                "rollback",
                "--cluster",
                "c",
                "--service",
                "s",
                "--to",
                "web:zero",
            ]),
            "not a task definition",
        ),
        (
            other(&["prune", "--family", "we b", "--keep", "2", "--cluster", "c"]),
            "not a task definition family",
        ),
    ];
    let endpoint = format!("http://127.0.0.1:{}", unused_port());
    for (args, needle) in cases {
        let out = Cmd::bin("ecs-roll")
            .args(args.iter().map(String::as_str))
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
        deploy(&["--no-rollback", "--rollback-all"]),
        deploy(&["--migrate-container", "app"]),
        deploy(&["--max-parallel", "0"]),
    ] {
        let out = Cmd::bin("ecs-roll")
            .args(args.iter().map(String::as_str))
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
