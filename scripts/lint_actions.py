"""Project rules for action and workflow files that a schema cannot check.

1. No `${{ }}` inside `run:` scripts: inputs reach scripts through `env:` (script injection).
2. Every input of actions/<tool>/action.yml is a real flag of that tool: `--<input>` appears in
   `deploy-kit <tool> --help` (the clap definition is the source of truth).
"""
import pathlib
import re
import subprocess
import sys


def run_blocks_with_expressions(path: pathlib.Path):
    bad = []
    in_run, indent = False, 0
    for n, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.lstrip()
        lead = len(line) - len(stripped)
        if re.match(r"(- )?run:\s*", stripped):
            in_run, indent = True, lead + (2 if stripped.startswith("- ") else 0)
            if "${{" in stripped.split("run:", 1)[1]:
                bad.append(n)
            continue
        if in_run and stripped and lead <= indent:
            in_run = False
        if in_run and "${{" in line:
            bad.append(n)
    return bad


def inputs_of(path: pathlib.Path):
    names, in_inputs = [], False
    for line in path.read_text().splitlines():
        if re.match(r"^inputs:\s*$", line):
            in_inputs = True
            continue
        if in_inputs and re.match(r"^\S", line):
            break
        m = re.match(r"^  ([a-z0-9-]+):\s*$", line)
        if in_inputs and m:
            names.append(m.group(1))
    return names


# Inputs that configure the action itself rather than mapping to a flag.
ACTION_ONLY = {"version", "working-directory", "args", "extra-args"}


def main(files):
    status = 0
    for f in map(pathlib.Path, files):
        if not f.exists():
            continue
        for n in run_blocks_with_expressions(f):
            print(f"{f}:{n}: ${{{{ }}}} inside run: — pass it through env: instead")
            status = 1
        tool = f.parent.name
        binary = pathlib.Path("target/debug") / tool
        if f.parent.parent.name == "actions" and binary.exists():
            helps = subprocess.run([str(binary), "--help"], capture_output=True, text=True).stdout
            # Subcommand tools: collect the flags of every subcommand too.
            for sub in re.findall(r"^  ([a-z][a-z-]+)\s{2,}", helps, re.M):
                helps += subprocess.run([str(binary), sub, "--help"], capture_output=True, text=True).stdout
            for name in inputs_of(f):
                if name in ACTION_ONLY or name == "command":
                    continue
                if f"--{name}" not in helps:
                    print(f"{f}: input `{name}` is not a flag of `{tool}` (no --{name} in its --help)")
                    status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
