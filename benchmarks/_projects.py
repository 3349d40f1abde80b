"""The pytest projects the harness generates in a temporary directory, one copy per tool.

Every copy has the same test modules (what a user writes: ``@pytest.mark.vcr`` and one
``OpenAI()`` per test); only ``conftest.py`` differs: the tool's ``vcr_config``, or for the floor
a patch of ``httpx2.HTTPTransport.handle_request`` that serves recorded wire bytes from memory
(and, with ``BENCH_CAPTURE`` set, records them from the live server first).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _envs import Tool

PYTEST_INI = """[pytest]
addopts = -q -p no:cacheprovider
markers =
    vcr: a recorded test
"""

HEADER = """import os
import time

import httpx2
import pytest
from openai import OpenAI

from benchsettings import BASE_URL

API_KEY = "sk-bench-000000000000000000000000"
"""

SUITE_TEST = """

@pytest.mark.vcr
def test_{i}():
    client = OpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0)
    for turn in range(3):
        reply = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{{"role": "user", "content": f"test {i} question {{turn}}"}}],
        )
        assert reply.choices[0].message.content
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{{"role": "user", "content": "COUNT 50"}}], stream=True
    )
    assert sum(1 for _ in stream) >= 50
    embedding = client.embeddings.create(model="text-embedding-3-small", input="test {i} passage")
    assert embedding.data[0].embedding
"""

STREAM_TEST = """

@pytest.mark.vcr
def test_big_stream():
    client = OpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0)
    n = int(os.environ["BENCH_N"])
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"COUNT {n}"}], stream=True
    )
    assert sum(1 for _ in stream) >= n
"""

MANY_TEST = """

@pytest.mark.vcr
def test_many():
    client = OpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0)
    for k in range(int(os.environ["BENCH_N"])):
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"request {k}"}]
        )
        assert reply.choices[0].message.content
"""

#: requests straight through httpx2 (no SDK), each one timed: the lookup and play of one recording
LOOKUP_TEST = """

@pytest.mark.vcr
def test_lookup():
    client = httpx2.Client(headers={"authorization": "Bearer " + API_KEY})
    times = []
    for k in range(10):
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"LOOKUPQ{k:05d}"}]}
        start = time.perf_counter()
        response = client.post(BASE_URL + "/chat/completions", json=body)
        response.read()
        times.append(time.perf_counter() - start)
        assert response.status_code == 200
    out = os.environ.get("BENCH_OUT")
    if out:
        with open(out, "w") as f:
            f.write(" ".join(str(t) for t in times))
"""

FLOOR_CONFTEST = '''"""No recording library: the user's OpenAI(), its transport serving bytes from memory."""

import base64
import json
import os

import httpx2

_live = httpx2.HTTPTransport.handle_request
_wire = os.environ["BENCH_WIRE"]


def _key(request):
    return f"{request.method} {request.url} {request.read().decode()}"


if os.environ.get("BENCH_CAPTURE"):
    _captured = {}

    def handle_request(self, request):
        response = _live(self, request)
        raw = b"".join(response.stream)
        response.close()
        headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in response.headers.raw]
        key = _key(request)  # the same request twice: the same bytes; counted for the disk ratio
        count = _captured[key][3] + 1 if key in _captured else 1
        _captured[key] = [response.status_code, headers, base64.b64encode(raw).decode(), count]
        return httpx2.Response(response.status_code, headers=headers, content=raw)

    def pytest_sessionfinish(session):
        with open(_wire, "w") as f:
            json.dump(_captured, f)

else:
    with open(_wire) as f:
        _served = {key: (s, h, base64.b64decode(b)) for key, (s, h, b, _) in json.load(f).items()}

    def handle_request(self, request):
        status, headers, body = _served[_key(request)]
        return httpx2.Response(status, headers=headers, content=body)


httpx2.HTTPTransport.handle_request = handle_request
'''


def conftest(tool: Tool) -> str:
    if tool.name == "floor":
        return FLOOR_CONFTEST
    if tool.vcr_config is None:
        return "# llama-vcr: nothing to configure\n"
    fixture = "@pytest.fixture(scope='module')\ndef vcr_config():\n"
    return f"import pytest\n\n\n{fixture}    return {tool.vcr_config}\n"


@dataclass
class Project:
    """A generated pytest project for one tool."""

    tool: Tool
    root: Path
    files: list[str]
    #: extra pytest arguments of a replay (a variant of the same project)
    replay_extra: tuple[str, ...] = ()

    def env(self, **extra: str) -> dict[str, str]:
        drop = {"PYTEST_ADDOPTS", "PYTEST_PLUGINS", "VIRTUAL_ENV", "PYTHONPATH"}
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        env["BENCH_WIRE"] = str(self.root / "wire.json")
        env.update(extra)
        return env

    def command(self, args: list[str], profile: Path | None = None) -> list[str]:
        python = [str(self.tool.python)]
        if profile is not None:
            python += ["-m", "cProfile", "-o", str(profile)]
        plugins = [arg for name in self.tool.plugins for arg in ("-p", name)]
        return [*python, "-m", "pytest", *plugins, *args, *self.files]

    def run(self, args: list[str], profile: Path | None = None, **extra: str) -> Usage:
        return measure(self.command(args, profile), self.root, self.env(**extra))

    def record(self, **extra: str) -> Usage:
        return self.run(self.tool.record_args(), **extra)

    def replay(self, profile: Path | None = None, **extra: str) -> Usage:
        return self.run([*self.tool.replay_args(), *self.replay_extra], profile, **extra)

    def recordings(self) -> list[Path]:
        """Every file the tool wrote (llama-vcr: one per request; YAML tools: one per test)."""
        return sorted(p for p in (self.root / "cassettes").rglob("*") if p.is_file())

    def clear_recordings(self) -> None:
        shutil.rmtree(self.root / "cassettes", ignore_errors=True)


def make(
    parent: Path, tool: Tool, base_url: str, modules: dict[str, str], folder: str | None = None
) -> Project:
    root = parent / (folder or tool.name)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text(PYTEST_INI)
    (root / "conftest.py").write_text(conftest(tool))
    (root / "benchsettings.py").write_text(f"BASE_URL = {base_url!r}\n")
    for name, source in modules.items():
        (root / name).write_text(HEADER + source)
    return Project(tool, root, sorted(modules))


def suite_modules(tests: int, per_module: int = 20) -> dict[str, str]:
    modules: dict[str, str] = {}
    for first in range(0, tests, per_module):
        ids = range(first, min(first + per_module, tests))
        modules[f"test_suite_{first // per_module:02d}.py"] = "".join(SUITE_TEST.format(i=i) for i in ids)
    return modules


@dataclass
class Usage:
    """CPU seconds, wall seconds and peak RSS (MiB) of one child process, from ``os.wait4``."""

    cpu: float
    wall: float
    rss_mib: float


class RunFailed(RuntimeError):
    pass


def measure(command: list[str], cwd: Path, env: dict[str, str]) -> Usage:
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            out.seek(0)
            tail = out.read().decode(errors="replace")[-3000:]
            raise RunFailed(f"{' '.join(command[-6:])} in {cwd} exited {process.returncode}:\n{tail}")
    return Usage(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
