#!/usr/bin/env python3
"""The end of each failed test's output, from nextest's JUnit file.

scripts/test prints this last, after the reliability table, so that a CI log of which only the
head and the tail are kept still says why a test failed.

    scripts/failures.py target/nextest/default/junit.xml [--lines N]
"""
import argparse
import sys
import xml.etree.ElementTree as ET


def failures(path):
    """(test name, output) of every failed or errored test case in the JUnit file."""
    for case in ET.parse(path).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        if not failed:
            continue
        name = f'{case.get("classname", "")} {case.get("name", "")}'.strip()
        parts = []
        for tag in ("failure", "error", "system-out", "system-err"):
            for el in case.findall(tag):
                parts.append(el.text or "")
        yield name, "\n".join(p for p in parts if p.strip())


def without_backtraces(lines):
    """The lines with each `stack backtrace:` block left out: the panic message above it says why."""
    out, skipping = [], False
    for line in lines:
        text = line.strip()
        if text.startswith("stack backtrace:"):
            skipping = True
            continue
        if skipping:
            if text.startswith("note: Some details are omitted") or text.startswith("note: run with"):
                skipping = False
            continue
        out.append(line)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("junit")
    parser.add_argument("--lines", type=int, default=60)
    args = parser.parse_args()
    try:
        found = list(failures(args.junit))
    except (OSError, ET.ParseError) as e:
        print(f"no failure digest: {args.junit}: {e}", file=sys.stderr)
        return 0
    for name, output in found:
        lines = without_backtraces(output.splitlines())
        print(f"--- {name}: the last {min(len(lines), args.lines)} of {len(lines)} output lines", file=sys.stderr)
        for line in lines[-args.lines:]:
            print(f"    {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
