//! AWS configuration shared by every tool, exercised through a real tool against moto:
//! GitHub OIDC role assumption, endpoint rules, region rules.

use test_support::{AwsAccount, Cmd, GithubOidcFake, MotoSession, standins, unused_port};

/// With --role-arn and the GitHub OIDC variables, the tool fetches an ID token (bearer auth,
/// audience sts.amazonaws.com), masks it, assumes the role with web identity, and works in the
/// role's account.
#[test]
fn github_oidc_assumes_role() {
    let moto = standins().moto;
    // A database in the role's account; the default account has none.
    let account = account_with_instance("oidc-db");

    let jwt =
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm8vcjpyZWY6cmVmcy9oZWFkcy9tYWluIn0.c2lnbmF0dXJl";
    let fake = GithubOidcFake::start(jwt);
    let role = format!("arn:aws:iam::{}:role/deploy", account.account_id);
    let out = Cmd::bin("deploy-kit")
        .github_actions()
        .envs([
            ("AWS_ENDPOINT_URL", moto.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", fake.url.as_str()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runtime-request-token"),
        ])
        .args([
            "rds-snapshot",
            "list",
            "--db",
            "oidc-db",
            "--role-arn",
            &role,
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    assert_eq!(out.json()["db"], "oidc-db");
    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(
        requests.len(),
        1,
        "one token request expected: {requests:?}"
    );
    assert!(
        requests[0].contains("audience=sts.amazonaws.com"),
        "{}",
        requests[0]
    );
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer runtime-request-token"),
        "{}",
        requests[0]
    );
    assert!(
        out.stderr.contains(&format!("::add-mask::{jwt}")),
        "the ID token must be masked:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("::add-mask::runtime-request-token"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches(jwt).count(),
        1,
        "the token appears only in its mask command"
    );
}

/// Plain HTTP endpoints are refused unless they are loopback (exit 2, before any call).
#[test]
fn plain_http_only_to_loopback() {
    let out = Cmd::bin("rds-snapshot")
        .envs([
            ("AWS_ENDPOINT_URL_RDS", "http://203.0.113.7:80"),
            ("AWS_REGION", "us-east-1"),
        ])
        .args(["list", "--db", "app-db"])
        .run();
    out.assert_code(2);
    assert!(
        out.stderr.contains("AWS_ENDPOINT_URL_RDS") && out.stderr.contains("non-loopback"),
        "{}",
        out.stderr
    );
}

/// No region anywhere is a usage error naming the fix, not a hang probing instance metadata.
#[test]
fn missing_region_is_usage_error() {
    let dead = format!("http://127.0.0.1:{}", unused_port());
    let out = Cmd::bin("rds-snapshot")
        .env("AWS_ENDPOINT_URL", dead)
        .args(["list", "--db", "app-db"])
        .run();
    out.assert_code(2);
    assert!(
        out.stderr.contains("--region") && out.stderr.contains("AWS_REGION"),
        "{}",
        out.stderr
    );
}

/// A fresh moto account holding one DB instance `id`.
fn account_with_instance(id: &str) -> AwsAccount {
    let MotoSession {
        account,
        rt,
        config,
    } = MotoSession::start();
    let rds = aws_sdk_rds::Client::new(&config);
    rt.block_on(test_support::postgres_instance(&rds, id).send())
        .unwrap();
    account
}

/// With --role-arn and AWS_WEB_IDENTITY_TOKEN_FILE, the token file is used for
/// AssumeRoleWithWebIdentity and the tool works in the role's account.
#[test]
fn web_identity_token_file_assumes_role() {
    let account = account_with_instance("file-db");
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "header.payload.signature\n").unwrap();
    let role = format!("arn:aws:iam::{}:role/deploy", account.account_id);
    let out = Cmd::bin("rds-snapshot")
        .envs([
            ("AWS_ENDPOINT_URL", standins().moto.as_str()),
            ("AWS_REGION", "us-east-1"),
        ])
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string())
        .args([
            "list",
            "--db",
            "file-db",
            "--role-arn",
            &role,
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    assert_eq!(out.json()["db"], "file-db");
}

/// With --role-arn and ordinary credentials, the role is assumed with AssumeRole; without
/// --role-arn the same credentials see a different account.
#[test]
fn plain_assume_role() {
    let account = account_with_instance("role-db");
    let role = format!("arn:aws:iam::{}:role/deploy", account.account_id);
    let base = [
        ("AWS_ENDPOINT_URL", standins().moto),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEBASE00001".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "base-secret".to_string()),
    ];
    let assumed = Cmd::bin("rds-snapshot")
        .envs(base.clone())
        .args([
            "list",
            "--db",
            "role-db",
            "--role-arn",
            &role,
            "--output",
            "json",
        ])
        .run();
    assumed.assert_code(0);
    let unassumed = Cmd::bin("rds-snapshot")
        .envs(base)
        .args(["list", "--db", "role-db"])
        .run();
    unassumed.assert_code(2);
}
