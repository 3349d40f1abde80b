"""The tools compared, each in its own environment.

Each tool gets a virtual environment under ``benchmarks/.envs/``, created on first use with
``python -m venv`` and pip, holding only that tool and what it needs, as a user's project would:
llama-vcr installed editable from this working tree; vcrpy (with pytest-recording) and cassetter
without llama-vcr. All are pinned to the openai, httpx2, pytest (and vcrpy) versions of the
environment running the harness, so only the recording library differs. The floor runs in the
vcrpy environment with no recording plugin loaded.

Every pytest run disables plugin auto-loading and names the one recording plugin it uses, so no
run pays for another tool's (or hypothesis's, xdist's) plugin.
"""

from __future__ import annotations

import hashlib
import subprocess
import venv
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENVS = ROOT / "benchmarks" / ".envs"


def _pin(name: str) -> str:
    try:
        return f"{name}=={version(name)}"
    except PackageNotFoundError:
        return name


def _shared() -> list[str]:
    return [_pin("openai"), _pin("httpx2"), _pin("pytest"), _pin("pyyaml")]


@dataclass
class Tool:
    """One way of running the generated suites."""

    name: str
    #: pytest ``-p`` plugin modules (auto-loading is off)
    plugins: list[str]
    #: pip arguments installing its environment
    requirements: list[str]
    #: the folder under .envs/ (default: its name)
    env_name: str | None = None
    #: the ``vcr_config`` fixture body written to the projects' conftest.py
    vcr_config: str | None = None
    python: Path | None = None
    error: str | None = None
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def recorder(self) -> bool:
        return self.name != "floor"

    def record_args(self) -> list[str]:
        return ["--record-mode=once"] if self.recorder else []

    def replay_args(self) -> list[str]:
        return ["--record-mode=none"] if self.recorder else []


def tools() -> dict[str, Tool]:
    vcrpy = [*_shared(), _pin("vcrpy"), _pin("pytest-recording")]
    return {
        "llama-vcr": Tool(
            "llama-vcr", ["pytest_recording.plugin", "llama_vcr.plugin"], [*vcrpy, "-e", str(ROOT)]
        ),
        "vcrpy": Tool(
            "vcrpy",
            ["pytest_recording.plugin"],
            vcrpy,
            # what a user of plain vcrpy writes for an LLM API: match on the body too, keep no key
            vcr_config='{"match_on": ["method", "scheme", "host", "port", "path", "query", "body"],'
            ' "filter_headers": ["authorization"]}',
        ),
        "cassetter": Tool(
            "cassetter",
            ["cassetter.pytest_plugin"],
            [*_shared(), "cassetter[httpx2]"],
            vcr_config='{"match_on": ["method", "uri", "json_body"]}',
        ),
        "floor": Tool("floor", [], vcrpy, env_name="vcrpy"),
    }


def prepare(tool: Tool, log: list[str]) -> None:
    """Find or create the tool's interpreter; on failure set ``tool.error`` (its column: n/a)."""
    home = ENVS / (tool.env_name or tool.name)
    python = home / "bin" / "python"
    stamp = home / "bench-requirements.txt"
    wanted = "\n".join(tool.requirements) + "\n"
    if "-e" in tool.requirements:  # the project's own dependencies may have changed
        wanted += hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest() + "\n"
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        log.append(f"creating {home} ({' '.join(tool.requirements)})")
        print(f"  creating {home.relative_to(ENVS.parent.parent)} ...", flush=True)
        try:
            venv.EnvBuilder(clear=True, with_pip=True).create(home)
            done = subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    *tool.requirements,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as error:
            tool.error = f"venv creation failed: {error}"
            return
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            tool.error = "pip install failed: " + (lines[-1] if lines else "?")
            return
        stamp.write_text(wanted)
    tool.python = python
    probe = (
        "import importlib.metadata as m\n"
        "for n in ('openai','httpx2','pytest','vcrpy','pytest-recording','cassetter','pyyaml'):\n"
        "    try: print(n, m.version(n))\n"
        "    except m.PackageNotFoundError: pass\n"
        "import yaml; print('libyaml', bool(getattr(yaml, '__with_libyaml__', False)))\n"
    )
    out = subprocess.run([str(tool.python), "-c", probe], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        tool.error = "its interpreter does not start: " + out.stderr.strip()[-200:]
        return
    tool.versions = dict(line.split(" ", 1) for line in out.stdout.splitlines())
