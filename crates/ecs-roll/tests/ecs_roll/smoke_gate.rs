//! The smoke gate on the emulator: a release that deploys fine but fails its smoke spec is rolled
//! back to the recorded revision (exit 1, cause `smoke`); a passing spec leaves it green. The
//! spec points at a real HTTP server on loopback started by the test.

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use test_support::http_wire::read_head;

use super::*;

/// A loopback HTTP/1.1 server answering every request with `status` and a JSON body; records
/// the request lines it saw.
pub(crate) struct Http {
    pub(crate) url: String,
    pub(crate) seen: Arc<Mutex<Vec<String>>>,
}

pub(crate) fn http(status: u16) -> Http {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let Some(head) = read_head(&mut reader) else {
                continue;
            };
            log.lock().unwrap().push(head.lines[0].trim().to_string());
            let body = format!(
                "{{\"status\":\"{}\"}}",
                if status == 200 { "ok" } else { "broken" }
            );
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Http { url, seen }
}

pub(crate) fn spec(dir: &tempfile::TempDir, yaml: &str) -> String {
    let p = dir.path().join("smoke.yml");
    std::fs::write(&p, yaml).unwrap();
    p.display().to_string()
}

/// The set-up every gate test shares: a server answering `status`, [`health_spec`] for
/// `url_var` written to a file, and the flags that point ecs-roll at both — `--smoke-var url=…`
/// for `url`, `--test-traffic-gate --test-url …` for `test_url`.
pub(crate) struct Smoke {
    pub(crate) server: Http,
    spec: String,
    url_var: &'static str,
    _dir: tempfile::TempDir,
}

impl Smoke {
    pub(crate) fn new(status: u16, url_var: &'static str) -> Smoke {
        let dir = tempfile::tempdir().unwrap();
        Smoke {
            server: http(status),
            spec: spec(&dir, &health_spec(url_var)),
            url_var,
            _dir: dir,
        }
    }

    /// `--smoke SPEC` and the flags naming the server.
    pub(crate) fn args(&self) -> Vec<String> {
        let mut args = vec!["--smoke".to_string(), self.spec.clone()];
        if self.url_var == "test_url" {
            args.extend(["--test-traffic-gate".into(), "--test-url".into()]);
            args.push(self.server.url.clone());
        } else {
            args.extend([
                "--smoke-var".into(),
                format!("{}={}", self.url_var, self.server.url),
            ]);
        }
        args
    }

    /// `deploy --service web --image app=app:v2` with [`Smoke::args`] and `extra`.
    pub(crate) fn deploy_web_v2(&self, e: &Env, extra: &[&str]) -> Output {
        let args = self.args();
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend_from_slice(extra);
        e.deploy_web("app:v2", &all)
    }
}

/// One health check of `{{URL_VAR}}/{{service}}/health` (`url` for `--smoke-var url=…`,
/// `test_url` for the test listener), retried once: the spec the gate tests share.
pub(crate) fn health_spec(url_var: &str) -> String {
    format!(
        "checks:\n  - name: health\n    url: '{{{{{url_var}}}}}/{{{{service}}}}/health'\n    ready: false\n    retries: 1\n    retry_delay: 50ms\n    expect:\n      json: [{{path: $.status, equals: ok}}]\n"
    )
}

/// The deployment completes, the smoke spec fails: rolled back to the recorded revision, exit 1,
/// cause `smoke` in the outputs and the summary.
#[test]
fn failing_smoke_test_rolls_back() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    let smoke = Smoke::new(503, "url");
    let out = smoke.deploy_web_v2(&e, &[]);
    let server = &smoke.server;
    out.assert_code(1).assert_no_panic();
    let json = out.json();
    assert_eq!(json["result"], "rolled_back", "{}", out.stderr);
    assert_eq!(out.output("result"), "rolled_back");
    assert_eq!(out.output("cause"), "smoke");
    assert_eq!(json["detail"]["services"][0]["cause"], "smoke");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("smoke test failed"),
        "{json}"
    );
    assert!(
        json["message"].as_str().unwrap().contains("status 503"),
        "{json}"
    );
    assert!(out.summary.contains("smoke test failed"), "{}", out.summary);
    // Back on exactly the revision it ran before, stable.
    assert_eq!(e.wait_stable("web").task_definition(), Some(v1.as_str()));
    assert_eq!(e.primary("web").1, v1);
    // The spec ran with the service's name; the retry was sent too.
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen, vec!["GET /web/health HTTP/1.1"; 2], "{seen:?}");
}

/// The deployment completes and the smoke spec passes: green, on the new revision.
#[test]
fn passing_smoke_test_stays_green() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    let smoke = Smoke::new(200, "url");
    let out = smoke.deploy_web_v2(&e, &[]);
    let server = &smoke.server;
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.output("result"), "succeeded");
    assert_eq!(out.output("cause"), "");
    assert_eq!(short(&e.primary("web").1), "web:2");
    assert!(out.summary.contains("smoke test passed"), "{}", out.summary);
    assert_eq!(server.seen.lock().unwrap().len(), 1);
}

/// A bad smoke spec or variable exits 2 before any AWS call.
#[test]
fn bad_smoke_input_exits_2() {
    let e = env();
    let dir = tempfile::tempdir().unwrap();
    let bad = spec(
        &dir,
        "checks:\n  - name: a\n    url: '{{url}}/x'\n    expect: {status: 42}\n",
    );
    let good = dir.path().join("good.yml");
    std::fs::write(&good, health_spec("url")).unwrap();
    let good = good.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--smoke", &bad, "--smoke-var", "url=http://127.0.0.1:1"],
            ":4:22: checks[0].expect.status: status 42",
        ),
        (vec!["--smoke", &good], "`{{url}}` is not defined"),
        (
            vec![
                "--smoke",
                &good,
                "--smoke-var",
                "url=x",
                "--smoke-var",
                "service=y",
            ],
            "set by ecs-roll itself",
        ),
        (vec!["--smoke-var", "url=x"], "--smoke"),
    ];
    for (extra, msg) in cases {
        let out = e.deploy(&[&["--service", "web", "--image", "app=app:v2"][..], &extra].concat());
        out.assert_code(2).assert_no_panic();
        assert!(out.stderr.contains(msg), "{msg}: {}", out.stderr);
    }
    assert_eq!(e.emulator.calls().count("RegisterTaskDefinition"), 0);
}
