//! The multi-call binary: `deploy-kit <tool>`, links named after tools, and the top-level flags.

use test_support::{Cmd, bin_path};

/// `deploy-kit --version` and `--help` answer without any runtime or network.
#[test]
fn version_and_help() {
    let v = Cmd::bin("deploy-kit").arg("--version").run();
    v.assert_code(0);
    assert_eq!(
        v.stdout.trim(),
        format!("deploy-kit {}", env!("CARGO_PKG_VERSION"))
    );
    let h = Cmd::bin("deploy-kit").arg("--help").run();
    h.assert_code(0);
    for tool in [
        "ecr-push",
        "ecs-roll",
        "wait-stable",
        "rds-snapshot",
        "smoke-test",
    ] {
        assert!(
            h.stdout.contains(tool),
            "{tool} missing from help:\n{}",
            h.stdout
        );
    }
    assert!(h.stdout.contains("Exit codes"), "{}", h.stdout);
}

/// `deploy-kit <tool> --help` is the tool's own help.
#[test]
fn dispatches_subcommand() {
    let out = Cmd::bin("deploy-kit")
        .args(["rds-snapshot", "--help"])
        .run();
    out.assert_code(0);
    assert!(out.stdout.contains("Usage: rds-snapshot"), "{}", out.stdout);
}

/// A link named after a tool runs that tool (busybox style).
#[test]
fn link_named_after_tool() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("rds-snapshot");
    std::os::unix::fs::symlink(bin_path("deploy-kit"), &link).unwrap();
    let out = Cmd::new(&link).arg("--version").run();
    out.assert_code(0);
    assert!(out.stdout.starts_with("rds-snapshot "), "{}", out.stdout);
}

/// An unknown tool is a usage error with a near-miss suggestion; no arguments is exit 2 too.
#[test]
fn unknown_tool_suggests() {
    let out = Cmd::bin("deploy-kit").arg("rds-snaphot").run();
    out.assert_code(2);
    assert!(
        out.stderr.contains("did you mean `rds-snapshot`?"),
        "{}",
        out.stderr
    );
    Cmd::bin("deploy-kit").run().assert_code(2);
}

/// Flag errors exit 2 with clap's message, never a panic.
#[test]
fn bad_flags_exit_2() {
    for args in [
        vec!["rds-snapshot", "create"],
        vec!["rds-snapshot", "--nope"],
        vec!["rds-snapshot", "create", "--db", "x", "--output", "xml"],
    ] {
        let out = Cmd::bin("deploy-kit").args(args.clone()).run();
        out.assert_code(2).assert_no_panic();
        assert!(out.stderr.contains("error:"), "{args:?}: {}", out.stderr);
    }
}
