//! ECS-native strategies on the emulator: a canary gated by its smoke test on test traffic,
//! `--wait-until`, a rollback during the bake time, and a job cancelled while the deployment
//! waits at its PAUSE hook. The smoke spec points at real HTTP servers on loopback; in
//! `process_mode` the service's tasks are real demo-api processes and the spec runs against the
//! emulator's test listener while production is polled all along.

use std::io::Read;
use std::net::TcpListener;

use aws_sdk_ecs::types::{CanaryConfiguration, DeploymentStrategy};

use super::smoke_gate::{Smoke, health_spec, spec};
use super::*;

/// A CANARY service (10 %, one-minute canary bake, one-minute bake) on `app:v1`.
fn canary(e: &Env) -> String {
    let v1 = e.register("web", "app:v1");
    let config = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::Canary)
        .bake_time_in_minutes(1)
        .canary_configuration(
            CanaryConfiguration::builder()
                .canary_percent(10.0)
                .canary_bake_time_in_minutes(1)
                .build(),
        )
        .build();
    e.create_service("web", &v1, 2, config);
    v1
}

impl Env {
    /// The service's current ServiceDeployment.
    fn current_deployment(&self, name: &str) -> aws_sdk_ecs::types::ServiceDeployment {
        let arn = self
            .describe(name)
            .current_service_deployment()
            .unwrap()
            .to_string();
        self.service_deployment(&arn)
    }

    /// One ServiceDeployment by its ARN.
    fn service_deployment(&self, arn: &str) -> aws_sdk_ecs::types::ServiceDeployment {
        let out = self
            .rt
            .block_on(
                self.ecs
                    .describe_service_deployments()
                    .service_deployment_arns(arn)
                    .send(),
            )
            .unwrap();
        out.service_deployments()[0].clone()
    }

    /// `ecs-roll deploy` of `app:v2` to `web`, returning at `--wait-until until`.
    fn deploy_v2_until(&self, until: &str) -> Output {
        self.deploy(&[
            "--service",
            "web",
            "--image",
            "app=app:v2",
            "--wait-until",
            until,
        ])
    }

    /// The status of a service deployment.
    fn sd_status(&self, arn: &str) -> (String, String) {
        let sd = self.service_deployment(arn);
        (
            sd.status().unwrap().as_str().to_string(),
            sd.lifecycle_stage()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        )
    }
}

fn sd_arn(json: &Value) -> String {
    json["detail"]["services"][0]["service_deployment_arn"]
        .as_str()
        .unwrap_or_else(|| panic!("no service_deployment_arn: {json}"))
        .to_string()
}

use serde_json::Value;

/// The canary passes its smoke test on test traffic: CONTINUE, production shifts (10 %, then
/// all), bake, SUCCESSFUL: green on v2.
#[test]
fn canary_passing_test_traffic_smoke_goes_to_production() {
    let e = env();
    canary(&e);
    let smoke = Smoke::new(200, "test_url");
    let out = smoke.deploy_web_v2(&e, &[]);
    let server = &smoke.server;
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.output("result"), "succeeded", "{}", out.stderr);
    assert_eq!(short(&e.primary("web").1), "web:2");
    assert_eq!(
        server.seen.lock().unwrap().clone(),
        vec!["GET /web/health HTTP/1.1"]
    );
    for shown in [
        "POST_TEST_TRAFFIC_SHIFT",
        "ContinueServiceDeployment CONTINUE",
        "production 10%",
        "BAKE_TIME",
    ] {
        assert!(
            out.stderr.contains(shown),
            "{shown} missing from:\n{}",
            out.stderr
        );
    }
    let arn = sd_arn(&out.json());
    assert_eq!(e.sd_status(&arn).0, "SUCCESSFUL");
}

