//! Plan and apply to Secrets Manager: diffs by key without values, idempotent writes, one JSON secret, prune, rules.

use super::*;

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
    let plan = |rules: &str| {
        let to = format!("aws:{p}");
        let cmd = f.cmd().args(["plan", "--from", &env, "--to", &to]);
        cmd.args(["--rules", rules]).run()
    };
    plan(toml.to_str().unwrap()).assert_code(1);
    // A bad rules file is a usage error before any call.
    let bad = f.file("bad.yml", "keys: { A: { pattern: \"(\" } }");
    plan(&bad).assert_code(2);
}
