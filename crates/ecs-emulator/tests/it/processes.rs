//! Process mode: service tasks are real local processes behind a loopback load balancer.
//!
//! The "images" here are small shell + `python3 -m http.server` commands (no other binary has
//! to be built): each writes what it was given (`APP_VERSION`, a secret) into `/health` and
//! serves it on `$PORT`. The clock is manual and stepped while real time passes, so the
//! process side (spawn, health checks, exits) and the emulated side meet in every test.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentRolloutState, DesiredStatus, KeyValuePair, Secret, Service,
};
use ecs_emulator::{Config, RunningEmulator, Scenario};

use super::http::request;
use super::sdk::{Env, client, completed, env_with, primary, register_container, with_breaker};

/// Serves `/health` = "$APP_VERSION $JWT_SECRET" on $PORT; a `sleep` grandchild carries a
/// marker so a test can find it in /proc.
const SERVE: &str = r#"d=$(mktemp -d); printf '%s %s' "$APP_VERSION" "$JWT_SECRET" > "$d/health"; cd "$d"; sleep "$MARK" & exec python3 -m http.server "$PORT" --bind 127.0.0.1"#;
/// Serves on $PORT but has no /health: its health checks fail (404).
const SICK: &str =
    r#"d=$(mktemp -d); cd "$d"; exec python3 -m http.server "$PORT" --bind 127.0.0.1"#;

pub(super) fn scenario(marker: &str, secrets_manager_url: Option<&str>) -> Scenario {
    let doc = serde_json::json!({"processes": {
        "health_check": {"interval_seconds": 0.1, "healthy_threshold": 2, "unhealthy_threshold": 2, "grace_seconds": 600},
        "deregistration_delay_seconds": 0.1,
        "stop_timeout_seconds": 1,
        "secrets_manager_url": secrets_manager_url,
        "images": {
            "web:v*": {"command": ["sh", "-c", SERVE], "environment": {"MARK": marker}},
            "web:sick": {"command": ["sh", "-c", SICK]},
            "web:crash": {"command": ["sh", "-c", "exit 3"]},
            "web:stubborn": {"command": ["sh", "-c", format!("trap '' TERM; {SERVE}")], "environment": {"MARK": marker}},
        },
    }});
    Scenario::parse(&doc.to_string()).unwrap()
}

/// A unique `sleep` argument (nextest runs each test in its own process; the counter covers
/// other runners): finding it in /proc means a grandchild survived.
pub(super) fn marker() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(10);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("4242.{}{n}", std::process::id())
}

/// The emulator on a manual clock with `scenario`, as [`env_with`] sets it up.
pub(super) async fn start(scenario: Scenario) -> Env {
    env_with(Config::manual().with_scenario(scenario)).await
}

/// Registers `web` running `image` with `APP_VERSION` = `version` and `JWT_SECRET` from the
/// secret `secret` (Secrets Manager ARN), else the plain value `plain`.
pub(super) async fn register(
    ecs: &aws_sdk_ecs::Client,
    image: &str,
    version: &str,
    secret: Option<&str>,
) -> String {
    let mut container = ContainerDefinition::builder()
        .name("app")
        .image(image)
        .essential(true)
        .environment(
            KeyValuePair::builder()
                .name("APP_VERSION")
                .value(version)
                .build(),
        );
    container = match secret {
        Some(arn) => container.secrets(
            Secret::builder()
                .name("JWT_SECRET")
                .value_from(arn)
                .build()
                .unwrap(),
        ),
        None => container.environment(
            KeyValuePair::builder()
                .name("JWT_SECRET")
                .value("plain")
                .build(),
        ),
    };
    register_container(ecs, "web", container.build()).await
}

/// `api` serving `web:v1` ("1.0.0 plain") from `desired` processes, its first deployment
/// completed; v1's task definition ARN.
pub(super) async fn serving_v1(env: &Env, desired: i32) -> String {
    let v1 = register(&env.ecs, "web:v1", "1.0.0", None).await;
    env.create_service("api", &v1, desired, with_breaker(true))
        .await;
    wait_for(env, "api", Duration::from_secs(30), completed).await;
    v1
}

/// Drops the emulator, then asserts that no process it started survives, nor a grandchild
/// carrying `mark`.
pub(super) async fn shut_down(env: Env, mark: &str) {
    let pids = env.emulator.started_pids();
    drop(env);
    assert_all_gone(&pids, mark).await;
}