/// The canary fails its smoke test on test traffic: ROLLBACK before any production traffic
/// shifts; rolled_back (exit 1), cause smoke, the failing check in the outputs and summary.
#[test]
fn canary_failing_test_traffic_smoke_is_rolled_back_before_production() {
    let e = env();
    let v1 = canary(&e);
    let smoke = Smoke::new(503, "test_url");
    let out = smoke.deploy_web_v2(&e, &[]);
    out.assert_code(1).assert_no_panic();
    let json = out.json();
    assert_eq!(json["result"], "rolled_back", "{}", out.stderr);
    assert_eq!(out.output("cause"), "smoke");
    assert!(
        json["message"].as_str().unwrap().contains("status 503"),
        "{json}"
    );
    assert!(out.summary.contains("smoke test failed"), "{}", out.summary);
    assert!(
        !out.stderr.contains("PRODUCTION_TRAFFIC_SHIFT"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("ContinueServiceDeployment ROLLBACK"),
        "{}",
        out.stderr
    );
    assert_eq!(e.sd_status(&sd_arn(&json)).0, "ROLLBACK_SUCCESSFUL");
    assert_eq!(e.wait_stable("web").task_definition(), Some(v1.as_str()));
}

/// `--wait-until` returns `in_progress` (exit 0) at its milestone, the deployment still running;
/// `done` waits for SUCCESSFUL.
#[test]
fn wait_until_each_milestone() {
    let cases = [
        ("test-traffic", "POST_TEST_TRAFFIC_SHIFT"),
        ("production-traffic", "POST_PRODUCTION_TRAFFIC_SHIFT"),
        ("bake", "BAKE_TIME"),
    ];
    for (until, stage) in cases {
        let e = env();
        canary(&e);
        let out = e.deploy_v2_until(until);
        out.assert_code(0).assert_no_panic();
        let json = out.json();
        assert_eq!(json["result"], "in_progress", "{until}: {}", out.stderr);
        let message = json["message"].as_str().unwrap();
        assert!(
            message.contains("wait-stable --service-deployment"),
            "{message}"
        );
        assert!(
            message.contains(stage) || message.contains("_"),
            "{message}"
        );
        let (status, _) = e.sd_status(&sd_arn(&json));
        assert!(
            matches!(status.as_str(), "IN_PROGRESS" | "SUCCESSFUL"),
            "{until}: left {status}"
        );
    }
    let e = env();
    canary(&e);
    let out = e.deploy_v2_until("done");
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.output("result"), "succeeded");
    assert_eq!(e.sd_status(&sd_arn(&out.json())).0, "SUCCESSFUL");
}

/// A deployment left baking is stopped by `ecs-roll rollback`: StopServiceDeployment
/// ROLLBACK, production back on v1.
#[test]
fn rollback_during_bake() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    let config = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::BlueGreen)
        .bake_time_in_minutes(60)
        .build();
    e.create_service("web", &v1, 2, config);
    let out = e.deploy_v2_until("bake");
    out.assert_code(0).assert_no_panic();
    let arn = sd_arn(&out.json());
    assert_eq!(
        e.sd_status(&arn),
        ("IN_PROGRESS".into(), "BAKE_TIME".into())
    );
    let back = e.rollback("web", &[]);
    back.assert_code(0).assert_no_panic();
    assert_eq!(back.json()["result"], "rolled_back", "{}", back.stderr);
    assert!(
        back.stderr.contains("StopServiceDeployment ROLLBACK"),
        "{}",
        back.stderr
    );
    assert_eq!(e.sd_status(&arn).0, "ROLLBACK_SUCCESSFUL");
    assert_eq!(e.wait_stable("web").task_definition(), Some(v1.as_str()));
}

/// `ecs-roll deploy` running in the background, as a workflow step does, its stderr streamed.
struct Background {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: String,
}

impl Background {
    /// `ecs-roll deploy --cluster prod` with `extra`, JSON output, against `e`'s emulator.
    fn deploy(e: &Env, extra: &[&str]) -> Background {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ecs-roll"))
            .args(["deploy", "--cluster", "prod", "--interval", "200ms"])
            .args(["--output", "json"])
            .args(extra)
            .env("AWS_ENDPOINT_URL_ECS", e.emulator.url())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let _ = tx.send(String::from_utf8_lossy(&buf[..n]).to_string());
            }
        });
        Background {
            child,
            lines,
            seen: String::new(),
        }
    }

    /// Until stderr shows `text`; panics if it does not within 60 s or ecs-roll exits first.
    fn wait_for(&mut self, text: &str) {
        let start = Instant::now();
        while !self.seen.contains(text) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "`{text}` never shown:\n{}",
                self.seen
            );
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(chunk) => self.seen.push_str(&chunk),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(_) => panic!("ecs-roll exited before `{text}`:\n{}", self.seen),
            }
        }
    }

    /// Waits for the exit: its code, everything it printed on stderr, and stdout.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let status = self.child.wait().unwrap();
        while let Ok(chunk) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push_str(&chunk);
        }
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        (status.code(), self.seen, stdout)
    }
}

