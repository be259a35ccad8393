//! The real `smoke-test` binary against real HTTP servers started by each test (see `standin`):
//! the teams' example spec, every assertion kind, captures, masking, readiness, load gates,
//! JUnit, bad specs and every exit code.

mod standin;
mod tls;

use std::path::{Path, PathBuf};
use std::time::Duration;

use standin::{Api, Behaviour, PASSWORD, TOKEN};
use test_support::{Cmd, Output, unused_port};

fn cmd() -> Cmd {
    Cmd::bin("smoke-test").timeout(Duration::from_secs(60))
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/meal-planner.yml")
}

/// A spec file `smoke.yml` holding a YAML text, in a directory of its own that lives as long as
/// this value.
struct Spec {
    dir: tempfile::TempDir,
    path: String,
}

impl Spec {
    fn new(yaml: &str) -> Spec {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("smoke.yml");
        std::fs::write(&p, yaml).unwrap();
        let path = p.display().to_string();
        Spec { dir, path }
    }

    /// `smoke-test` on this spec against `base_url`, one JSON object on stdout.
    fn cmd(&self, base_url: &str) -> Cmd {
        cmd().args([
            self.path.as_str(),
            "--base-url",
            base_url,
            "--output",
            "json",
        ])
    }

    /// Run `cmd` as a GitHub Actions step writing JUnit beside the spec: the output, and the
    /// JUnit XML as the run left it.
    fn run_in_actions(&self, cmd: Cmd) -> (Output, std::io::Result<String>) {
        let junit = self.dir.path().join("junit.xml");
        let out = cmd
            .github_actions()
            .args(["--junit", junit.to_str().unwrap()])
            .run();
        (out, std::fs::read_to_string(&junit))
    }
}

/// The spec's login check: posts the login variables and captures the bearer token as a secret
/// (a spec may add captures on the lines right after it).
const LOGIN_CHECK: &str = r#"  - name: login
    method: POST
    url: /auth/login
    json: {email: "{{email}}", password: "{{password}}"}
    capture:
      token: {json: $.data.tokens.accessToken, secret: true}
"#;

/// Run a spec against `api`, with the login variables, as a GitHub Actions step with JUnit.
fn run_spec(api: &Api, yaml: &str, extra: &[&str]) -> (Output, String) {
    let spec = Spec::new(yaml);
    let (out, xml) = spec.run_in_actions(
        spec.cmd(&api.url)
            .args(["--var", "email=ci@example.com", "--secret-var"])
            .arg(format!("password={PASSWORD}"))
            .args(extra.iter().copied()),
    );
    out.assert_no_panic();
    (out, xml.unwrap_or_default())
}

/// The canaries appear only inside `::add-mask::` commands, and those come before anything else
/// mentions a check that could carry them.
fn assert_no_canary(out: &Output, junit: &str) {
    let outputs: String = out.outputs.values().map(String::as_str).collect();
    let occurrences: usize = [TOKEN, PASSWORD]
        .iter()
        .map(|canary| {
            let stderr = out
                .stderr
                .split(['\n', '\r'])
                .filter(|l| *l != format!("::add-mask::{canary}"))
                .filter(|l| l.contains(canary))
                .count();
            stderr
                + [&out.stdout, &out.summary, &outputs]
                    .iter()
                    .map(|t| t.matches(canary).count())
                    .sum::<usize>()
                + junit.matches(canary).count()
        })
        .sum();
    test_support::figures::record(
        "canary",
        serde_json::json!({"tool": "smoke-test", "path": "secret captures and --secret-var", "occurrences": occurrences}),
    );
    for canary in [TOKEN, PASSWORD] {
        for line in out.stderr.split(['\n', '\r']) {
            if line.contains(canary) {
                assert_eq!(
                    line,
                    format!("::add-mask::{canary}"),
                    "canary in stderr: {line}"
                );
            }
        }
        assert!(
            !out.stdout.contains(canary),
            "canary in stdout:\n{}",
            out.stdout
        );
        assert!(
            !out.summary.contains(canary),
            "canary in the summary:\n{}",
            out.summary
        );
        assert!(!junit.contains(canary), "canary in JUnit:\n{junit}");
        for (k, v) in &out.outputs {
            assert!(!v.contains(canary), "canary in output {k}: {v}");
        }
    }
}

