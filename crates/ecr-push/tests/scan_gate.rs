//! The image-scan gate (`--scan-gate`) against moto's ECR API: StartImageScan and
//! DescribeImageScanFindings are moto's own; the findings are set per image through moto's
//! documented injection endpoint (`/moto-api/static/ecr/scan-finding-results`).
//!
//! Our stand-ins split ECR in two: blobs and manifests go to the Distribution registry, the
//! control plane is moto, which therefore never hears of a pushed image. Each test pushes, then
//! registers the same manifest under its real digest with moto's PutImage — what real ECR does by
//! itself on a push — and only then runs the gate.

mod support;

use std::path::Path;

use serde_json::{Value, json};
use support::*;
use test_support::{Cmd, Output, http_request, standins, unique};

/// moto's default account (access key `testing`).
const ACCOUNT: &str = "123456789012";

fn aws_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT_URL", standins().moto),
    ]
}

fn ecr_push(dir: &Path, repo: &str, extra: &[&str]) -> Output {
    Cmd::bin("ecr-push")
        .github_actions()
        .envs(aws_env())
        .args([
            "--source",
            &format!("oci:{}", dir.display()),
            "--repository",
            repo,
            "--tag",
            "v1",
            "--registry",
            &format!("http://{}", standins().registry),
            "--output",
            "json",
        ])
        .args(extra.iter().copied())
        .run()
}

/// A call to moto's ECR JSON API as the default account.
fn moto_ecr(action: &str, body: Value) -> Value {
    let auth = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=0";
    let target = format!("AmazonEC2ContainerRegistry_V20150921.{action}");
    let headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", target.as_str()),
        ("Authorization", auth),
    ];
    let (status, text) = http_request(
        &standins().moto,
        "POST",
        "/",
        &headers,
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "moto {action}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Push `repo:v1` (created), then make moto's ECR know the image under its real digest.
fn pushed_image(dir: &Path, repo: &str) -> String {
    let img = oci_layout(dir, fastrand::u64(..1 << 40), &[10_000], "v1");
    ecr_push(dir, repo, &["--create-repository"]).assert_code(0);
    let manifest = std::fs::read_to_string(blob_file(dir, &img.manifest_digest)).unwrap();
    moto_ecr(
        "PutImage",
        json!({"repositoryName": repo, "imageManifest": manifest, "imageTag": "v1",
               "imageManifestMediaType": OCI_MANIFEST, "imageDigest": img.manifest_digest}),
    );
    img.manifest_digest
}

/// Set what DescribeImageScanFindings answers for this image.
fn inject_scan(repo: &str, digest: &str, status: &str, findings: Value) {
    let counts = findings
        .get("findingSeverityCounts")
        .cloned()
        .unwrap_or(json!({}));
    let mut scan = json!({"findingSeverityCounts": counts});
    for key in ["findings", "enhancedFindings"] {
        if let Some(v) = findings.get(key) {
            scan[key] = v.clone();
        }
    }
    let result = json!({
        "registryId": ACCOUNT, "repositoryName": repo, "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": status, "description": "set by the test"},
        "imageScanFindings": scan,
    });
    let body = json!({"results": [result], "region": "us-east-1", "account_id": ACCOUNT});
    let (code, text) = http_request(
        &standins().moto,
        "POST",
        "/moto-api/static/ecr/scan-finding-results",
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(code, 201, "{text}");
}

fn finding(name: &str, severity: &str, description: &str) -> Value {
    json!({"name": name, "severity": severity, "description": description,
           "attributes": [{"key": "package_name", "value": "openssl"}, {"key": "package_version", "value": "3.0.1"}]})
}

/// No line of the run is a workflow command that core did not write, and no lone `\r` or
/// `##[` from finding text reaches stderr, the summary or the outputs.
fn assert_neutralised(out: &Output) {
    for cmd in dk_core::gha::runner_commands(&out.stderr) {
        let name = dk_core::gha::command_name(&cmd);
        assert!(
            ["add-mask", "group", "endgroup", "error", "warning"].contains(&name),
            "foreign workflow command on stderr: {cmd}"
        );
    }
    for text in [&out.stderr, &out.summary, &out.stdout]
        .into_iter()
        .chain(out.outputs.values())
    {
        assert!(!text.contains("##[cmd]"), "{text}");
        assert!(!text.contains("\r::"), "{text:?}");
    }
}

/// An image with HIGH findings fails `--scan-gate HIGH` (exit 1, counts and top findings in the
/// outputs and summary, hostile finding text neutralised) and passes `--scan-gate CRITICAL`.
/// The first run starts the scan itself (StartImageScan); the second uses that scan.
#[test]
fn high_findings_fail_the_high_gate_and_pass_the_critical_gate() {
    let dir = tempfile::tempdir().unwrap();
    let repo = unique("scan-high");
    let digest = pushed_image(dir.path(), &repo);
    let hostile = "overflow\r::set-output name=result::pushed ##[cmd] x";
    inject_scan(
        &repo,
        &digest,
        "COMPLETE",
        json!({"findings": [finding("CVE-2026-0001", "HIGH", hostile), finding("CVE-2026-0002", "HIGH", "b"),
                            finding("CVE-2026-0003", "MEDIUM", "c")],
               "findingSeverityCounts": {"HIGH": 2, "MEDIUM": 1}}),
    );

    let out = ecr_push(dir.path(), &repo, &["--scan-gate", "HIGH"]);
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.json()["result"], "scan_failed", "{}", out.stderr);
    assert!(out.stderr.contains("StartImageScan"), "{}", out.stderr);
    assert_eq!(out.output("digest"), digest, "the image stays pushed");
    assert_eq!(out.output("scan_blocking"), "2");
    let counts: Value = serde_json::from_str(out.output("scan_counts")).unwrap();
    assert_eq!(counts["HIGH"], 2);
    assert_eq!(counts["MEDIUM"], 1);
    assert_eq!(counts["CRITICAL"], 0);
    let top: Value = serde_json::from_str(out.output("scan_top_findings")).unwrap();
    assert_eq!(top[0]["severity"], "HIGH");
    assert_eq!(top[0]["package"], "openssl 3.0.1");
    assert!(out.summary.contains("### ❌"), "{}", out.summary);
    assert!(out.summary.contains("| HIGH | 2 |"), "{}", out.summary);
    assert!(out.summary.contains("CVE-2026-0001"), "{}", out.summary);
    assert!(out.stderr.contains("CVE-2026-0001"), "{}", out.stderr);
    assert_neutralised(&out);

    let out = ecr_push(dir.path(), &repo, &["--scan-gate", "critical"]);
    out.assert_code(0);
    assert_eq!(out.json()["result"], "unchanged");
    assert_eq!(out.output("scan_status"), "COMPLETE");
    assert_eq!(out.output("scan_blocking"), "0");
    assert!(
        out.json()["message"]
            .as_str()
            .unwrap()
            .contains("scan gate CRITICAL passed (2 HIGH, 1 MEDIUM)"),
        "{}",
        out.stdout
    );
    assert!(out.summary.contains("### ✅"), "{}", out.summary);
    assert_neutralised(&out);
}

