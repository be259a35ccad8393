//! The control API over HTTP, and raw protocol details an SDK hides.

use serde_json::json;

use super::http::{ecs_call, request};
use ecs_emulator::{Config, Emulator};

/// Scenario, faults, clock, calls and state are all reachable over HTTP.
#[tokio::test]
async fn control_endpoints() {
    let emu = Emulator::start(Config::manual()).await.unwrap();
    let port = emu.port();
    assert_eq!(
        request(port, "GET", "/_emulator/health", "").await,
        (200, json!({"status": "ok"}))
    );

    let (status, _) = request(
        port,
        "POST",
        "/_emulator/scenario",
        "images: {\"web:bad\": {behavior: crash}}",
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = request(
        port,
        "POST",
        "/_emulator/scenario",
        "images: {x: {behavior: nope}}",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("invalid scenario"));

    let before = emu.now();
    let (status, body) = request(port, "POST", "/_emulator/advance", r#"{"seconds": 30}"#).await;
    assert_eq!(status, 200);
    assert_eq!(body["now"].as_f64().unwrap(), before + 30.0);

    let fault = r#"{"operation":"DescribeServices","count":2,"kind":"throttle"}"#;
    assert_eq!(
        request(port, "POST", "/_emulator/faults", fault).await.0,
        200
    );
    ecs_call(port, "CreateCluster", "{}").await;
    let names: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    let body = json!({"services": names}).to_string();
    let (status, err) = ecs_call(port, "DescribeServices", &body).await;
    assert_eq!(status, 400);
    assert_eq!(
        err,
        json!({"__type": "ThrottlingException", "message": "Rate exceeded"})
    );
    ecs_call(port, "DescribeServices", r#"{"services": ["a", "b"]}"#).await;
    let (status, ok) = ecs_call(port, "DescribeServices", r#"{"services": ["a"]}"#).await;
    assert_eq!(status, 200);
    assert_eq!(ok["failures"][0]["reason"], "MISSING");

    let (_, calls) = request(port, "GET", "/_emulator/calls", "").await;
    assert_eq!(calls["operations"]["DescribeServices"], 3);
    assert_eq!(calls["describe_services_batch_sizes"], json!([10, 2, 1]));
    assert_eq!(calls["faulted"], 2);
    assert_eq!(request(port, "DELETE", "/_emulator/calls", "").await.0, 200);
    assert_eq!(emu.calls().total, 0);

    let (_, state) = request(port, "GET", "/_emulator/state", "").await;
    assert_eq!(state["manualClock"], true);
    assert_eq!(state["clusters"][0]["name"], "default");
    let (_, events) = request(port, "GET", "/_emulator/events?since=0", "").await;
    assert_eq!(events["events"], json!([]));
    assert_eq!(request(port, "GET", "/_emulator/nothing", "").await.0, 404);
}

/// Unknown operations, bad JSON and wrong types get ECS-style 400s, never a crash.
#[tokio::test]
async fn protocol_errors() {
    let emu = Emulator::start(Config::manual()).await.unwrap();
    let port = emu.port();
    let (status, body) = ecs_call(port, "LaunchRocket", "{}").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "UnknownOperationException");
    let (status, body) = ecs_call(port, "CreateCluster", "{not json").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "SerializationException");
    let (status, body) = ecs_call(port, "CreateService", r#"{"serviceName": 7}"#).await;
    assert_eq!(status, 400);
    assert!(body["__type"].is_string());
    let (status, body) = ecs_call(
        port,
        "CreateService",
        r#"{"serviceName": "x", "desiredCount": -1}"#,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = ecs_call(port, "ListTasks", r#"{"cluster": "missing"}"#).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"__type": "ClusterNotFoundException", "message": "Cluster not found."})
    );
    let (status, _) = request(port, "GET", "/", "").await;
    assert_eq!(status, 400);
}
