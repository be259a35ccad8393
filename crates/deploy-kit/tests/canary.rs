//! The canary across the tools that have no canary test of their own (issue 15's reliability
//! figures; secrets-sync and smoke-test feed theirs in their own tests): a unique AWS session
//! token — a credential every tool holds — goes to `ecr-push`, `ecs-roll deploy`,
//! `ecs-roll rollback`, `wait-stable` and `rds-snapshot create` running as a GitHub Actions step,
//! against an AWS endpoint that answers every request with an error whose message echoes the
//! request's headers (so the token itself comes back as third-party text). The token must appear
//! nowhere the job shows or keeps: stdout, stderr (its own `::add-mask::` line aside),
//! `$GITHUB_OUTPUT`, the job summary.

use std::io::{BufReader, Write};
use std::net::TcpListener;

use test_support::http_wire::{read_body, read_head};
use test_support::{Cmd, Output};

/// An AWS endpoint on loopback that refuses every call with a 400 whose message is the request's
/// header block: JSON for the JSON protocols (ECS, ECR), XML for the query protocol (RDS).
fn echo_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    url
}

fn answer(stream: std::net::TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let Some(head) = read_head(&mut reader) else {
            return;
        };
        let Some(body) = read_body(&mut reader, &head) else {
            return;
        };
        let headers: String = head
            .lines
            .iter()
            .map(|l| format!("{} ", l.trim_end()))
            .collect();
        let query = String::from_utf8_lossy(&body).contains("Action=");
        let echoed = format!("request refused; it carried: {headers}");
        let (ctype, text) = if query {
            (
                "text/xml",
                format!(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameterValue</Code>\
                     <Message>{}</Message></Error><RequestId>1</RequestId></ErrorResponse>",
                    echoed.replace('&', "&amp;").replace('<', "&lt;")
                ),
            )
        } else {
            (
                "application/x-amz-json-1.1",
                serde_json::json!({"__type": "InvalidParameterException", "message": echoed})
                    .to_string(),
            )
        };
        let reply = format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: {ctype}\r\nx-amzn-RequestId: 1\r\n\
             x-amzn-ErrorType: InvalidParameterException\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if stream.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Occurrences of `canary` wherever the job shows or keeps output.
fn occurrences(out: &Output, canary: &str) -> usize {
    let mask = format!("::add-mask::{canary}");
    let stderr = out
        .stderr
        .split(['\n', '\r'])
        .filter(|l| *l != mask)
        .map(|l| l.matches(canary).count())
        .sum::<usize>();
    let outputs = out
        .outputs
        .iter()
        .map(|(k, v)| k.matches(canary).count() + v.matches(canary).count())
        .sum::<usize>();
    stderr + outputs + out.stdout.matches(canary).count() + out.summary.matches(canary).count()
}

/// A small OCI layout for ecr-push to read before it asks ECR for a token.
fn layout(dir: &std::path::Path) {
    test_support::oci::oci_layout(dir, 7, &[64], "latest");
}

/// Regression (seen failing on 2026-11-27: every one of these five runs showed the token 4 times —
/// stderr, the `::error` annotation, the `error` output, the summary — and none masked it first).
/// Core now masks the process's credentials at start and redacts them from every text it writes.
#[test]
fn session_token_never_shown_by_any_tool_on_any_aws_error() {
    let canary = format!("CANARYtok{}", test_support::unique("zz").replace('-', ""));
    let endpoint = echo_endpoint();
    let dir = tempfile::tempdir().unwrap();
    layout(dir.path());
    let source = format!("oci:{}", dir.path().display());
    let runs: Vec<(&str, Vec<&str>)> = vec![
        (
            "ecr-push (ECR GetAuthorizationToken refused)",
            vec![
                "ecr-push",
                "--source",
                &source,
                "--repository",
                "app",
                "--tag",
                "v1",
            ],
        ),
        (
            "ecs-roll deploy (DescribeServices refused)",
            vec![
                "ecs-roll",
                "deploy",
                "--cluster",
                "c",
                "--service",
                "web",
                "--image",
                "app=web:v2",
            ],
        ),
        (
            "ecs-roll rollback (refused)",
            vec!["ecs-roll", "rollback", "--cluster", "c", "--service", "web"],
        ),
        (
            "wait-stable (DescribeServices refused)",
            vec![
                "wait-stable",
                "--cluster",
                "c",
                "--service",
                "web",
                "--timeout",
                "20s",
            ],
        ),
        (
            "rds-snapshot create (DescribeDBInstances refused)",
            vec!["rds-snapshot", "create", "--db", "app-db"],
        ),
    ];
    let mut leaks = Vec::new();
    let mut echoed = 0;
    for (what, args) in runs {
        let out = Cmd::bin("deploy-kit")
            .github_actions()
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "AKIDCANARYTEST")
            .env("AWS_SECRET_ACCESS_KEY", "canary-secret-key-never-sent")
            .env("AWS_SESSION_TOKEN", canary.as_str())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", endpoint.as_str())
            .args(["--max-attempts", "1"])
            .run();
        out.assert_no_panic();
        let n = occurrences(&out, &canary);
        test_support::figures::record(
            "canary",
            serde_json::json!({"tool": what.split(' ').next(), "path": what, "occurrences": n}),
        );
        // The endpoint's answer reached the tool (it names the refusal), so a clean run proves
        // something.
        if out.stderr.contains("request refused") || out.stdout.contains("request refused") {
            echoed += 1;
        }
        assert_ne!(out.code, 0, "{what} succeeded against a refusing endpoint");
        if n > 0 {
            leaks.push(format!(
                "{what}: the token appears {n} times\nstdout:\n{}\nstderr:\n{}\noutputs: {:?}\nsummary:\n{}",
                out.stdout, out.stderr, out.outputs, out.summary
            ));
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n\n"));
    assert!(
        echoed > 0,
        "no tool showed the endpoint's refusal, so nothing was tested"
    );
}
