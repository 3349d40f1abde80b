"""Check that the built wheel and sdist hold every file of the package as git tracks it.

Usage: python .ci/check_dist.py DIST_DIR

Every tracked file under ``llama_vcr/`` (modules, ``py.typed``, the JSON Schema) must be in the
wheel, and in the sdist too; the wheel must hold nothing outside the package and its metadata,
and its metadata must carry the console script and the pytest11 entry point.
Exits 1 with a list of what is missing.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path


def tracked_package_files(root: Path) -> set[str]:
    out = subprocess.run(
        ["git", "ls-files", "llama_vcr"], cwd=root, check=True, capture_output=True, text=True
    ).stdout
    return {line for line in out.splitlines() if line and "__pycache__" not in line}


def main(dist: Path) -> int:
    root = Path(__file__).resolve().parent.parent
    expected = tracked_package_files(root)
    problems: list[str] = []
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    problems += [f"{wheel.name}: missing {name}" for name in sorted(expected - names)]
    stray = sorted(n for n in names if not n.startswith(("llama_vcr/", dist_info + "/")))
    problems += [f"{wheel.name}: unexpected file {name}" for name in stray]
    for needle in ("[pytest11]", "llama_vcr = llama_vcr.plugin", "[console_scripts]", "llama-vcr = "):
        if needle not in entry_points:
            problems.append(f"{wheel.name}: entry_points.txt lacks {needle!r}")
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    problems += [f"{sdist.name}: missing {name}" for name in sorted(expected - members)]
    for name in ("README.md", "LICENSE", "pyproject.toml"):
        if name not in members:
            problems.append(f"{sdist.name}: missing {name}")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{wheel.name}: {len(expected)} package files present; {sdist.name} checked", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
