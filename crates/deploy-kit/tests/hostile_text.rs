//! Hostile third-party text (issue 10) through every tool that prints it, run as a GitHub Actions
//! step (`GITHUB_ACTIONS=true`): a registry error body (a loopback fake registry), a service event
//! (the ECS emulator's `inject-event` knob), a stopped-task reason and a migration stop reason
//! (emulator scenarios whose tasks fail to start with that reason). The captured stderr and
//! stdout are read with the runner's own rules — lines split on `\n`, `\r\n` and a lone `\r`;
//! `::cmd` at a line's start after trimming, `##[cmd]` anywhere — and hold no command the tool
//! did not mean: only groups, masks of its own secrets, and annotations titled by the tool.

use std::time::Duration;

use aws_sdk_ecs::Client;
use dk_core::gha::{command_name, runner_commands};
use dk_core::untrusted::split_lines;
use ecs_emulator::{Config, RunningEmulator, Scenario};
use test_support::ecs::{CLUSTER, Container, EcsFixture, breaker, create_service, register};
use test_support::fake_registry::{Behaviour, FakeRegistry};
use test_support::world::wait_settled;
use test_support::{Cmd, Output};

mod common;
use common::aws::{DEPLOY_PROD_WEB, WAIT_STABLE_PROD_WEB, with};

/// Marks every hostile string, so a command built from one is recognisable.
const MARK: &str = "PWNED";

/// Every form from the issue: `\r` then a command, the legacy syntax, fake masks, errors and
/// outputs, ANSI, bidi, NEL, a non-breaking space before `::`.
fn hostile() -> String {
    format!(
        "x\r::stop-commands::{MARK}tok\r\n##[set-output name=image]{MARK}evil\n\
         ::add-mask::{MARK}mask\r::error::{MARK}err\r  ::set-output name=x::{MARK}out\r\
         \u{a0}::warning::{MARK}warn \u{1b}[31mansi\u{1b}[0m \u{202E}bidi\u{2066} nel\u{85}end \
         a##[error]{MARK}legacy"
    )
}

/// One line of 1 MiB.
fn huge() -> String {
    format!("{MARK}{}", "A".repeat(1 << 20))
}

/// No command the tool did not mean, no line past the cap, and the hostile text was shown
/// (neutralised), so the check is not vacuous.
#[track_caller]
fn assert_no_injected_command(out: &Output, tool: &str) {
    let meant = |cmd: &str| {
        !cmd.starts_with("##[")
            && match command_name(cmd) {
                "group" | "endgroup" => true,
                "add-mask" => !cmd.contains(MARK),
                "warning" | "error" | "notice" => {
                    cmd.contains(&format!(" title={tool}::")) || cmd.contains(" title=deploy-kit::")
                }
                _ => false,
            }
    };
    let commands: Vec<String> = [&out.stderr, &out.stdout]
        .into_iter()
        .flat_map(|text| runner_commands(text))
        .collect();
    test_support::figures::record(
        "hostile_text",
        serde_json::json!({
            "tool": tool,
            "commands": commands.len(),
            "unintended": commands.iter().filter(|c| !meant(c)).count(),
        }),
    );
    for (stream, text) in [("stderr", &out.stderr), ("stdout", &out.stdout)] {
        for cmd in runner_commands(text) {
            assert!(
                meant(&cmd),
                "{stream} carries an injected command: {cmd:?}\n{text}"
            );
        }
        // Log lines are capped; stdout's JSON keeps values exact (escaped), however long.
        if stream == "stderr" {
            for line in split_lines(text) {
                assert!(
                    line.len() < 64 * 1024,
                    "stderr has a {} byte line",
                    line.len()
                );
            }
        }
    }
    assert!(
        out.stderr.contains(MARK) && out.stderr.contains("stop-commands"),
        "the hostile text never reached stderr, so this proves nothing:\n{}",
        out.stderr
    );
}

/// ecr-push: the registry's error body is hostile, as JSON `errors[].message` and as plain text.
#[test]
fn registry_error_body() {
    let dir = tempfile::tempdir().unwrap();
    test_support::oci::oci_layout(dir.path(), 1, &[64], "latest");
    let json_body = serde_json::json!({"errors": [{"code": "DENIED", "message": hostile()}]});
    for (body, json) in [
        (json_body.to_string(), false),
        (hostile(), false),
        (json_body.to_string(), true),
    ] {
        let fake = FakeRegistry::start(Behaviour::ErrorBody { status: 400, body });
        let mut cmd = Cmd::bin("deploy-kit")
            .args(["ecr-push", "--source"])
            .arg(format!("oci:{}", dir.path().display()))
            .args(["--repository", "app", "--tag", "v1", "--registry"])
            .arg(fake.url())
            .args(["--no-ecr-auth"])
            .github_actions()
            .timeout(Duration::from_secs(60));
        if json {
            cmd = cmd.args(["--output", "json"]);
        }
        let out = cmd.run();
        out.assert_code(3).assert_no_panic();
        assert_no_injected_command(&out, "ecr-push");
        if json {
            // The JSON keeps the message exact, only escaped.
            let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
            let msg = v["error"]["message"].as_str().unwrap();
            assert!(msg.contains("\r::stop-commands::"), "{msg:?}");
        }
    }
}