/// A clean image passes the strictest gate.
#[test]
fn clean_image_passes_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let repo = unique("scan-clean");
    let digest = pushed_image(dir.path(), &repo);
    inject_scan(&repo, &digest, "COMPLETE", json!({"findings": []}));
    let out = ecr_push(dir.path(), &repo, &["--scan-gate", "informational"]);
    out.assert_code(0);
    assert_eq!(out.output("scan_status"), "COMPLETE");
    assert_eq!(out.output("scan_findings"), "0");
    assert!(out.summary.contains("✅ none at or above INFORMATIONAL"));
}

/// Enhanced scanning (Inspector) reports ACTIVE and never COMPLETE: judged at once on its
/// findings, and said so, instead of waiting until --scan-timeout.
#[test]
fn enhanced_active_scan_is_judged_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let repo = unique("scan-enhanced");
    let digest = pushed_image(dir.path(), &repo);
    let enhanced = json!({"severity": "CRITICAL", "title": "CVE-2026-9999 - libfoo",
        "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2026-9999",
            "vulnerablePackages": [{"name": "libfoo", "version": "1.2"}]}});
    inject_scan(
        &repo,
        &digest,
        "ACTIVE",
        json!({"enhancedFindings": [enhanced], "findingSeverityCounts": {"CRITICAL": 1}}),
    );
    let out = ecr_push(
        dir.path(),
        &repo,
        &["--scan-gate", "high", "--scan-timeout", "30s"],
    );
    out.assert_code(1);
    assert!(
        out.elapsed.as_secs() < 25,
        "waited on ACTIVE: {:?}",
        out.elapsed
    );
    assert!(
        out.stderr.contains("enhanced scanning (Amazon Inspector)"),
        "{}",
        out.stderr
    );
    let top: Value = serde_json::from_str(out.output("scan_top_findings")).unwrap();
    assert_eq!(top[0]["id"], "CVE-2026-9999");
    assert_eq!(top[0]["package"], "libfoo 1.2");
}

/// A FAILED scan is an error naming what to do (exit 3), not a pass.
#[test]
fn failed_scan_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let repo = unique("scan-failed");
    let digest = pushed_image(dir.path(), &repo);
    inject_scan(&repo, &digest, "FAILED", json!({}));
    let out = ecr_push(dir.path(), &repo, &["--scan-gate", "low"]);
    out.assert_code(3).assert_no_panic();
    assert!(out.stderr.contains("scan FAILED"), "{}", out.stderr);
    assert!(out.stderr.contains("ECR console"), "{}", out.stderr);
}

/// `--dry-run` says what the gate would do and contacts nothing (the endpoint is closed); bad
/// gate input exits 2 before any network call.
#[test]
fn dry_run_and_bad_gate_input() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), 7, &[1_000], "v1");
    let closed = format!("http://127.0.0.1:{}", test_support::unused_port());
    let run = |extra: &[&str]| {
        Cmd::bin("ecr-push")
            .envs(aws_env())
            .env("AWS_ENDPOINT_URL", closed.clone())
            .args([
                "--source",
                &format!("oci:{}", dir.path().display()),
                "--repository",
                "team/web",
                "--tag",
                "v1",
                "--output",
                "json",
            ])
            .args(extra.iter().copied())
            .run()
    };
    let out = run(&["--scan-gate", "high", "--dry-run"]);
    out.assert_code(0);
    assert_eq!(out.json()["result"], "dry_run");
    assert_eq!(out.json()["digest"], img.manifest_digest.as_str());
    let msg = out.json()["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("StartImageScan") && msg.contains("at or above HIGH"),
        "{msg}"
    );

    for bad in [
        vec!["--scan-gate", "severe"],
        vec!["--scan-timeout", "5m"],
        vec!["--scan-gate", "high", "--scan-timeout", "0s"],
        vec![
            "--scan-gate",
            "high",
            "--no-ecr-auth",
            "--registry",
            "http://127.0.0.1:1",
        ],
    ] {
        let out = run(&bad);
        out.assert_code(2).assert_no_panic();
    }
}