/// Steps the clock a second per 50 ms of real time until `done` (or panics after `limit`).
pub(super) async fn wait_for(
    env: &Env,
    name: &str,
    limit: Duration,
    done: impl Fn(&Service) -> bool,
) -> Service {
    let deadline = Instant::now() + limit;
    loop {
        env.emulator.advance(Duration::from_secs(1));
        let service = env.describe(name).await;
        if done(&service) {
            return service;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not get there in {limit:?}: {service:#?}\n{:#}",
            env.emulator.state()["clusters"][0]["tasks"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// GET through a base URL: status and body as text.
pub(super) async fn get(url: &str, path: &str) -> (u16, String) {
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let (status, body) = raw_get(port, path).await;
    (status, body)
}

async fn raw_get(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

pub(super) fn load_balancer(env: &Env, service: &str) -> String {
    env.emulator
        .load_balancer_url("prod", service)
        .unwrap_or_else(|| panic!("no load balancer for {service}"))
}

/// A process is gone: no /proc entry, or only a zombie's.
pub(super) fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// Those of `pids` still in /proc, zombies included: a process its parent never waited for.
fn unreaped(pids: &[u32]) -> Vec<u32> {
    pids.iter()
        .copied()
        .filter(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
        .collect()
}

/// Processes whose command line holds `marker` (the `sleep` grandchildren).
fn with_marker(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .filter(|&pid| alive(pid))
        .collect()
}

pub(super) async fn assert_all_gone(pids: &[u32], marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        let grandchildren = with_marker(marker);
        if left.is_empty() && grandchildren.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still running: children {left:?}, grandchildren {grandchildren:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each task answers on its own port with its task definition's environment, and the load
/// balancer forwards to them; the control API lists the address and the healthy targets.
#[tokio::test]
async fn tasks_answer_on_their_ports_behind_the_load_balancer() {
    let mark = marker();
    let env = start(scenario(&mark, None)).await;
    serving_v1(&env, 2).await;
    let url = load_balancer(&env, "api");
    for _ in 0..4 {
        assert_eq!(get(&url, "/health").await, (200, "1.0.0 plain".into()));
    }
    let port = env.emulator.port();
    let (status, view) = request(port, "GET", "/_emulator/load-balancers", "").await;
    assert_eq!(status, 200);
    let lb = &view["loadBalancers"][0];
    assert_eq!(
        (lb["service"].as_str(), lb["url"].as_str()),
        (Some("api"), Some(url.as_str()))
    );
    let targets = lb["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{view:#}");
    for t in targets {
        assert_eq!(t["health"], "healthy", "{view:#}");
        let (status, body) = raw_get(t["port"].as_u64().unwrap() as u16, "/health").await;
        assert_eq!((status, body.as_str()), (200, "1.0.0 plain"));
    }
    let pids = env.emulator.started_pids();
    assert_eq!(pids.len(), 2);
    drop(env);
    assert_all_gone(&pids, &mark).await;
}

/// Targets that fail their health checks never get traffic: the load balancer keeps sending
/// every request to the healthy v1 task while the new v2 task is unhealthy, and a service
/// with no healthy target answers 503.
#[tokio::test]
async fn load_balancer_forwards_only_to_healthy_tasks() {
    let mark = marker();
    let env = start(scenario(&mark, None)).await;
    serving_v1(&env, 1).await;
    let url = load_balancer(&env, "api");
    let sick = register(&env.ecs, "web:sick", "2.0.0", None).await;
    env.update("api", &sick).await;
    // The sick task runs (its port answers) but never turns healthy.
    wait_for(&env, "api", Duration::from_secs(30), |s| {
        primary(s).running_count() == 1
    })
    .await;
    for _ in 0..10 {
        env.emulator.advance(Duration::from_secs(1));
        assert_eq!(get(&url, "/health").await, (200, "1.0.0 plain".into()));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    env.create_service("lonely", &sick, 1, with_breaker(false))
        .await;
    wait_for(&env, "lonely", Duration::from_secs(30), |s| {
        s.running_count() == 1
    })
    .await;
    let lonely = load_balancer(&env, "lonely");
    assert_eq!(get(&lonely, "/health").await.0, 503);
    shut_down(env, &mark).await;
}

/// A process that exits stops its task with the exit code; the circuit breaker counts the
/// crashes, rolls back, and the load balancer answers with v1 again.
#[tokio::test]
async fn crashing_process_stops_its_task_and_the_deployment_rolls_back() {
    let mark = marker();
    let env = start(scenario(&mark, None)).await;
    let v1 = serving_v1(&env, 1).await;
    let crash = register(&env.ecs, "web:crash", "3.0.0", None).await;
    env.update("api", &crash).await;
    let rolled_back = wait_for(&env, "api", Duration::from_secs(60), |s| {
        completed(s) && s.task_definition() == Some(v1.as_str())
    })
    .await;
    let failed = rolled_back.events().iter().any(|e| {
        e.message()
            .unwrap_or("")
            .contains("deployment failed: tasks failed to start")
    });
    assert!(failed, "{rolled_back:#?}");
    let stopped = env.tasks("api", Some(DesiredStatus::Stopped)).await;
    let crashed: Vec<_> = stopped
        .iter()
        .filter(|t| t.task_definition_arn() == Some(crash.as_str()))
        .collect();
    assert!(crashed.len() >= 3, "{stopped:#?}");
    for t in crashed {
        assert_eq!(
            t.stopped_reason(),
            Some("Essential container in task exited")
        );
        assert_eq!(t.containers()[0].exit_code(), Some(3));
    }
    let sd = env
        .ecs
        .list_service_deployments()
        .cluster("prod")
        .service("api")
        .send()
        .await
        .unwrap();
    let newest = &sd.service_deployments()[0];
    assert_eq!(
        newest.status().map(|s| s.as_str()),
        Some("ROLLBACK_SUCCESSFUL")
    );
    let url = load_balancer(&env, "api");
    assert_eq!(get(&url, "/health").await, (200, "1.0.0 plain".into()));
    shut_down(env, &mark).await;
}

/// Secrets come from moto's Secrets Manager: a task whose secret exists gets its value in the
/// environment; one whose secret is missing never starts, with ECS's stopped reason.
#[tokio::test]
async fn secrets_are_resolved_and_a_missing_one_stops_the_task() {
    let moto = test_support::standins().moto;
    let name = test_support::unique("process-mode/jwt");
    let auth = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0";
    let headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "secretsmanager.CreateSecret"),
        ("Authorization", auth),
    ];
    let body = format!(r#"{{"Name": "{name}", "SecretString": "s3cr3t-value"}}"#);
    let (status, text) = test_support::http_request(&moto, "POST", "/", &headers, body.as_bytes());
    assert_eq!(status, 200, "{text}");
    let arn = serde_json::from_str::<serde_json::Value>(&text).unwrap()["ARN"]
        .as_str()
        .unwrap()
        .to_string();
    let mark = marker();
    let env = start(scenario(&mark, Some(&moto))).await;
    let with_secret = register(&env.ecs, "web:v1", "1.0.0", Some(&arn)).await;
    env.create_service("api", &with_secret, 1, with_breaker(true))
        .await;
    wait_for(&env, "api", Duration::from_secs(30), completed).await;
    assert_eq!(
        get(&load_balancer(&env, "api"), "/health").await,
        (200, "1.0.0 s3cr3t-value".into())
    );
    let missing = format!("{arn}-gone");
    let broken = register(&env.ecs, "web:v2", "2.0.0", Some(&missing)).await;
    env.create_service("broken", &broken, 1, with_breaker(false))
        .await;
    wait_for(&env, "broken", Duration::from_secs(30), |s| {
        primary(s).failed_tasks() >= 1
    })
    .await;
    let stopped = env.tasks("broken", Some(DesiredStatus::Stopped)).await;
    let reason = stopped[0].stopped_reason().unwrap_or_default();
    assert!(
        reason
            .starts_with("ResourceInitializationError: unable to pull secrets or registry auth: "),
        "{reason}"
    );
    assert!(
        reason.contains(&missing) && reason.contains("ResourceNotFoundException"),
        "{reason}"
    );
    assert_eq!(
        stopped[0].stop_code().map(|c| c.as_str()),
        Some("TaskFailedToStart")
    );
    assert!(stopped[0].started_at().is_none());
    let pids = env.emulator.started_pids();
    assert_eq!(
        pids.len(),
        1,
        "the task with a missing secret never started a process"
    );
    drop(env);
    assert_all_gone(&pids, &mark).await;
}

/// Process mode is off by default: the same image follows its scenario behaviour and starts
/// nothing.
#[tokio::test]
async fn without_processes_nothing_is_started() {
    let env = start(Scenario::default()).await;
    let td = register(&env.ecs, "web:v1", "1.0.0", None).await;
    env.create_service("api", &td, 1, with_breaker(true)).await;
    let service = wait_for(&env, "api", Duration::from_secs(30), completed).await;
    assert_eq!(
        primary(&service).rollout_state(),
        Some(&DeploymentRolloutState::Completed)
    );
    assert!(env.emulator.started_pids().is_empty());
    assert!(env.emulator.load_balancer_url("prod", "api").is_none());
}

/// SIGTERM to the emulator binary stops every task process and whatever it forked — also
/// tasks that ignore SIGTERM and are killed after the stop timeout — and it exits only after it
/// has reaped them: a container's PID 1 often reaps no orphan, so a task process the emulator
/// did not wait for stays a zombie, and `kill -0` (the demo's check) still finds it.
#[tokio::test]
async fn no_process_survives_sigterm_to_the_binary() {
    let mark = marker();
    let dir = std::env::temp_dir().join(format!("ecs-emulator-process-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("scenario.json");
    let yaml = serde_json::to_string(&scenario(&mark, None)).unwrap();
    std::fs::write(&file, yaml).unwrap();
    let port_file = dir.join("port");
    let _ = std::fs::remove_file(&port_file);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ecs-emulator"))
        .args(["--time-scale", "20", "--port-file"])
        .arg(&port_file)
        .arg("--scenario")
        .arg(&file)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let port: u16 = loop {
        if let Some(port) = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            break port;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no port file");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ecs = client(&format!("http://127.0.0.1:{port}"), false).await;
    ecs.create_cluster()
        .cluster_name("prod")
        .send()
        .await
        .unwrap();
    let td = register(&ecs, "web:stubborn", "1.0.0", None).await;
    ecs.create_service()
        .cluster("prod")
        .service_name("api")
        .task_definition(td)
        .desired_count(2)
        .send()
        .await
        .unwrap();
    let pids = loop {
        let (_, view) = request(port, "GET", "/_emulator/load-balancers", "").await;
        let pids: Vec<u32> = view["startedPids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_u64())
                    .map(|p| p as u32)
                    .collect()
            })
            .unwrap_or_default();
        if pids.len() == 2 && with_marker(&mark).len() == 2 {
            break pids;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{view:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(code.code(), Some(0));
    let unreaped = unreaped(&pids);
    assert!(
        unreaped.is_empty(),
        "the emulator exited before reaping task processes {unreaped:?}"
    );
    assert_all_gone(&pids, &mark).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A graceful shutdown returns only once every task process is reaped, also those that ignore
/// SIGTERM and are killed after the stop timeout: here the test process is their parent, so
/// one not waited for would still be in /proc as a zombie.
#[tokio::test]
async fn shutdown_reaps_tasks_that_ignore_sigterm() {
    let mark = marker();
    let env = start(scenario(&mark, None)).await;
    let td = register(&env.ecs, "web:stubborn", "1.0.0", None).await;
    env.create_service("api", &td, 2, with_breaker(true)).await;
    wait_for(&env, "api", Duration::from_secs(30), |s| {
        s.running_count() == 2
    })
    .await;
    let pids = env.emulator.started_pids();
    assert_eq!(pids.len(), 2);
    env.emulator.shutdown().await;
    let unreaped = unreaped(&pids);
    assert!(unreaped.is_empty(), "not reaped: {unreaped:?}");
    assert_all_gone(&pids, &mark).await;
}

/// Dropping the emulator (as a failing test does while unwinding) kills every process group.
#[tokio::test]
async fn no_process_survives_the_emulator_being_dropped() {
    let mark = marker();
    let env = start(scenario(&mark, None)).await;
    let td = register(&env.ecs, "web:v1", "1.0.0", None).await;
    env.create_service("api", &td, 3, with_breaker(true)).await;
    wait_for(&env, "api", Duration::from_secs(30), |s| {
        s.running_count() == 3
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while with_marker(&mark).len() < 3 {
        assert!(Instant::now() < deadline, "the grandchildren did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pids = env.emulator.started_pids();
    assert_eq!(pids.len(), 3);
    let unused: RunningEmulator = env.emulator;
    drop(unused);
    assert_all_gone(&pids, &mark).await;
}

/// A rolling deployment behind the load balancer drops no request: old targets leave the
/// rotation before their process is stopped (deregistration delay), new ones join only once
/// healthy, so a client polling all along sees only 200s, first from v1 then from v2.
#[tokio::test]
async fn rolling_deployment_drops_no_request() {
    let mark = marker();
    let env = start(scenario(&mark, None)).await;
    serving_v1(&env, 2).await;
    let port: u16 = load_balancer(&env, "api")
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                seen.push(raw_get(port, "/health").await);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            seen
        }
    });
    let v2 = register(&env.ecs, "web:v2", "2.0.0", None).await;
    env.update("api", &v2).await;
    wait_for(&env, "api", Duration::from_secs(30), |s| {
        completed(s) && s.task_definition() == Some(v2.as_str())
    })
    .await;
    // Past the old processes' deregistration delay and stop timeout.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = poller.await.unwrap();
    let bad: Vec<_> = seen.iter().filter(|(status, _)| *status != 200).collect();
    assert!(
        bad.is_empty(),
        "{} of {} requests failed: {bad:?}",
        bad.len(),
        seen.len()
    );
    let first = seen
        .iter()
        .position(|(_, b)| b.starts_with("2.0.0"))
        .expect("v2 answered");
    assert!(first > 0 && seen[0].1.starts_with("1.0.0"), "{seen:?}");
    assert!(
        seen[first..]
            .iter()
            .skip_while(|(_, b)| b.starts_with("1.0.0"))
            .count()
            > 0
            && seen.last().unwrap().1.starts_with("2.0.0"),
        "{seen:?}"
    );
    shut_down(env, &mark).await;
}