/// SIGTERM while the deployment waits at its PAUSE hook (the smoke test hanging): ecs-roll
/// rolls the deployment back before it exits, never leaving it paused.
#[cfg(unix)]
#[test]
fn cancelled_job_while_paused_rolls_back() {
    let e = env();
    let v1 = canary(&e);
    // Accepts and never answers: the smoke test hangs while the deployment is paused.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let s = spec(&dir, &health_spec("test_url"));
    let mut run = Background::deploy(
        &e,
        &[
            "--service",
            "web",
            "--image",
            "app=app:v2",
            "--smoke",
            &s,
            "--test-traffic-gate",
            "--test-url",
            &url,
        ],
    );
    run.wait_for("smoke test on test traffic");
    std::thread::sleep(Duration::from_millis(300));
    let pid = run.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (code, seen, _) = run.finish();
    assert_eq!(code, Some(1), "{seen}");
    assert!(seen.contains("cancelled"), "{seen}");
    assert!(
        seen.contains("ContinueServiceDeployment ROLLBACK"),
        "{seen}"
    );
    assert_eq!(e.wait_stable("web").task_definition(), Some(v1.as_str()));
}

/// A user's PAUSE hook at PRE_SCALE_UP is not the smoke gate's: ecs-roll reports where the
/// deployment waits and the command that continues it, never CONTINUEs it, and runs the smoke
/// test only at its own hook at POST_TEST_TRAFFIC_SHIFT once the user has continued theirs.
#[test]
fn a_pause_hook_at_another_stage_is_reported_and_never_continued_by_the_gate() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    let config = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::Canary)
        .canary_configuration(
            CanaryConfiguration::builder()
                .canary_percent(10.0)
                .canary_bake_time_in_minutes(1)
                .build(),
        )
        .lifecycle_hooks(
            aws_sdk_ecs::types::DeploymentLifecycleHook::builder()
                .target_type(aws_sdk_ecs::types::DeploymentLifecycleHookTargetType::Pause)
                .lifecycle_stages(aws_sdk_ecs::types::DeploymentLifecycleHookStage::PreScaleUp)
                .build(),
        )
        .build();
    e.create_service("web", &v1, 2, config);
    let smoke = Smoke::new(200, "test_url");
    let server = &smoke.server;
    let gate = smoke.args();
    let mut args = vec!["--service", "web", "--image", "app=app:v2"];
    args.extend(gate.iter().map(String::as_str));
    // The gate hook's timeout follows: 5 emulated minutes are 7.5 s here.
    args.extend(["--timeout", "5m"]);
    let mut run = Background::deploy(&e, &args);
    run.wait_for("paused at PRE_SCALE_UP by PAUSE hook");
    // 40 emulated seconds later the user's hook still waits, untouched, and no smoke ran.
    std::thread::sleep(Duration::from_secs(1));
    let sd = e.current_deployment("web");
    assert_eq!(
        sd.lifecycle_stage().map(|s| s.as_str()),
        Some("PRE_SCALE_UP")
    );
    let hook = sd.lifecycle_hook_details()[0].clone();
    assert_eq!(hook.status().map(|s| s.as_str()), Some("AWAITING_ACTION"));
    let hook_id = hook.hook_id().unwrap().to_string();
    assert_eq!(e.emulator.calls().count("ContinueServiceDeployment"), 0);
    assert!(server.seen.lock().unwrap().is_empty());
    for shown in [
        hook_id.as_str(),
        "ContinueServiceDeployment",
        "aws ecs continue-service-deployment --service-deployment-arn",
    ] {
        assert!(run.seen.contains(shown), "{shown} missing:\n{}", run.seen);
    }
    // Its owner continues it; the release goes on to the gate's own hook.
    e.rt.block_on(
        e.ecs
            .continue_service_deployment()
            .service_deployment_arn(sd.service_deployment_arn().unwrap())
            .hook_id(&hook_id)
            .send(),
    )
    .unwrap();
    let (code, seen, stdout) = run.finish();
    assert_eq!(code, Some(0), "{seen}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["result"], "succeeded", "{seen}");
    assert_eq!(server.seen.lock().unwrap().len(), 1, "one smoke run");
    assert_eq!(e.emulator.calls().count("ContinueServiceDeployment"), 2);
    assert!(seen.contains("paused at POST_TEST_TRAFFIC_SHIFT"), "{seen}");
}

