//! `export` (masked before written) and `verify` (a task definition's secret references exist).

use super::*;

/// export masks every value (each line of a multi-line one) before anything else, then writes
/// $GITHUB_ENV in the runner's heredoc syntax, or a dotenv file with mode 0600.
#[test]
fn export_masks_then_writes() {
    let f = Fx::new();
    let name = unique("exp");
    f.secret(
        &name,
        r#"{"DB_URL":"postgres://u:pw-7788@db/app","TLS_KEY":"-----BEGIN KEY-----\nline-two-9900\n-----END KEY-----","OTHER":"other-value"}"#,
        false,
    );
    let genv = f.dir.path().join("github_env");
    std::fs::write(&genv, "").unwrap();
    let out = f
        .cmd()
        .github_actions()
        .env("GITHUB_ENV", genv.display().to_string())
        .args([
            "export",
            "--from",
            &format!("aws:{name}"),
            "--keys",
            "DB_URL,TLS_KEY",
            "--to",
            "github-env",
        ])
        .run();
    out.assert_code(0).assert_no_panic();
    let first_mask = out
        .stderr
        .find("::add-mask::postgres://u:pw-7788@db/app")
        .expect("masked");
    assert!(
        out.stderr.contains("::add-mask::line-two-9900"),
        "{}",
        out.stderr
    );
    assert!(first_mask < out.stderr.find("exported").unwrap());
    let written = std::fs::read_to_string(&genv).unwrap();
    let parsed: BTreeMap<String, String> =
        dk_core::gha::parse_outputs(&written).into_iter().collect();
    assert_eq!(
        parsed,
        map(&[
            ("DB_URL", "postgres://u:pw-7788@db/app"),
            (
                "TLS_KEY",
                "-----BEGIN KEY-----\nline-two-9900\n-----END KEY-----"
            ),
        ])
    );
    assert!(written.starts_with("DB_URL<<ghadelimiter_"), "{written}");
    assert_hidden(&out, &["pw-7788", "line-two-9900", "other-value"]);
    assert_eq!(out.output("keys"), "DB_URL,TLS_KEY");

    let file = f.dir.path().join("runtime.env");
    std::fs::write(&file, "old").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (from, to_file) = (format!("aws:{name}"), format!("dotenv:{}", file.display()));
    let export = |args: &[&str]| {
        f.cmd()
            .args(["export", "--from", &from])
            .args(args.iter().copied())
            .run()
    };
    export(&["--to", &to_file]).assert_code(0);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let back = secrets_sync::dotenv::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        back["TLS_KEY"].expose(),
        "-----BEGIN KEY-----\nline-two-9900\n-----END KEY-----"
    );
    assert_eq!(back.len(), 3);

    // A key that is not there is named; --to github-env outside Actions is a usage error.
    let out = export(&["--keys", "DB_UR", "--to", &to_file]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("did you mean `DB_URL`"),
        "{}",
        out.stderr
    );
    export(&["--to", "github-env"]).assert_code(2);
}

fn task_definition(refs: &[(&str, &str)]) -> String {
    let secrets: Vec<serde_json::Value> = refs
        .iter()
        .map(|(n, v)| serde_json::json!({"name": n, "valueFrom": v}))
        .collect();
    serde_json::json!({
        "family": "web",
        "containerDefinitions": [{"name": "app", "image": "app:v1", "essential": true, "secrets": secrets}]
    })
    .to_string()
}

/// verify: every valueFrom resolves (secret, JSON key, version stage) → 0; a missing secret, a
/// missing JSON key or stage → 1, each named.
#[test]
fn verify_present_and_missing() {
    let f = Fx::new();
    let name = unique("db");
    let arn = f.secret(
        &name,
        r#"{"username":"app","password":"pw-verify-1234"}"#,
        false,
    );
    let missing = arn.replace(&name, &format!("{name}-gone"));
    let good = f.file(
        "td.json",
        &task_definition(&[
            ("DB", &arn),
            ("DB_USER", &format!("{arn}:username::")),
            ("DB_PREV", &format!("{arn}::AWSCURRENT:")),
            ("PARAM", "/app/param"),
        ]),
    );
    let out = f
        .cmd()
        .args(["verify", "--task-definition", &good, "--output", "json"])
        .run();
    out.assert_code(0);
    assert_eq!(out.json()["missing"], 0);
    let bad = f.file(
        "td-bad.json",
        &task_definition(&[
            ("DB", &arn),
            ("GONE", &missing),
            ("NOKEY", &format!("{arn}:nokey::")),
            ("NOSTAGE", &format!("{arn}::AWSPENDING:")),
        ]),
    );
    let out = f
        .cmd()
        .github_actions()
        .args(["verify", "--task-definition", &bad])
        .run();
    out.assert_code(1);
    for what in [
        "GONE",
        "no such secret",
        "NOKEY",
        "no JSON key `nokey`",
        "NOSTAGE",
        "AWSPENDING",
    ] {
        assert!(out.stderr.contains(what), "{what}: {}", out.stderr);
    }
    assert_eq!(out.output("missing"), "3");
    assert_hidden(&out, &["pw-verify-1234"]);
}
