//! End-to-end tests: the real `ecr-push` binary against the real Distribution registry (open and
//! with Basic auth matching moto's ECR token), moto's ECR API, and skopeo as the reference client
//! that checks every result.

#[path = "../support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::fault_proxy;
use support::*;
use test_support::{Cmd, Output, standins, unique, unused_port};

/// moto's default account: its ECR token decodes to the auth registry's htpasswd pair.
fn default_account_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT_URL", standins().moto),
    ]
}

const MOTO_TOKEN_PASSWORD: &str = "123456789012-auth-token";
const MOTO_TOKEN_B64: &str = "QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu";
const AUTH_CREDS: &str = "AWS:123456789012-auth-token";

fn registry() -> String {
    standins().registry
}

/// `ecr-push` against the open registry with no AWS at all.
fn push_open(source: &str, repo: &str, tags: &[&str]) -> Cmd {
    let mut cmd = Cmd::bin("ecr-push").args([
        "--source",
        source,
        "--repository",
        repo,
        "--registry",
        &format!("http://{}", registry()),
        "--no-ecr-auth",
        "--output",
        "json",
    ]);
    for t in tags {
        cmd = cmd.args(["--tag", t]);
    }
    cmd
}

/// `ecr-push` of the OCI layout in `dir` to `repo:v1` at `registry` (a URL); callers add the
/// credentials and the flags under test.
fn push_layout(dir: &Path, repo: &str, registry: &str) -> Cmd {
    let source = format!("oci:{}", dir.display());
    Cmd::bin("ecr-push")
        .args(["--source", &source, "--repository", repo, "--tag", "v1"])
        .args(["--registry", registry])
}

fn num(out: &Output, key: &str) -> u64 {
    out.json()[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {}", out.stdout))
}

fn seed() -> u64 {
    fastrand::u64(..1 << 40)
}

// One test binary, a module per topic (ripgrep style).
mod auth;
mod large_and_faulty;
mod push;
mod sources;
mod usage;
