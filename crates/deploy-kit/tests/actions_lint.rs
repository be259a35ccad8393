//! scripts/check-actions catches what it promises, on a copy of this checkout with one
//! deliberate breakage each: the real linters (actionlint, zizmor), the schema, and the project's
//! own rules — inputs held against each tool's clap definition, the shared install step, no
//! `${{ }}` inside `run:`, and the README's generated table.

mod common;

use std::path::Path;
use std::process::Command;

use test_support::workspace_root;

fn check(root: &Path) -> (i32, String) {
    test_support::bin_path("deploy-kit");
    let out = Command::new(workspace_root().join("scripts/check-actions"))
        .arg("--root")
        .arg(root)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no `{from}`");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// This checkout has no findings.
#[test]
fn this_checkout_is_clean() {
    let (code, out) = check(&workspace_root());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no findings"), "{out}");
}

/// An input renamed in one action (`db` → `database`) fails: it is no flag of the tool, the
/// script's `${{ inputs.db }}` names nothing, workflows pass an input that no longer exists, and
/// the README table disagrees.
#[test]
fn renamed_input_fails() {
    let copy = common::checkout_copy(None);
    edit(
        copy.path(),
        "actions/rds-snapshot/action.yml",
        "\n  db:\n",
        "\n  database:\n",
    );
    let (code, out) = check(copy.path());
    assert_eq!(code, 1, "{out}");
    for expected in [
        "input `database` is not a flag of `rds-snapshot` (no --database in its clap definition)",
        "`inputs.db` is not a declared input",
        "input \"db\" is not defined in action \"deploy-kit rds-snapshot\"",
        "the actions table disagrees with the action files",
    ] {
        assert!(out.contains(expected), "`{expected}` missing:\n{out}");
    }
}

/// An input mapped to the wrong flag (`--snapshot-id` passed from `db`) fails.
#[test]
fn input_passed_as_another_flag_fails() {
    let copy = common::checkout_copy(None);
    edit(
        copy.path(),
        "actions/rds-snapshot/action.yml",
        "args+=(--db \"$IN_DB\")",
        "args+=(--snapshot-id \"$IN_DB\")",
    );
    let (code, out) = check(copy.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("input `db` reaches the script as $IN_DB but is not passed as --db"),
        "{out}"
    );
}

/// `${{ inputs.x }}` injected into a `run:` fails (zizmor and the project's rule).
#[test]
fn expression_in_run_fails() {
    let copy = common::checkout_copy(None);
    edit(
        copy.path(),
        "actions/wait-stable/action.yml",
        "deploy-kit wait-stable \"${args[@]}\"",
        "deploy-kit wait-stable \"${args[@]}\" --cluster ${{ inputs.cluster }}",
    );
    let (code, out) = check(copy.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("template-injection"), "{out}");
    let text = std::fs::read_to_string(copy.path().join("actions/wait-stable/action.yml")).unwrap();
    let line = 1 + text
        .lines()
        .position(|l| l.contains("--cluster ${{ inputs.cluster }}"))
        .unwrap();
    let expected = format!("actions/wait-stable/action.yml:{line}: ${{{{ }}}} inside run:");
    assert!(out.contains(&expected), "`{expected}` missing:\n{out}");
}

/// A tool action without the shared install step fails.
#[test]
fn action_without_install_step_fails() {
    let copy = common::checkout_copy(None);
    edit(
        copy.path(),
        "actions/ecs-roll/action.yml",
        "    - name: Install deploy-kit (once per job)\n",
        "    - name: Install\n",
    );
    let (code, out) = check(copy.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the first step must be the shared install step"),
        "{out}"
    );
}

/// A workflow action not pinned by commit SHA fails.
#[test]
fn unpinned_workflow_action_fails() {
    let copy = common::checkout_copy(None);
    edit(
        copy.path(),
        ".github/workflows/ci.yml",
        "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
        "actions/checkout@v7",
    );
    let (code, out) = check(copy.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unpinned-uses"), "{out}");
    assert!(out.contains("is not pinned to a full commit SHA"), "{out}");
}