/// `--smoke` on a CANARY service without the test-traffic gate is refused before the
/// UpdateService: after SUCCESSFUL the old revision is gone, so it could only fail late.
#[test]
fn smoke_without_test_traffic_gate_is_refused_before_updating() {
    let e = env();
    let v1 = canary(&e);
    let smoke = Smoke::new(200, "url");
    let out = smoke.deploy_web_v2(&e, &[]);
    let server = &smoke.server;
    out.assert_code(1).assert_no_panic();
    let message = out.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("--test-traffic-gate"), "{message}");
    assert_eq!(e.primary("web").1, v1);
    assert!(server.seen.lock().unwrap().is_empty());
}

/// Process mode: the service's tasks are demo-api processes (crates/demo-api, as `scripts/demo`
/// runs it) behind the emulator's load balancer, whose test listener reaches the new revision
/// once test traffic has shifted and whose production listener follows the traffic weights.
/// `app:v1` answers 1.0.0, `app:v2` 2.0.0; `app:broken` (3.0.0) starts and passes its health
/// checks but answers every API request 500 (`DEMO_BEHAVIOUR=errors`, the demo's broken release).
mod process_mode {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use ecs_emulator::{Config, Scenario};
    use serde_json::{Value, json};
    use test_support::ecs::EcsFixture;

    use super::super::smoke_gate::spec;
    use super::{Env, canary, sd_arn};

    const PASSWORD: &str = "smoke-pass";

    /// Login through the test listener, then the recipes with the token.
    const TEST_TRAFFIC_SPEC: &str = "checks:
  - name: login
    method: POST
    url: '{{test_url}}/auth/login'
    ready: false
    json: {email: ci@example.com, password: smoke-pass}
    expect: {status: 200}
    capture:
      token: {json: $.data.tokens.accessToken, secret: true}
  - name: list recipes
    url: '{{test_url}}/recipes'
    headers: {authorization: 'Bearer {{token}}'}
    expect: {status: 200}
";

    fn image(demo: &str, version: &str, broken: bool) -> Value {
        let mut environment = json!({
            "DEMO_VERSION": version, "JWT_SECRET": "jwt-test", "DB_PASSWORD": "db-test",
            "DEMO_USER_PASSWORD": PASSWORD,
        });
        if broken {
            environment["DEMO_BEHAVIOUR"] = json!("errors");
            environment["DEMO_ERROR_RATE"] = json!("1");
        }
        json!({"command": [demo], "environment": environment})
    }

    fn process_env() -> Env {
        let demo = test_support::bin_path("demo-api").display().to_string();
        let doc = json!({"time_scale": 40, "processes": {
            "health_check": {"interval_seconds": 0.1, "healthy_threshold": 2, "unhealthy_threshold": 3},
            "deregistration_delay_seconds": 0.1,
            "stop_timeout_seconds": 1,
            "images": {
                "app:v1": image(&demo, "1.0.0", false),
                "app:v2": image(&demo, "2.0.0", false),
                "app:broken": image(&demo, "3.0.0", true),
            },
        }});
        let scenario = Scenario::parse(&doc.to_string()).unwrap();
        let (EcsFixture { emulator, ecs }, rt) = EcsFixture::start_blocking(Config::new(scenario));
        Env { emulator, ecs, rt }
    }

