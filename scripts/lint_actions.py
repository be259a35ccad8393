"""deploy-kit's own rules for action and workflow files — what actionlint and zizmor do not know.

    lint_actions.py --flags FLAGS.json FILE...

FLAGS.json is `deploy-kit __flags`: every tool's long flags per subcommand, read from its clap
definition (`Tool::command()`), so the rules below hold the actions to the code, not to --help.

1. No `${{ }}` inside any `run:` (inputs reach scripts through env:) — script injection.
2. actions/<tool>/action.yml:
   a. <tool> is a tool of the binary (has a clap definition);
   b. its first step installs deploy-kit once per job (the same step in every tool action);
   c. every `${{ inputs.X }}` names a declared input, and every declared input is used;
   d. every input but `version` and `command` is a flag of the tool: `--X` is in its clap
      definition, and the run script passes it as `--X` on the line that reads its env variable;
      `command`'s default is a subcommand of the tool.
3. Workflows: every remote `uses:` is pinned to a full commit SHA with its version in a comment.
4. The `run:` scripts of composite actions pass shellcheck (actionlint does this for workflows).
"""
import json
import pathlib
import re
import shutil
import subprocess
import sys

import yaml

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
INPUT_REF = re.compile(r"\binputs\.([A-Za-z0-9_-]+)")
# Inputs that may reach the tool through the environment variable their flag defaults to, so a
# secret never appears in the process list: input -> variable.
VIA_ENV = {"github-token": "GITHUB_TOKEN"}
ACTION_ONLY = {"version"}

INSTALL_STEP = {
    "name": "Install deploy-kit (once per job)",
    "shell": "bash",
    "env": {
        "DK_INPUT_VERSION": "${{ inputs.version }}",
        "DK_ACTION_REF": "${{ github.action_ref }}",
        "DK_REPOSITORY": "${{ github.action_repository }}",
        "DK_ACTION_PATH": "${{ github.action_path }}",
        "DK_PREFIX": "${{ runner.temp }}/deploy-kit",
    },
    "run": '"$DK_ACTION_PATH/../../scripts/install" --if-missing',
}


class Report:
    def __init__(self):
        self.failed = False

    def __call__(self, path, line, msg):
        where = f"{path}:{line}" if line else str(path)
        print(f"{where}: {msg}")
        self.failed = True


def line_of(text, needle, start=0):
    """1-based line of the first occurrence of needle (0 when absent)."""
    at = text.find(needle, start)
    return text.count("\n", 0, at) + 1 if at >= 0 else 0


def steps_of(doc):
    runs = doc.get("runs") or {}
    yield from runs.get("steps") or []
    for job in (doc.get("jobs") or {}).values():
        yield from (job or {}).get("steps") or []


def check_run_expressions(path, text, doc, report):
    for step in steps_of(doc):
        run = step.get("run") if isinstance(step, dict) else None
        if isinstance(run, str) and EXPR.search(run):
            # The expression's line inside this run block, not an env: line naming the same.
            expr_line = next(l for l in run.splitlines() if EXPR.search(l))
            n = line_of(text, expr_line.strip())
            report(path, n, "${{ }} inside run: — pass the value through env: and use \"$VAR\"")


def check_tool_action(path, text, doc, flags, report):
    tool = path.parent.name
    if tool not in flags:
        report(path, 0, f"`{tool}` is not a tool of deploy-kit (`deploy-kit __flags` has no clap "
                        f"definition for it: add it to command_of in crates/deploy-kit/src/main.rs)")
        return
    steps = (doc.get("runs") or {}).get("steps") or []
    if not steps or steps[0] != INSTALL_STEP:
        report(path, line_of(text, "steps:"),
               "the first step must be the shared install step (installs deploy-kit once per job):\n"
               + yaml.safe_dump([INSTALL_STEP], sort_keys=False))
    inputs = doc.get("inputs") or {}
    used = set()
    for m in EXPR.finditer(text):
        for name in INPUT_REF.findall(m.group(1)):
            used.add(name)
            if name not in inputs:
                report(path, line_of(text, m.group(0)), f"`inputs.{name}` is not a declared input")
    tool_flags = set().union(*flags[tool].values())
    subcommands = set(flags[tool]) - {""}
    env_of = {}
    for step in steps[1:]:
        for var, value in (step.get("env") or {}).items():
            for name in INPUT_REF.findall(str(value)):
                env_of[name] = (var, step.get("run") or "")
    for name in inputs:
        n = line_of(text, f"\n  {name}:") + 1
        if name not in used:
            report(path, n, f"input `{name}` is declared but never used")
        if name in ACTION_ONLY:
            continue
        if name == "command":
            default = str((inputs[name] or {}).get("default", ""))
            if default and default not in subcommands:
                report(path, n, f"input `command` defaults to `{default}`, not a subcommand of "
                                f"`{tool}` ({', '.join(sorted(subcommands))})")
            continue
        flag = f"--{name}"
        if flag not in tool_flags:
            report(path, n, f"input `{name}` is not a flag of `{tool}` (no {flag} in its clap definition)")
            continue
        if name not in env_of:
            continue
        var, script = env_of[name]
        lines = [l for l in script.splitlines() if re.search(rf"\${{?{var}\b", l)]
        if not any(re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", l) for l in lines):
            # A token stays off the command line (visible in `ps`): it may reach the tool through
            # the environment variable the flag defaults to instead.
            via = VIA_ENV.get(name)
            if via and any(re.search(rf"\bexport {via}=", l) for l in lines):
                continue
            report(path, n, f"input `{name}` reaches the script as ${var} but is not passed as {flag}")


def check_shell(path, text, doc, report):
    if not shutil.which("shellcheck"):
        report(path, 0, "shellcheck is not installed (scripts/setup installs it)")
        return
    for step in (doc.get("runs") or {}).get("steps") or []:
        run = step.get("run") if isinstance(step, dict) else None
        if not isinstance(run, str) or step.get("shell", "bash") != "bash":
            continue
        out = subprocess.run(["shellcheck", "-s", "bash", "-f", "gcc", "-"], input=run,
                             capture_output=True, text=True).stdout
        first = line_of(text, run.splitlines()[0]) if run.strip() else 0
        for finding in out.splitlines():
            m = re.match(r"-:(\d+):\d+: (.*)", finding)
            if m:
                report(path, first + int(m.group(1)) - 1, f"shellcheck: {m.group(2)}")


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")


def check_pins(path, text, report):
    for n, line in enumerate(text.splitlines(), 1):
        m = USES.match(line)
        if not m or m.group(1).startswith(("./", "docker://")):
            continue
        ref = m.group(1).rpartition("@")[2]
        if not re.fullmatch(r"[0-9a-f]{40}", ref):
            report(path, n, f"`{m.group(1)}` is not pinned to a full commit SHA")
        elif not re.search(r"#\s*v\d", m.group(2)):
            report(path, n, f"`{m.group(1)}`: name the version in a comment (# vX.Y.Z)")


def main(argv):
    if len(argv) < 2 or argv[0] != "--flags":
        print(__doc__)
        return 2
    flags = json.loads(pathlib.Path(argv[1]).read_text())
    report = Report()
    for path in map(pathlib.Path, argv[2:]):
        text = path.read_text()
        doc = yaml.safe_load(text) or {}
        check_run_expressions(path, text, doc, report)
        if "runs" in doc:
            check_shell(path, text, doc, report)
        if path.name == "action.yml" and path.parent.parent.name == "actions":
            check_tool_action(path, text, doc, flags, report)
        if "jobs" in doc:
            check_pins(path, text, report)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