const TICK: Duration = Duration::from_millis(300);

struct Ecs {
    emulator: RunningEmulator,
    ecs: Client,
    rt: tokio::runtime::Runtime,
}

/// An emulator whose `app:hostile` tasks fail to start with a hostile (and 1 MiB) reason, and a
/// settled service `prod/web` on `app:v1`.
fn ecs() -> Ecs {
    let reason = format!("CannotPullContainerError: {} {}", hostile(), huge());
    let scenario = serde_json::json!({
        "time_scale": 40,
        "images": {
            "app:v1": {"behavior": "healthy", "start_seconds": 2, "healthy_after_seconds": 3},
            "app:hostile": {"behavior": "fail_to_start", "start_seconds": 2, "reason": reason},
        },
        "run_task": {"duration_seconds": 2, "exit_code": 0},
    });
    let scenario = Scenario::parse(&scenario.to_string()).unwrap();
    let (EcsFixture { emulator, ecs }, rt) = EcsFixture::start_blocking(Config::new(scenario));
    let e = Ecs { emulator, ecs, rt };
    let v1 = e.register("app:v1");
    e.rt.block_on(async {
        create_service(&e.ecs, CLUSTER, "web", &v1, 1, breaker(true)).await;
        wait_settled(&e.ecs, CLUSTER, "web", Duration::from_secs(30)).await;
    });
    e
}

impl Ecs {
    /// A revision of `web` whose container `app` runs `image`.
    fn register(&self, image: &str) -> String {
        self.rt
            .block_on(register(&self.ecs, "web", Container::new("app", image)))
    }

    fn cmd(&self) -> Cmd {
        Cmd::bin("deploy-kit")
            .ecs_emulator(&self.emulator.url())
            .github_actions()
            .timeout(Duration::from_secs(120))
    }

    /// Run `cmd` while hostile events (one of them 1 MiB) keep appearing on the service.
    fn run_with_hostile_events(&self, cmd: Cmd) -> Output {
        let running = std::thread::spawn(move || cmd.run());
        let mut n = 0;
        while !running.is_finished() {
            let text = if n % 4 == 3 { huge() } else { hostile() };
            self.emulator.inject_event("prod", "web", &text).unwrap();
            n += 1;
            std::thread::sleep(TICK);
        }
        running.join().unwrap()
    }
}

/// wait-stable: hostile service events and stopped-task reasons while a rollout fails.
#[test]
fn service_events_and_stopped_reasons_in_wait_stable() {
    let e = ecs();
    let td = e.register("app:hostile");
    e.rt.block_on(
        e.ecs
            .update_service()
            .cluster("prod")
            .service("web")
            .task_definition(td)
            .send(),
    )
    .unwrap();
    let out = e.run_with_hostile_events(e.cmd().args(WAIT_STABLE_PROD_WEB).args([
        "--interval",
        "200ms",
        "--timeout",
        "90s",
    ]));
    out.assert_no_panic();
    // Failed (1), or already rolled back by the circuit breaker when the wait began (0).
    assert!([0, 1].contains(&out.code), "{}", out.stderr);
    assert_no_injected_command(&out, "wait-stable");
}

/// ecs-roll: a migration task stops with a hostile reason; then a rollout whose tasks do.
#[test]
fn migration_and_rollout_stop_reasons_in_ecs_roll() {
    let e = ecs();
    // Both runs deploy app:hostile to prod/web, polling every 200 ms.
    let deploy = with(
        &DEPLOY_PROD_WEB,
        &["--image", "app=app:hostile", "--interval", "200ms"],
    );
    let migrate = e.run_with_hostile_events(e.cmd().args(deploy.clone()).args([
        "--migrate-container",
        "app",
        "--migrate-command",
        "bin/migrate",
        "--output",
        "json",
    ]));
    migrate.assert_no_panic();
    assert_eq!(migrate.code, 1, "the migration failed:\n{}", migrate.stderr);
    assert_no_injected_command(&migrate, "ecs-roll");

    let roll = e.run_with_hostile_events(e.cmd().args(deploy.clone()).args(["--timeout", "90s"]));
    roll.assert_no_panic();
    assert_eq!(roll.code, 1, "the rollout failed:\n{}", roll.stderr);
    assert_no_injected_command(&roll, "ecs-roll");
}