fn junit_cases(xml: &str) -> Vec<quick_junit::TestCase> {
    let report = quick_junit::Report::deserialize_from_str(xml)
        .unwrap_or_else(|e| panic!("JUnit does not parse ({e}):\n{xml}"));
    assert_eq!(report.test_suites.len(), 1);
    report.test_suites[0].test_cases.clone()
}

fn checks(out: &Output) -> Vec<serde_json::Value> {
    out.json()["detail"]["checks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn check<'a>(checks: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    checks
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {checks:?}"))
}

/// The teams' smoke script as a spec (health; login → token → recipes with the bearer; create a
/// meal plan; p95 gate) passes against the stand-in API, with the token masked everywhere.
#[test]
fn teams_example_spec_passes() {
    let api = standin::start(Behaviour::default());
    let yaml = std::fs::read_to_string(example()).unwrap();
    let (out, xml) = run_spec(&api, &yaml, &[]);
    out.assert_code(0);
    assert_eq!(out.output("result"), "passed");
    assert_eq!(out.output("passed"), "5");
    assert_eq!(out.output("failed"), "0");
    assert!(out.output("p95_ms").parse::<f64>().unwrap() > 0.0);
    assert_eq!(out.output("error_rate"), "0.0");
    // The token was masked with the runner before anything else could print it.
    assert!(
        out.stderr.contains(&format!("::add-mask::{TOKEN}")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("::add-mask::{PASSWORD}")),
        "{}",
        out.stderr
    );
    assert_no_canary(&out, &xml);
    let cases = junit_cases(&xml);
    assert_eq!(cases.len(), 5);
    assert!(
        cases
            .iter()
            .all(|c| matches!(c.status, quick_junit::TestCaseStatus::Success { .. }))
    );
    assert!(
        out.summary
            .contains("| recipes p95 under load | 200 | 10 |"),
        "{}",
        out.summary
    );
    assert!(out.summary.contains("p95 ≤ 200 ms"), "{}", out.summary);
}

/// Every assertion kind, through the binary: one spec that passes them all.
#[test]
fn every_assertion_kind_passes() {
    let api = standin::start(Behaviour::default());
    let rest = r#"      ctype: {header: content-type}
  - name: recipes
    url: /recipes
    query: {limit: "10", q: "a b&c"}
    headers: {authorization: "Bearer {{token}}"}
    expect:
      status: [200, 203]
      headers:
        x-total-count: "3"
        content-type: {contains: json, matches: "^application/", equals: "{{ctype}}"}
        etag: {exists: false}
      body:
        contains: [Soup, Stew]
        not_contains: Pizza
        matches: '"total":\s*3'
      json:
        - {path: $.total, equals: 3}
        - {path: "$.data[0]", equals: {id: 11, name: Soup, kcal: 320}}
        - {path: "$.data[1].name", matches: "^St"}
        - {path: "$.data[1].kcal", gt: 500, lt: 600, ge: 540, le: 540}
        - {path: "$.data[*]", count: 3}
        - {path: $.data, length: 3}
        - {path: $.missing, exists: false}
        - {path: "$.data[?@.kcal < 200].name", equals: Salad}
      max_latency: 5s
"#;
    let yaml = ["checks:\n", LOGIN_CHECK, rest].concat();
    let (out, xml) = run_spec(&api, &yaml, &[]);
    out.assert_code(0);
    assert_eq!(out.output("passed"), "2");
    assert_no_canary(&out, &xml);
}

/// The same kinds failing: each check fails with the assertion that missed, and the run exits 1.
#[test]
fn failing_assertions_exit_1_with_reasons() {
    let api = standin::start(Behaviour::default());
    let yaml = r#"
checks:
  - name: health
    url: /health
  - name: wrong status
    url: /recipes
    expect: {status: 200}
  - name: wrong header
    url: /health
    expect: {headers: {content-type: {contains: xml}}}
  - name: wrong body
    url: /health
    expect: {body: {contains: degraded}}
  - name: wrong json
    url: /health
    expect: {json: [{path: $.version, equals: "2.0.0"}]}
  - name: too slow
    url: /slow
    expect: {max_latency: 1ms}
  - name: needs a capture
    url: /health
    capture: {never: {json: $.nope}}
  - name: uses it
    url: /recipes/{{never}}
"#;
    let api_slow = standin::start(Behaviour {
        slow: Duration::from_millis(50),
        ..Behaviour::default()
    });
    let yaml = yaml.replace("url: /slow", &format!("url: {}/slow", api_slow.url));
    let (out, xml) = run_spec(&api, &yaml, &[]);
    out.assert_code(1);
    assert_eq!(out.output("result"), "failed");
    assert_eq!(out.output("passed"), "1");
    assert_eq!(out.output("failed"), "7");
    let cs = checks(&out);
    let first = |n: &str| {
        check(&cs, n)["failures"][0]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(first("wrong status").contains("status 401 (expected 200)"));
    assert!(first("wrong header").contains("does not contain `xml`"));
    assert!(first("wrong body").contains("body does not contain `degraded`"));
    assert!(first("wrong json").contains(r#"$.version is "1.4.2" (expected "2.0.0")"#));
    assert!(first("too slow").contains("expected at most 1 ms"));
    assert!(first("needs a capture").contains("$.nope selects nothing"));
    assert_eq!(check(&cs, "uses it")["outcome"], "skipped");
    assert!(first("uses it").contains("`{{never}}` is not set"));
    // On failure: the request line, the status and a body excerpt.
    let ws = check(&cs, "wrong status");
    assert_eq!(ws["request"], format!("GET {}/recipes", api.url));
    assert_eq!(ws["status"], 401);
    assert!(
        ws["body_excerpt"]
            .as_str()
            .unwrap()
            .contains("missing or bad token")
    );
    assert!(
        out.stderr
            .contains(&format!("✘ wrong status: GET {}/recipes → 401", api.url)),
        "{}",
        out.stderr
    );
    // JUnit: one testcase per check, failures and skips as such.
    let cases = junit_cases(&xml);
    assert_eq!(cases.len(), 8);
    let status = |n: &str| {
        cases
            .iter()
            .find(|c| c.name.as_str() == n)
            .unwrap()
            .status
            .clone()
    };
    assert!(matches!(
        status("health"),
        quick_junit::TestCaseStatus::Success { .. }
    ));
    assert!(matches!(
        status("wrong json"),
        quick_junit::TestCaseStatus::NonSuccess {
            kind: quick_junit::NonSuccessKind::Failure,
            ..
        }
    ));
    assert!(matches!(
        status("uses it"),
        quick_junit::TestCaseStatus::Skipped { .. }
    ));
}

/// A secret capture is masked even in the body excerpt of a failing check that echoes it, and
/// hostile text in a body cannot start a workflow command or break the summary table.
#[test]
fn secrets_masked_and_hostile_body_neutralised() {
    let api = standin::start(Behaviour::default());
    let leak = r#"  - name: leak
    url: /leak
    query: {t: "{{token}}"}
    headers: {authorization: "Bearer {{token}}"}
"#;
    let yaml = ["checks:\n", LOGIN_CHECK, leak].concat();
    let (out, xml) = run_spec(&api, &yaml, &[]);
    out.assert_code(1);
    assert_no_canary(&out, &xml);
    let cs = checks(&out);
    let leak = check(&cs, "leak");
    assert!(
        leak["body_excerpt"]
            .as_str()
            .unwrap()
            .starts_with("token was Bearer ***"),
        "{leak}"
    );
    assert!(
        leak["request"].as_str().unwrap().ends_with("/leak?t=***"),
        "{leak}"
    );
    for line in out.stderr.split(['\n', '\r']) {
        assert!(
            !line.starts_with("::add-mask::x"),
            "injected command: {line}"
        );
        assert!(!line.contains("##["), "injected command: {line}");
    }
    // The summary row stays one row: the pipe is escaped and HTML is inert.
    let row = out
        .summary
        .lines()
        .find(|l| l.starts_with("| leak |"))
        .unwrap();
    assert!(
        row.contains("\\|") && row.contains("&lt;b&gt;") && !row.contains("<b>"),
        "{row}"
    );
    assert!(junit_cases(&xml).iter().any(|c| c.name.as_str() == "leak"));
}

/// The readiness check is retried while the service answers 503, then the run passes.
#[test]
fn readiness_waits_for_503_to_clear() {
    let api = standin::start(Behaviour {
        unhealthy_for: Duration::from_secs(2),
        ..Behaviour::default()
    });
    let yaml = "defaults: {retry_delay: 200ms}\nchecks:\n  - name: health\n    url: /health\n  - name: version\n    url: /health\n    expect: {json: [{path: $.version, exists: true}]}\n";
    let (out, _) = run_spec(&api, yaml, &["--timeout", "30s"]);
    out.assert_code(0);
    let cs = checks(&out);
    assert!(
        check(&cs, "health")["attempts"].as_u64().unwrap() >= 3,
        "{cs:?}"
    );
    assert_eq!(check(&cs, "version")["attempts"], 1);
}

/// A readiness check still failing at the deadline exits 4; later checks are skipped, not sent.
#[test]
fn readiness_deadline_exits_4() {
    let api = standin::start(Behaviour {
        unhealthy_for: Duration::from_secs(600),
        ..Behaviour::default()
    });
    let yaml = "defaults: {retry_delay: 200ms}\nchecks:\n  - name: health\n    url: /health\n  - name: later\n    url: /recipes\n";
    let (out, xml) = run_spec(&api, yaml, &["--timeout", "2s"]);
    out.assert_code(4);
    assert_eq!(out.output("result"), "timed_out");
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
    let cs = checks(&out);
    assert_eq!(check(&cs, "health")["outcome"], "timed_out");
    assert_eq!(check(&cs, "health")["status"], 503);
    assert_eq!(check(&cs, "later")["outcome"], "skipped");
    assert_eq!(junit_cases(&xml).len(), 2);
}

/// A plain check is retried `retries` times: a 50 % flaky endpoint passes with one retry.
#[test]
fn retries_for_plain_checks() {
    let api = standin::start(Behaviour {
        error_every: 2,
        ..Behaviour::default()
    });
    let yaml = "checks:\n  - name: health\n    url: /health\n  - name: first\n    url: /flaky\n  - name: second\n    url: /flaky\n    retries: 1\n    retry_delay: 10ms\n";
    let (out, _) = run_spec(&api, yaml, &[]);
    out.assert_code(0);
    let cs = checks(&out);
    assert_eq!(check(&cs, "second")["attempts"], 2);
    let no_retry =
        "checks:\n  - name: a\n    url: /flaky\n    ready: false\n  - name: b\n    url: /flaky\n";
    let (out, _) = run_spec(&api, no_retry, &[]);
    out.assert_code(1);
}

/// Load gates: measured beside thresholds; passing on a healthy API, failing on the error rate
/// of a flaky one and on the p95 of a slow one.
#[test]
fn load_gates_pass_and_fail() {
    let api = standin::start(Behaviour {
        error_every: 5,
        slow: Duration::from_millis(120),
        ..Behaviour::default()
    });
    let pass = "checks:\n  - name: load\n    url: /health\n    load: {requests: 200, concurrency: 20, p50: 2s, p95: 2s, p99: 2s, error_rate: 0%}\n";
    let (out, _) = run_spec(&api, pass, &[]);
    out.assert_code(0);
    let cs = checks(&out);
    let l = &check(&cs, "load")["load"];
    assert_eq!(l["requests"], 200);
    assert_eq!(l["errors"], 0);
    assert!(
        out.stderr.contains("threshold p95 ≤ 2000 ms"),
        "{}",
        out.stderr
    );

    let flaky = "checks:\n  - name: flaky load\n    url: /flaky\n    load: {requests: 100, concurrency: 10, error_rate: 1%}\n";
    let (out, xml) = run_spec(&api, flaky, &[]);
    out.assert_code(1);
    assert_eq!(out.output("error_rate"), "0.2");
    let c = check(&checks(&out), "flaky load").clone();
    assert!(
        c["failures"][0]
            .as_str()
            .unwrap()
            .contains("error rate 20% (20 of 100) is above the threshold 1%"),
        "{c}"
    );
    assert!(
        c["failures"][1].as_str().unwrap().contains("status 500"),
        "{c}"
    );
    assert!(xml.contains("error rate 20%"));

    let slow = "checks:\n  - name: slow load\n    url: /slow\n    load: {requests: 20, concurrency: 5, p95: 50ms}\n";
    let (out, _) = run_spec(&api, slow, &[]);
    out.assert_code(1);
    assert!(out.output("p95_ms").parse::<f64>().unwrap() >= 120.0);
    assert!(
        out.stderr.contains("is above the threshold 50 ms"),
        "{}",
        out.stderr
    );
}

/// The one-liner replaces `curl -f`: 2xx by default, an exact status on request, redirects not
/// followed unless asked.
#[test]
fn one_liner_get() {
    let api = standin::start(Behaviour::default());
    // `smoke-test --get URL/PATH EXTRA…`
    let get = |path: &str, extra: &[&str]| {
        cmd()
            .args(["--get", &format!("{}{path}", api.url)])
            .args(extra.iter().copied())
            .run()
    };
    get("/health", &[]).assert_code(0);
    get("/recipes", &[]).assert_code(1);
    get("/recipes", &["--expect-status", "401"]).assert_code(0);
    get("/redirect", &[]).assert_code(1);
    get("/redirect", &["--expect-status", "302"]).assert_code(0);
    get("/redirect", &["--follow-redirects", "3"]).assert_code(0);
}

/// HTTPS with `--ca-file`: the server's CA is trusted besides the system roots, and HTTP/2 is
/// spoken when the server offers it by ALPN (HTTP/1.1 when it offers only that).
#[test]
fn https_with_ca_file_speaks_http2_when_offered() {
    for (alpn, version) in [
        (&["h2", "http/1.1"][..], "HTTP/2.0"),
        (&["http/1.1"][..], "HTTP/1.1"),
    ] {
        let server = tls::start(alpn);
        let spec = Spec::new(&format!(
            "checks:\n  - name: version\n    url: /v\n    expect:\n      json:\n        - {{path: $.version, equals: {version}}}\n"
        ));
        let out = spec
            .cmd(&server.url)
            .arg("--ca-file")
            .arg(server.ca_file.display().to_string())
            .run();
        out.assert_code(0).assert_no_panic();
        assert!(out.stdout.contains("\"passed\""), "{}", out.stdout);
    }
}

/// A server whose certificate no trusted CA signed: exit 3, and the message names `--ca-file`.
#[test]
fn untrusted_certificate_exits_3_naming_ca_file() {
    let server = tls::start(&["h2", "http/1.1"]);
    let out = cmd().args(["--get", &format!("{}/v", server.url)]).run();
    out.assert_code(3).assert_no_panic();
    assert!(out.stderr.contains("--ca-file"), "{}", out.stderr);
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), "not a certificate\n").unwrap();
    cmd()
        .args(["--get", &format!("{}/v", server.url), "--ca-file"])
        .arg(bad.path().display().to_string())
        .run()
        .assert_code(2);
}

/// Nothing listening: exit 3 without a readiness wait, exit 4 with one.
#[test]
fn unreachable_exits_3_or_4() {
    let url = format!("http://127.0.0.1:{}/health", unused_port());
    let out = cmd().args(["--get", &url]).run();
    out.assert_code(3).assert_no_panic();
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);
    assert!(out.stderr.contains("--retry-for"), "{}", out.stderr);
    let out = cmd().args(["--get", &url, "--retry-for", "1s"]).run();
    out.assert_code(4);
    let spec = Spec::new("checks:\n  - name: a\n    url: /health\n    ready: false\n");
    let base = format!("http://127.0.0.1:{}", unused_port());
    cmd()
        .args([spec.path.as_str(), "--base-url", &base])
        .run()
        .assert_code(3);
}

/// Bad specs and bad flags exit 2 with file:line:column, before any request is sent.
#[test]
fn bad_input_exits_2_before_any_request() {
    let api = standin::start(Behaviour::default());
    let cases: &[(&str, &str)] = &[
        (
            "checks:\n  - name: a\n    url: /a\n    expect:\n      status: 999\n",
            "smoke.yml:5:15: checks[0].expect.status: status 999 is not an HTTP status",
        ),
        (
            "checks:\n  - name: a\n    url: /a\n  - name: b\n    url: /b/{{token}}\n",
            "smoke.yml:4:5: checks[1]: check `b`: `{{token}}` is not defined",
        ),
        (
            "checks:\n  - name: a\n    url: /a\n    expect:\n      json: [{path: '$.a[', exists: true}]\n",
            "smoke.yml:5:21: checks[0].expect.json[0].path: invalid JSONPath",
        ),
        (
            "checks:\n  - name: a\n    url: /a\n    expect: {body: {matches: '(['}}\n",
            "smoke.yml:4:30: checks[0].expect.body.matches: invalid regex",
        ),
    ];
    for (yaml, msg) in cases {
        let spec = Spec::new(yaml);
        let out = cmd()
            .args([spec.path.as_str(), "--base-url", &api.url])
            .run();
        out.assert_code(2).assert_no_panic();
        let want = msg.replace("smoke.yml", &spec.path);
        assert!(
            out.stderr.contains(&want),
            "want {want}\ngot {}",
            out.stderr
        );
    }
    let file = Spec::new("checks:\n  - name: a\n    url: /health\n");
    let spec = file.path.clone();
    let flags: &[&[&str]] = &[
        &[&spec, "--base-url", &api.url, "--var", "novalue"],
        &[
            &spec,
            "--base-url",
            &api.url,
            "--var",
            "a=1",
            "--var",
            "a=2",
        ],
        &[&spec, "--base-url", &api.url, "--timeout", "0s"],
        &[&spec],
        &[&spec, "--base-url", "ftp://x"],
        &[&spec, "--get", &api.url],
        &["--expect-status", "200"],
        &["--get", "not a url"],
        &["/nonexistent/smoke.yml", "--base-url", &api.url],
        &[
            &spec,
            "--base-url",
            &api.url,
            "--ca-file",
            "/nonexistent.pem",
        ],
    ];
    for f in flags {
        let out = cmd().args(f.iter().copied()).run();
        out.assert_code(2).assert_no_panic();
    }
    let out = cmd()
        .args([spec.as_str(), "--base-url", "http://example.com"])
        .run();
    out.assert_code(1);
    assert!(out.stderr.contains("--allow-http"), "{}", out.stderr);
    assert_eq!(
        api.hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a request was sent"
    );
}

/// `{{env.NAME}}` reads the environment (through the Context); `--output json` is one object.
#[test]
fn env_variables_and_json_output() {
    let api = standin::start(Behaviour::default());
    let spec = Spec::new(
        "checks:\n  - name: login\n    method: POST\n    url: /auth/login\n    json: {email: '{{env.SMOKE_EMAIL}}', password: '{{env.SMOKE_PASSWORD}}'}\n",
    );
    let out = spec
        .cmd(&api.url)
        .env("SMOKE_EMAIL", "ci@example.com")
        .env("SMOKE_PASSWORD", PASSWORD)
        .run();
    out.assert_code(0);
    let j = out.json();
    assert_eq!(j["result"], "passed");
    assert_eq!(j["passed"], 1);
    let out = cmd()
        .args([spec.path.as_str(), "--base-url", &api.url])
        .run();
    out.assert_code(2);
    assert!(
        out.stderr.contains("SMOKE_EMAIL is not set"),
        "{}",
        out.stderr
    );
}

/// `{{env.NAME}}` values whose names say they are secrets (`*_PASSWORD`, `*_TOKEN`, `*_KEY`…)
/// are masked like `--secret-var`: a failing check's request line carries none of them.
#[test]
fn secret_named_env_values_are_masked() {
    let api = standin::start(Behaviour::default());
    let spec = Spec::new(
        "checks:\n  - name: keyed\n    url: /nope?key={{env.SMOKE_API_KEY}}&who={{env.SMOKE_USER}}\n    ready: false\n",
    );
    let (out, junit) = spec.run_in_actions(
        spec.cmd(&api.url)
            .env("SMOKE_API_KEY", PASSWORD)
            .env("SMOKE_USER", "ci-bot"),
    );
    out.assert_code(1).assert_no_panic();
    assert!(out.stderr.contains("key=***"), "{}", out.stderr);
    assert!(out.stderr.contains("who=ci-bot"), "{}", out.stderr);
    assert_no_canary(&out, &junit.unwrap());
}

/// `--help` teaches: examples, the spec shape and the exit codes.
#[test]
fn help_has_examples() {
    let out = cmd().arg("--help").run();
    out.assert_code(0);
    for s in [
        "--get",
        "--retry-for",
        "capture:",
        "load:",
        "Exit codes",
        "{{env.NAME}}",
    ] {
        assert!(out.stdout.contains(s), "help lacks {s}");
    }
}
