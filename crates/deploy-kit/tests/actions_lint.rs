//! The project's own rules for action files (scripts/lint_actions.py) catch what they promise:
//! `${{ }}` inside `run:`, and action inputs that are not flags of the tool.

use std::process::Command;

use test_support::workspace_root;

fn lint(action_yaml: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("actions/rds-snapshot/action.yml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, action_yaml).unwrap();
    let out = Command::new("python3")
        .arg(workspace_root().join("scripts/lint_actions.py"))
        .arg(&file)
        .current_dir(workspace_root())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

const GOOD: &str = "name: x\ndescription: x\ninputs:\n  db:\n    description: d\nruns:\n  using: composite\n  steps:\n    - shell: bash\n      env:\n        IN_DB: ${{ inputs.db }}\n      run: |\n        deploy-kit rds-snapshot list --db \"$IN_DB\"\n";

/// A well-formed action passes.
#[test]
fn good_action_passes() {
    let (code, out) = lint(GOOD);
    assert_eq!(code, 0, "{out}");
}

/// An expression inside run: is reported with its line.
#[test]
fn expression_in_run_is_reported() {
    let bad = GOOD.replace("--db \"$IN_DB\"", "--db ${{ inputs.db }}");
    let (code, out) = lint(&bad);
    assert_eq!(code, 1);
    assert!(
        out.contains("action.yml:13") && out.contains("inside run:"),
        "{out}"
    );
}

/// An input that is not a flag of the tool is reported.
#[test]
fn unknown_input_is_reported() {
    let bad = GOOD.replace("  db:\n", "  database:\n");
    let (code, out) = lint(&bad);
    assert_eq!(code, 1);
    assert!(
        out.contains("input `database` is not a flag of `rds-snapshot`"),
        "{out}"
    );
}