    /// The version that answered `GET /health`, or the status when it was not a 200.
    fn version_at(url: &str) -> String {
        let (status, body) = test_support::http_request(url, "GET", "/health", &[], b"");
        match serde_json::from_str::<Value>(&body) {
            Ok(doc) if status == 200 => doc["version"].as_str().unwrap_or("?").to_string(),
            _ => format!("status {status}"),
        }
    }

    /// GETs production's /health every 20 ms until stopped: every answer seen, in order.
    struct Poller {
        stop: Arc<AtomicBool>,
        thread: std::thread::JoinHandle<Vec<String>>,
    }

    impl Poller {
        fn start(url: &str) -> Poller {
            let stop = Arc::new(AtomicBool::new(false));
            let (flag, url) = (stop.clone(), url.to_string());
            let thread = std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !flag.load(Ordering::SeqCst) {
                    seen.push(version_at(&url));
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                seen
            });
            Poller { stop, thread }
        }

        fn finish(self) -> Vec<String> {
            self.stop.store(true, Ordering::SeqCst);
            self.thread.join().unwrap()
        }
    }

    fn deploy_canary(e: &Env, image: &str) -> (test_support::Output, Vec<String>) {
        canary(e);
        let production = e.emulator.load_balancer_url("prod", "web").unwrap();
        let test = e.emulator.test_listener_url("prod", "web").unwrap();
        assert_eq!(version_at(&production), "1.0.0");
        let dir = tempfile::tempdir().unwrap();
        let s = spec(&dir, TEST_TRAFFIC_SPEC);
        let poller = Poller::start(&production);
        let out = e.deploy(&[
            "--service",
            "web",
            "--image",
            &format!("app={image}"),
            "--smoke",
            &s,
            "--test-traffic-gate",
            "--test-url",
            &test,
        ]);
        (out, poller.finish())
    }

    /// The broken release fails its smoke test on the test listener (its own 500s): rolled back
    /// before any production traffic, exit 1, cause `smoke`; production, polled all along,
    /// never answered from the new version and still answers 1.0.0.
    #[test]
    fn broken_canary_never_reaches_production() {
        let e = process_env();
        let (out, seen) = deploy_canary(&e, "app:broken");
        // Not assert_no_panic: the failing check's body is demo-api's `"internal error"`.
        out.assert_code(1);
        assert!(!out.stderr.contains("panicked at"), "{}", out.stderr);
        let json = out.json();
        assert_eq!(json["result"], "rolled_back", "{}", out.stderr);
        assert_eq!(out.output("cause"), "smoke");
        let message = json["message"].as_str().unwrap();
        assert!(
            message.contains("list recipes") && message.contains("500"),
            "{message}"
        );
        assert_eq!(e.sd_status(&sd_arn(&json)).0, "ROLLBACK_SUCCESSFUL");
        assert!(seen.len() > 10, "the poller ran all along: {seen:?}");
        let not_old: Vec<_> = seen.iter().filter(|v| *v != "1.0.0").collect();
        assert!(
            not_old.is_empty(),
            "production answered other than 1.0.0 during the release: {not_old:?}"
        );
        let production = e.emulator.load_balancer_url("prod", "web").unwrap();
        assert_eq!(version_at(&production), "1.0.0");
    }

    /// A good release passes its smoke test on the test listener and goes to production:
    /// production answers 2.0.0 at the end, and answered only 1.0.0 or 2.0.0 on the way.
    #[test]
    fn passing_canary_goes_to_production() {
        let e = process_env();
        let (out, seen) = deploy_canary(&e, "app:v2");
        out.assert_code(0).assert_no_panic();
        assert_eq!(out.output("result"), "succeeded", "{}", out.stderr);
        let production = e.emulator.load_balancer_url("prod", "web").unwrap();
        for _ in 0..5 {
            assert_eq!(version_at(&production), "2.0.0");
        }
        assert!(
            seen.iter().all(|v| v == "1.0.0" || v == "2.0.0"),
            "{seen:?}"
        );
        assert_eq!(seen.first().map(String::as_str), Some("1.0.0"));
    }
}
