"""README sections generated from the repository's own files, kept between two marker lines.

Used by scripts/actions_doc.py (the actions' inputs/outputs table) and scripts/figures.py (the
figures tables): each says what its section is called, where it comes from and how to regenerate
it, and hands over a function that builds the section's text from the repository root.
"""
import difflib
import pathlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    name: str  # "actions table": how messages call the section
    source: str  # "the action files": what it is generated from
    fix: str  # the command that rewrites it
    begin: str  # the marker line before it
    end: str  # the marker line after it


def splice(section, readme, generated):
    """The README text with the section between the markers replaced by `generated`."""
    start, end = readme.find(section.begin), readme.find(section.end)
    if start < 0 or end < start:
        raise SystemExit(f"README has no generated {section.name}: add the lines\n"
                         f"{section.begin}\n{section.end}")
    return readme[: start + len(section.begin)] + "\n\n" + generated + "\n" + readme[end:]


def sync(section, mode, path, generate):
    """`--write`: rewrite the section of the README at `path` from `generate(repository root)`.
    `--check`: 0 when it is up to date, else print the difference and return 1."""
    readme_path = pathlib.Path(path)
    readme = readme_path.read_text()
    wanted = splice(section, readme, generate(readme_path.resolve().parent))
    if mode == "--write":
        readme_path.write_text(wanted)
        return 0
    if wanted != readme:
        diff = difflib.unified_diff(readme.splitlines(), wanted.splitlines(), "README.md (now)",
                                    f"README.md (from {section.source})", lineterm="", n=1)
        print(f"{readme_path}: the {section.name} disagrees with {section.source} "
              f"(run {section.fix}):")
        print("\n".join(diff))
        return 1
    return 0
