//! `secrets-sync` end to end: the real binary against moto's Secrets Manager (each test in its
//! own moto account) and test-support's GitHub REST fake (which decrypts every sealed box), as a
//! workflow runs it. Assertions read the state back through the SDK or the fake, so a tool that
//! lies in its output still fails.

#[path = "support/aws_proxy.rs"]
mod aws_proxy;

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::Tag;
use test_support::github_fake::GithubFake;
use test_support::{AwsAccount, Cmd, Output, moto_account, standins, unique};

struct Fx {
    account: AwsAccount,
    sm: Client,
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl Fx {
    fn new() -> Fx {
        let account = moto_account();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = rt.block_on(test_support::sdk_config(&standins().moto, Some(&account)));
        Fx {
            sm: Client::new(&config),
            account,
            rt,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self) -> Cmd {
        Cmd::bin("secrets-sync").aws(&self.account)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    /// A secret made by someone else, or by us (`managed`).
    fn secret(&self, name: &str, value: &str, managed: bool) -> String {
        let mut req = self.sm.create_secret().name(name).secret_string(value);
        if managed {
            req = req.tags(
                Tag::builder()
                    .key("managed-by")
                    .value("secrets-sync")
                    .build(),
            );
        }
        self.rt
            .block_on(req.send())
            .unwrap()
            .arn()
            .unwrap()
            .to_string()
    }

    fn value(&self, name: &str) -> String {
        let out = self
            .rt
            .block_on(
                self.sm
                    .get_secret_value()
                    .secret_id(name)
                    .version_stage("AWSCURRENT")
                    .send(),
            )
            .unwrap();
        out.secret_string().unwrap().to_string()
    }

    fn versions(&self, name: &str) -> usize {
        let out = self
            .rt
            .block_on(
                self.sm
                    .list_secret_version_ids()
                    .secret_id(name)
                    .include_deprecated(true)
                    .send(),
            )
            .unwrap();
        out.versions().len()
    }

    /// Names under a prefix, with whether each is scheduled for deletion.
    fn listed(&self, prefix: &str) -> BTreeMap<String, bool> {
        let out = self
            .rt
            .block_on(
                self.sm
                    .list_secrets()
                    .include_planned_deletion(true)
                    .max_results(100)
                    .send(),
            )
            .unwrap();
        out.secret_list()
            .iter()
            .filter(|s| s.name().unwrap().starts_with(prefix))
            .map(|s| (s.name().unwrap().to_string(), s.deleted_date().is_some()))
            .collect()
    }
}

fn changes(out: &Output) -> BTreeMap<String, String> {
    out.json()["detail"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_string(),
                c["change"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Everything a run produced that a person or a later step could see: stdout, stderr without the
/// runner's own mask commands, outputs and summary.
fn visible(out: &Output) -> String {
    let stderr: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    format!(
        "{}\n{}\n{:?}\n{}",
        out.stdout,
        stderr.join("\n"),
        out.outputs,
        out.summary
    )
}

#[track_caller]
fn assert_hidden(out: &Output, values: &[&str]) {
    let seen = visible(out);
    for v in values {
        assert!(!seen.contains(v), "value `{v}` leaked:\n{seen}");
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// plan: one fate per key (added/changed/removed/unchanged/kept), values compared in memory and
/// never shown; nothing written.
#[test]
fn plan_by_key_without_values() {
    let f = Fx::new();
    let p = unique("app") + "/";
    f.secret(&format!("{p}SAME"), "same-value-1111", true);
    f.secret(&format!("{p}DIFF"), "old-value-2222", true);
    f.secret(&format!("{p}GONE"), "gone-value-3333", true);
    f.secret(&format!("{p}THEIRS"), "their-value-4444", false);
    let env = f.file(
        "app.env",
        "SAME=same-value-1111\nDIFF=new-value-5555\nNEW=new-key-6666\n",
    );
    let out = f
        .cmd()
        .github_actions()
        .args([
            "plan",
            "--from",
            &env,
            "--to",
            &format!("aws:{p}"),
            "--prune",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0).assert_no_panic();
    assert_eq!(
        changes(&out),
        map(&[
            ("DIFF", "changed"),
            ("GONE", "removed"),
            ("NEW", "added"),
            ("SAME", "unchanged"),
            ("THEIRS", "kept"),
        ])
    );
    assert_eq!(out.output("result"), "planned");
    assert_eq!(out.output("added"), "1");
    assert!(out.summary.contains("`GONE` | removed"), "{}", out.summary);
    assert_hidden(&out, &["1111", "2222", "3333", "4444", "5555", "6666"]);
    // A plan writes nothing.
    assert_eq!(f.versions(&format!("{p}DIFF")), 1);
    assert_eq!(f.listed(&p).len(), 4);
}

/// apply writes only what changed; a re-run creates no version at all; a changed value gets
/// exactly one new version; ownership tags, KMS key and user tags land on created secrets.
#[test]
fn apply_is_idempotent_per_key() {
    let f = Fx::new();
    let p = unique("svc") + "/";
    let to = format!("aws:{p}");
    let env = f.file("a.env", "A=alpha-value\nB=beta-value\n");
    let apply = |file: &str| {
        f.cmd()
            .args([
                "apply",
                "--from",
                file,
                "--to",
                &to,
                "--tag",
                "team=web",
                "--kms-key-id",
                "alias/app",
                "--output",
                "json",
            ])
            .run()
    };
    let out = apply(&env);
    out.assert_code(0);
    assert_eq!(out.json()["result"], "applied");
    assert_eq!(f.value(&format!("{p}A")), "alpha-value");
    let tags =
        f.rt.block_on(f.sm.describe_secret().secret_id(format!("{p}A")).send())
            .unwrap();
    let tag = |k: &str| {
        tags.tags()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
            .map(str::to_owned)
    };
    assert_eq!(tag("managed-by").as_deref(), Some("secrets-sync"));
    assert_eq!(tag("team").as_deref(), Some("web"));
    assert_eq!(tags.kms_key_id(), Some("alias/app"));

    let again = apply(&env);
    again.assert_code(0);
    assert_eq!(again.json()["result"], "no_changes");
    assert_eq!(
        (f.versions(&format!("{p}A")), f.versions(&format!("{p}B"))),
        (1, 1)
    );

    let changed = f.file("b.env", "A=alpha-value\nB=beta-value-2\n");
    apply(&changed).assert_code(0);
    assert_eq!(
        (f.versions(&format!("{p}A")), f.versions(&format!("{p}B"))),
        (1, 2)
    );
    assert_eq!(f.value(&format!("{p}B")), "beta-value-2");
    apply(&changed).assert_code(0);
    assert_eq!(f.versions(&format!("{p}B")), 2);

    // Going back to an earlier value is a real change (a token of the value alone would be a no-op).
    apply(&env).assert_code(0);
    assert_eq!(f.value(&format!("{p}B")), "beta-value");
}

/// One secret holding a JSON object: one version per change, none for a re-run; keys of the
/// object that the source lacks are kept (no --prune) or removed (--prune, managed secret).
#[test]
fn apply_to_one_json_secret() {
    let f = Fx::new();
    let name = unique("cfg");
    let to = format!("aws:{name}");
    let json = f.file("c.json", r#"{"DB_URL": "postgres://db/app", "PORT": 8080}"#);
    f.cmd()
        .args(["apply", "--from", &json, "--to", &to])
        .run()
        .assert_code(0);
    let value: serde_json::Value = serde_json::from_str(&f.value(&name)).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"DB_URL": "postgres://db/app", "PORT": "8080"})
    );
    f.cmd()
        .args(["apply", "--from", &json, "--to", &to])
        .run()
        .assert_code(0);
    assert_eq!(f.versions(&name), 1);

    let fewer = f.file("d.json", r#"{"DB_URL": "postgres://db/app"}"#);
    let out = f
        .cmd()
        .args(["apply", "--from", &fewer, "--to", &to, "--output", "json"])
        .run();
    out.assert_code(0);
    assert_eq!(out.json()["result"], "no_changes");
    assert_eq!(changes(&out)["PORT"], "kept");
    f.cmd()
        .args(["apply", "--from", &fewer, "--to", &to, "--prune"])
        .run()
        .assert_code(0);
    let value: serde_json::Value = serde_json::from_str(&f.value(&name)).unwrap();
    assert_eq!(value, serde_json::json!({"DB_URL": "postgres://db/app"}));
    assert_eq!(f.versions(&name), 2);
}

/// --prune deletes only secrets tagged as ours, with a recovery window (restorable), never
/// force-deleted; --dry-run deletes nothing.
#[test]
fn prune_deletes_only_managed_keys() {
    let f = Fx::new();
    let p = unique("pr") + "/";
    f.secret(&format!("{p}OURS"), "ours-value", true);
    f.secret(&format!("{p}THEIRS"), "theirs-value", false);
    let env = f.file("e.env", "KEEP=keep-value\n");
    let to = format!("aws:{p}");
    f.cmd()
        .args(["apply", "--from", &env, "--to", &to, "--prune", "--dry-run"])
        .run()
        .assert_code(0);
    assert_eq!(f.listed(&p).values().filter(|d| **d).count(), 0);
    let out = f
        .cmd()
        .args([
            "apply",
            "--from",
            &env,
            "--to",
            &to,
            "--prune",
            "--recovery-window-days",
            "7",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    let listed = f.listed(&p);
    assert!(
        listed[&format!("{p}OURS")],
        "scheduled for deletion, still restorable"
    );
    assert!(!listed[&format!("{p}THEIRS")]);
    assert!(!listed[&format!("{p}KEEP")]);
    assert_eq!(changes(&out)["THEIRS"], "kept");
    // Syncing OURS again restores it rather than failing on the pending deletion.
    let back = f.file("f.env", "KEEP=keep-value\nOURS=ours-value-2\n");
    f.cmd()
        .args(["apply", "--from", &back, "--to", &to])
        .run()
        .assert_code(0);
    assert_eq!(f.value(&format!("{p}OURS")), "ours-value-2");
}

/// A rules violation exits 1 naming key and rule — never the value — and writes nothing; the
/// example rules file is the teams' checklist.
#[test]
fn rules_violations_block_the_write() {
    let f = Fx::new();
    let p = unique("rules") + "/";
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rules.yml");
    let env = f.file(
        "g.env",
        "DATABASE_URL=postgres://db/app\nJWT_SECRET=too-short-jwt-zq\nDB_PASSWORD=changeme\n",
    );
    let out = f
        .cmd()
        .github_actions()
        .args([
            "apply",
            "--from",
            &env,
            "--to",
            &format!("aws:{p}"),
            "--rules",
            rules.to_str().unwrap(),
        ])
        .run();
    out.assert_code(1).assert_no_panic();
    assert!(
        out.stderr.contains("JWT_SECRET: shorter than 32"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("DB_PASSWORD") && out.stderr.contains("forbidden_values"),
        "{}",
        out.stderr
    );
    assert_eq!(out.output("result"), "rules_failed");
    assert_hidden(&out, &["too-short-jwt-zq"]);
    assert!(f.listed(&p).is_empty(), "nothing may be written");
    // The TOML example says the same.
    let toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rules.toml");
    f.cmd()
        .args([
            "plan",
            "--from",
            &env,
            "--to",
            &format!("aws:{p}"),
            "--rules",
            toml.to_str().unwrap(),
        ])
        .run()
        .assert_code(1);
    // A bad rules file is a usage error before any call.
    let bad = f.file("bad.yml", "keys: { A: { pattern: \"(\" } }");
    f.cmd()
        .args([
            "plan",
            "--from",
            &env,
            "--to",
            &format!("aws:{p}"),
            "--rules",
            &bad,
        ])
        .run()
        .assert_code(2);
}

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
    f.cmd()
        .args([
            "export",
            "--from",
            &format!("aws:{name}"),
            "--to",
            &format!("dotenv:{}", file.display()),
        ])
        .run()
        .assert_code(0);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let back = secrets_sync::dotenv::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        back["TLS_KEY"].expose(),
        "-----BEGIN KEY-----\nline-two-9900\n-----END KEY-----"
    );
    assert_eq!(back.len(), 3);

    // A key that is not there is named; --to github-env outside Actions is a usage error.
    let out = f
        .cmd()
        .args([
            "export",
            "--from",
            &format!("aws:{name}"),
            "--keys",
            "DB_UR",
            "--to",
            &format!("dotenv:{}", file.display()),
        ])
        .run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("did you mean `DB_URL`"),
        "{}",
        out.stderr
    );
    f.cmd()
        .args([
            "export",
            "--from",
            &format!("aws:{name}"),
            "--to",
            "github-env",
        ])
        .run()
        .assert_code(2);
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

const TOKEN: &str = "ghp_faketoken0123456789";

fn github_cmd(f: &Fx, gh: &GithubFake) -> Cmd {
    f.cmd()
        .env("GITHUB_API_URL", &gh.url)
        .env("GITHUB_TOKEN", TOKEN)
}

/// Repository and environment secrets: public key fetched, values sealed, PUT — the fake opens
/// every box, so the stored value is checked; present keys plan as `unknown`.
#[test]
fn github_repo_and_environment_secrets() {
    let f = Fx::new();
    let gh = GithubFake::start(TOKEN);
    gh.add_repo("acme/web");
    gh.add_environment("acme/web", "production");
    gh.put_secret("acme/web", None, "OLD", "old-github-value");
    let env = f.file(
        "h.env",
        "db_url=postgres://gh-8877@db\nOLD=new-github-value\n",
    );
    let out = github_cmd(&f, &gh)
        .args([
            "plan",
            "--from",
            &env,
            "--to",
            "github:acme/web",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    assert_eq!(
        changes(&out),
        map(&[("DB_URL", "added"), ("OLD", "unknown")])
    );
    assert_eq!(
        gh.secret("acme/web", None, "OLD").unwrap().value,
        "old-github-value"
    );

    let out = github_cmd(&f, &gh)
        .github_actions()
        .args(["apply", "--from", &env, "--to", "github:acme/web"])
        .run();
    out.assert_code(0).assert_no_panic();
    assert_eq!(
        gh.secret("acme/web", None, "DB_URL").unwrap().value,
        "postgres://gh-8877@db"
    );
    assert_eq!(
        gh.secret("acme/web", None, "OLD").unwrap().value,
        "new-github-value"
    );
    assert_hidden(&out, &["gh-8877", "new-github-value", TOKEN]);
    for r in gh.requests() {
        assert!(
            !r.body.contains("gh-8877"),
            "a value went over the wire unsealed: {}",
            r.body
        );
    }

    github_cmd(&f, &gh)
        .args([
            "apply",
            "--from",
            &env,
            "--to",
            "github:acme/web:production",
        ])
        .run()
        .assert_code(0);
    assert_eq!(
        gh.secret_names("acme/web", Some("production")),
        ["DB_URL", "OLD"]
    );
    assert_eq!(
        gh.secret("acme/web", Some("production"), "DB_URL")
            .unwrap()
            .value,
        "postgres://gh-8877@db"
    );
    // Names GitHub refuses are caught before any call.
    let bad = f.file("i.env", "GITHUB_X=1\n");
    github_cmd(&f, &gh)
        .args(["apply", "--from", &bad, "--to", "github:acme/web"])
        .run()
        .assert_code(2);
}

/// GitHub's error answers: 401 bad token, 403 no permission, 404 unknown repository or
/// environment → exit 3 with the fix; 422 → exit 1; a 5xx is retried. No value in any of them.
#[test]
fn github_error_answers() {
    let f = Fx::new();
    let gh = GithubFake::start(TOKEN);
    gh.add_repo("acme/web");
    gh.add_read_only_token("ghp_readonly");
    let env = f.file("j.env", "API_KEY=gh-error-5566\n");
    let run = |to: &str, token: &str| {
        f.cmd()
            .env("GITHUB_API_URL", &gh.url)
            .env("GITHUB_TOKEN", token)
            .github_actions()
            .args(["apply", "--from", &env, "--to", to])
            .run()
    };
    let cases: Vec<(&str, &str, i32, &str)> = vec![
        ("github:acme/web", "ghp_wrong", 3, "401 Bad credentials"),
        (
            "github:acme/web",
            "ghp_readonly",
            3,
            "403 Resource not accessible",
        ),
        ("github:acme/nope", TOKEN, 3, "404 Not Found"),
        ("github:acme/web:staging", TOKEN, 3, "404 Not Found"),
    ];
    for (to, token, code, want) in cases {
        let out = run(to, token);
        out.assert_code(code).assert_no_panic();
        assert!(out.stderr.contains(want), "{to} {token}: {}", out.stderr);
        assert!(out.stderr.contains("hint:"), "{}", out.stderr);
        assert_hidden(&out, &["gh-error-5566", "ghp_readonly", "ghp_wrong"]);
    }
    // 422 on the PUT (the list and the public key pass): GitHub refused the secret → exit 1.
    gh.fail_next_on("PUT", 422, 1);
    let out = run("github:acme/web", TOKEN);
    out.assert_code(1);
    assert!(
        out.stderr.contains("422 Validation Failed"),
        "{}",
        out.stderr
    );
    assert_hidden(&out, &["gh-error-5566"]);
    assert!(gh.secret("acme/web", None, "API_KEY").is_none());
    // A 502 is retried, and the write lands.
    gh.fail_next_on("PUT", 502, 1);
    run("github:acme/web", TOKEN).assert_code(0);
    assert_eq!(
        gh.secret("acme/web", None, "API_KEY").unwrap().value,
        "gh-error-5566"
    );
}

/// Throttling from AWS is retried by the SDK inside the attempts; past them it is exit 3 with a
/// hint, and no value is shown.
#[test]
fn aws_throttling_is_retried() {
    let f = Fx::new();
    let p = unique("thr") + "/";
    let env = f.file("l.env", "A=throttle-value-1\nB=throttle-value-2\n");
    let proxy = aws_proxy::start(&standins().moto, aws_proxy::Fault::Throttle, 3, "");
    let out = f
        .cmd()
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .args(["apply", "--from", &env, "--to", &format!("aws:{p}")])
        .run();
    out.assert_code(0).assert_no_panic();
    assert_eq!(proxy.faulted.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(f.value(&format!("{p}A")), "throttle-value-1");

    let proxy = aws_proxy::start(&standins().moto, aws_proxy::Fault::Throttle, 1000, "");
    let out = f
        .cmd()
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .args([
            "apply",
            "--from",
            &env,
            "--to",
            &format!("aws:{p}x/"),
            "--max-attempts",
            "2",
        ])
        .run();
    out.assert_code(3).assert_no_panic();
    assert!(out.stderr.contains("ThrottlingException"), "{}", out.stderr);
    assert!(out.stderr.contains("--max-attempts"), "{}", out.stderr);
    assert_hidden(&out, &["throttle-value"]);
}

/// A named run: arguments and extra environment.
type Run<'a> = (&'a str, Vec<String>, Vec<(&'a str, String)>);

/// The canary: one unique value through every command and failure path — plan, apply, re-apply,
/// dry run, rules failure, export to $GITHUB_ENV and to a file, verify, GitHub success and
/// refusal, AWS throttling, and an AWS error that echoes the request body — appears in no
/// stdout, stderr (mask commands aside), output, summary or file except where it belongs.
#[test]
fn canary_never_leaks() {
    let f = Fx::new();
    let canary = format!("canary-{}-zz", unique("v"));
    let p = unique("can") + "/";
    let single = unique("can1");
    let env = f.file(
        "m.env",
        &format!("CANARY={canary}\nOTHER=other-canary-value\n"),
    );
    let rules = f.file(
        "r.yml",
        "keys: { CANARY: { min_length: 400, pattern: \"^x\" } }\n",
    );
    let gh = GithubFake::start(TOKEN);
    gh.add_repo("acme/web");
    let genv = f.dir.path().join("genv");
    std::fs::write(&genv, "").unwrap();
    let out_file = f.dir.path().join("out.env");
    let echo = aws_proxy::start(
        &standins().moto,
        aws_proxy::Fault::EchoBody,
        1000,
        "PutSecretValue",
    );
    let throttle = aws_proxy::start(&standins().moto, aws_proxy::Fault::Throttle, 1000, "");
    let to_p = format!("aws:{p}");
    let to_single = format!("aws:{single}");
    let runs: Vec<Run> = vec![
        (
            "plan",
            vec![
                "plan".into(),
                "--from".into(),
                env.clone(),
                "--to".into(),
                to_p.clone(),
            ],
            vec![],
        ),
        (
            "apply",
            vec![
                "apply".into(),
                "--from".into(),
                env.clone(),
                "--to".into(),
                to_p.clone(),
            ],
            vec![],
        ),
        (
            "re-apply",
            vec![
                "apply".into(),
                "--from".into(),
                env.clone(),
                "--to".into(),
                to_p.clone(),
                "--prune".into(),
            ],
            vec![],
        ),
        (
            "single",
            vec![
                "apply".into(),
                "--from".into(),
                env.clone(),
                "--to".into(),
                to_single.clone(),
            ],
            vec![],
        ),
        (
            "dry-run",
            vec![
                "apply".into(),
                "--from".into(),
                env.clone(),
                "--to".into(),
                to_p.clone(),
                "--dry-run".into(),
            ],
            vec![],
        ),
        (
            "rules",
            vec![
                "apply".into(),
                "--from".into(),
                env.clone(),
                "--to".into(),
                to_p.clone(),
                "--rules".into(),
                rules.clone(),
            ],
            vec![],
        ),
        (
            "export-env",
            vec![
                "export".into(),
                "--from".into(),
                to_single.clone(),
                "--to".into(),
                "github-env".into(),
            ],
            vec![("GITHUB_ENV", genv.display().to_string())],
        ),
        (
            "export-file",
            vec![
                "export".into(),
                "--from".into(),
                to_p.clone(),
                "--to".into(),
                format!("dotenv:{}", out_file.display()),
            ],
            vec![],
        ),
        (
            "export-missing",
            vec![
                "export".into(),
                "--from".into(),
                to_p.clone(),
                "--keys".into(),
                "NOPE".into(),
                "--to".into(),
                format!("dotenv:{}", out_file.display()),
            ],
            vec![],
        ),
        (
            "github",
            vec![
                "apply".into(),
                "--from".into(),
                env.clone(),
                "--to".into(),
                "github:acme/web".into(),
            ],
            vec![
                ("GITHUB_API_URL", gh.url.clone()),
                ("GITHUB_TOKEN", TOKEN.into()),
            ],
        ),
        (
            "github-401",
            vec![
                "apply".into(),
                "--from".into(),
                env.clone(),
                "--to".into(),
                "github:acme/web".into(),
            ],
            vec![
                ("GITHUB_API_URL", gh.url.clone()),
                ("GITHUB_TOKEN", "ghp_bad".into()),
            ],
        ),
        (
            "echo-body",
            vec![
                "apply".into(),
                "--from".into(),
                f.file("n.env", &format!("CANARY={canary}-2\n")),
                "--to".into(),
                to_p.clone(),
            ],
            vec![("AWS_ENDPOINT_URL", echo.url.clone())],
        ),
        (
            "throttled",
            vec![
                "apply".into(),
                "--from".into(),
                env.clone(),
                "--to".into(),
                format!("aws:{p}t/"),
                "--max-attempts".into(),
                "2".into(),
            ],
            vec![("AWS_ENDPOINT_URL", throttle.url.clone())],
        ),
    ];
    for (what, args, envs) in runs {
        let mut cmd = f.cmd().github_actions().args(args);
        for (k, v) in envs {
            cmd = cmd.env(k, v);
        }
        let out = cmd.run();
        out.assert_no_panic();
        let seen = visible(&out);
        test_support::figures::record(
            "canary",
            serde_json::json!({
                "tool": "secrets-sync",
                "path": what,
                "occurrences": seen.matches(canary.as_str()).count()
                    + seen.matches("other-canary-value").count(),
            }),
        );
        assert!(out.code >= 0, "{what}");
        assert_hidden(&out, &[&canary, "other-canary-value"]);
        eprintln!("canary: {what} exit {}", out.code);
    }
    // $GITHUB_ENV holds the value only on its own line; the exported file holds it (mode 0600).
    let written = std::fs::read_to_string(&genv).unwrap();
    test_support::figures::record(
        "canary",
        serde_json::json!({
            "tool": "secrets-sync",
            "path": "$GITHUB_ENV beyond the value's own line",
            "occurrences": written.lines().filter(|l| l.contains(&canary) && *l != canary).count(),
        }),
    );
    assert_eq!(
        written
            .lines()
            .filter(|l| l.contains(&canary))
            .collect::<Vec<_>>(),
        [canary.as_str()]
    );
    assert!(
        std::fs::read_to_string(&out_file)
            .unwrap()
            .contains(&canary)
    );
    // And the value landed where it was sent.
    assert_eq!(gh.secret("acme/web", None, "CANARY").unwrap().value, canary);
    assert_eq!(f.value(&format!("{p}CANARY")), canary);
}
