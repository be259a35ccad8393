//! Registry authentication: ECR tokens (masked), bearer challenges, missing repositories, wrong passwords, unreachable registries.

use super::*;

/// The auth registry accepts moto's ECR token (used as Basic credentials); the token never
/// appears in stdout, outputs or the summary, and on stderr only inside `::add-mask::`.
#[test]
fn auth_registry_with_ecr_token_and_masking() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), seed(), &[40_000], "v1");
    let repo = unique("auth");
    let out = push_layout(
        dir.path(),
        &repo,
        &format!("http://{}", standins().registry_auth),
    )
    .github_actions()
    .envs(default_account_env())
    .args(["--create-repository", "--output", "json"])
    .run();
    out.assert_code(0);
    assert_eq!(out.output("digest"), img.manifest_digest);
    assert_eq!(
        out.output("image_uri"),
        format!("{}/{repo}:v1", standins().registry_auth)
    );
    assert_eq!(out.output("blobs_pushed"), "2");
    assert!(
        out.summary.contains(&img.manifest_digest),
        "{}",
        out.summary
    );
    assert!(out.summary.contains("| Blobs |"), "{}", out.summary);
    for secret in [MOTO_TOKEN_PASSWORD, MOTO_TOKEN_B64] {
        assert!(!out.stdout.contains(secret));
        assert!(!out.summary.contains(secret));
        assert!(out.outputs.values().all(|v| !v.contains(secret)));
        for line in out.stderr.lines().filter(|l| l.contains(secret)) {
            assert!(
                line.starts_with("::add-mask::"),
                "unmasked secret on stderr: {line}"
            );
        }
    }
    assert!(
        out.stderr
            .contains(&format!("::add-mask::{MOTO_TOKEN_PASSWORD}"))
    );
    let reference = format!("{}/{repo}:v1", standins().registry_auth);
    assert_eq!(
        skopeo_digest(&reference, Some(AUTH_CREDS)),
        img.manifest_digest
    );
    assert_eq!(
        skopeo_roundtrip_oci(&reference, Some(AUTH_CREDS)),
        img.manifest_digest
    );

    // Outside Actions nothing registers masks, so the token must not be on stderr at all.
    let out = push_layout(
        dir.path(),
        &repo,
        &format!("http://{}", standins().registry_auth),
    )
    .envs(default_account_env())
    .run();
    out.assert_code(0);
    assert!(
        !out.stderr.contains(MOTO_TOKEN_PASSWORD) && !out.stderr.contains(MOTO_TOKEN_B64),
        "{}",
        out.stderr
    );
}

/// Behind token authentication (a `Bearer` challenge), the ECR credentials are traded for a
/// token at the advertised realm and the push completes.
#[test]
fn bearer_challenge_is_answered_through_the_token_service() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), seed(), &[30_000], "v1");
    let gate = fault_proxy::BearerGate {
        basic: format!("Basic {MOTO_TOKEN_B64}"),
        token: "test-bearer-token".into(),
    };
    let proxy = fault_proxy::start_bearer(&registry(), gate);
    let repo = unique("bearer");
    let out = push_layout(dir.path(), &repo, &format!("http://{}", proxy.addr))
        .envs(default_account_env())
        .args(["--create-repository", "--output", "json"])
        .run();
    out.assert_code(0);
    assert_eq!(out.json()["digest"], img.manifest_digest.as_str());
    assert!(
        proxy
            .counts
            .tokens
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    assert_eq!(
        skopeo_digest(&format!("{}/{repo}:v1", registry()), None),
        img.manifest_digest
    );
}

/// A repository that does not exist is not created behind the user's back: exit 3 with the
/// flag that would create it.
#[test]
fn missing_repository_needs_create_repository() {
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), seed(), &[5_000], "v1");
    let out = push_layout(
        dir.path(),
        &unique("absent"),
        &format!("http://{}", registry()),
    )
    .envs(default_account_env())
    .run();
    out.assert_code(3).assert_no_panic();
    assert!(
        out.stderr.contains("does not exist") && out.stderr.contains("--create-repository"),
        "{}",
        out.stderr
    );
}

/// Another account's token is refused by the auth registry: exit 3, nothing pushed, no secret.
#[test]
fn wrong_registry_password_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), seed(), &[10_000], "v1");
    let account = test_support::moto_account();
    let out = push_layout(
        dir.path(),
        &unique("denied"),
        &format!("http://{}", standins().registry_auth),
    )
    .aws(&account)
    .args(["--create-repository"])
    .run();
    out.assert_code(3).assert_no_panic();
    assert!(
        out.stderr.contains("refused our credentials"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr
            .contains(&format!("{}-auth-token", account.account_id))
    );
}

/// A registry nobody listens on: exit 3, quickly.
#[test]
fn unreachable_registry_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), seed(), &[10_000], "v1");
    let start = Instant::now();
    let out = push_layout(
        dir.path(),
        "web",
        &format!("http://127.0.0.1:{}", unused_port()),
    )
    .args(["--no-ecr-auth"])
    .run();
    out.assert_code(3).assert_no_panic();
    assert!(
        out.stderr.contains("cannot reach the registry"),
        "{}",
        out.stderr
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}
