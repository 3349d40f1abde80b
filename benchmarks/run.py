"""llama-vcr against vcrpy (YAML, libyaml), cassetter and the floor: every measure of issue 13 in one run.

Each tool runs in its own environment under ``benchmarks/.envs/`` (created on first use, see
``_envs.py``) on pytest projects generated in a temporary directory (``_projects.py``), recorded
once against the local OpenAI-compatible fake server (``tests/fakes/server.py``), then replayed
offline with ``--record-mode=none``. Timings are the CPU time (user + system) of each pytest
process, from ``os.wait4``; peak memory is that process's ``ru_maxrss``. Runs of the tools are
alternated (A B C F A B C F ...) and the medians compared. Nothing is asserted on timings.

Groups (``--only``, comma-separated; default all):

  suite     200 tests x 5 requests (3 chat, 1 streamed chat of 50 chunks, 1 embeddings), one
            OpenAI() per test: whole-suite replay per tool and the floor (the same tests, no
            recording library, the transport serving the recorded wire bytes from memory);
            the recording layer (suite - floor); stream recordings on disk / wire bytes
  record-n  one test recording N chat requests (N = 100, 500, 2000; the competitors up to 500):
            CPU per request, less the same test's CPU at N = 0
  stream    one test recording, then replaying, a stream of 100,000 chunks: CPU, peak RSS
  lookup    per-request replay time (httpx2, no SDK) with 10 vs 5,000 recordings in the test's
            directory (loading excluded)

    python benchmarks/run.py [--quick] [--only suite,lookup] [--profile] [--runs 5]

``--quick`` runs small sizes (a smoke run, a few minutes); ``--profile`` adds a cProfile of
llama-vcr's replay of the suite (top 15 by cumulative time inside llama_vcr and vcr) and, with
the stream group, ``stream_load.py``: loading the big stream by phase, against vcrpy's loading.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import _envs
import _projects
from _envs import Tool
from _projects import Project, Usage

sys.path.insert(0, str(_envs.ROOT))

GROUPS = ("suite", "record-n", "stream", "lookup")
COMPETITORS = ("llama-vcr", "vcrpy", "cassetter")
#: The suite replayed by llama-vcr with SSL context sharing off (the honest layer row).
UNSHARED = "llama-vcr-unshared"
UNSHARED_ARGS = ("-o", "llama_vcr_share_ssl_contexts=false")
#: record-n: the competitors stop here (vcrpy's own recording is quadratic too: minutes at 2,000)
COMPETITOR_MAX_N = 500


@dataclass
class Sizes:
    tests: int
    runs: int
    record_n: list[int]
    chunks: int
    stream_runs: int
    lookup_sizes: list[int]
    lookup_runs: int


FULL = Sizes(200, 5, [100, 500, 2000], 100_000, 3, [10, 5000], 3)
QUICK = Sizes(40, 3, [50, 200], 10_000, 1, [10, 1000], 1)


@dataclass
class Row:
    key: str
    measure: str
    cells: dict[str, str]
    ratio: float | None
    goal: str
    met: bool | None
    note: str = ""


# -- helpers -----------------------------------------------------------------------------------


@contextmanager
def fake_server() -> Iterator[str]:
    """The local OpenAI-compatible server, for recording; its base URL."""
    from tests.fakes.server import FakeProviderServer

    with FakeProviderServer() as server:
        yield server.base_url


def alternate(projects: dict[str, Project], runs: int, action: Callable[[Project], Usage]) -> dict:
    """``action`` on each project in turn, ``runs`` rounds (A B C A B C ...): usages by tool."""
    usages: dict[str, list[Usage]] = {name: [] for name in projects}
    for round_ in range(runs):
        for name, project in projects.items():
            usages[name].append(action(project))
        print(f"    round {round_ + 1}/{runs} done", flush=True)
    return usages


def median(usages: list[Usage], attribute: str = "cpu") -> float:
    return statistics.median(getattr(u, attribute) for u in usages)


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt(value: float | None, unit: str, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f} {unit}".strip()


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def at_most(value: float | None, goal: float) -> bool | None:
    return None if value is None else value <= goal


# -- suite ------------------------------------------------------------------------------------


def group_suite(tools: dict[str, Tool], tmp: Path, sizes: Sizes, profile: bool) -> list[Row]:
    names = [n for n in (*COMPETITORS, "floor") if tools[n].error is None]
    root = tmp / "suite"
    modules = _projects.suite_modules(sizes.tests)
    n_requests = sizes.tests * 5
    print(f"  suite: {sizes.tests} tests x 5 requests, recording with {', '.join(names)}", flush=True)
    with fake_server() as base_url:
        projects = {n: _projects.make(root, tools[n], base_url, modules) for n in names}
        for name, project in projects.items():
            usage = project.record(**({"BENCH_CAPTURE": "1"} if name == "floor" else {}))
            print(f"    recorded {name}: {usage.cpu:.1f} s CPU", flush=True)
    print(f"  suite: replaying, {sizes.runs} rounds", flush=True)
    if "llama-vcr" in projects:  # the same recordings, replay's SSL context sharing turned off
        projects[UNSHARED] = replace(projects["llama-vcr"], replay_extra=UNSHARED_ARGS)
    usages = alternate(projects, sizes.runs, lambda p: p.replay())
    cpu = {n: median(u) for n, u in usages.items()}
    get = cpu.get
    per_request = {n: f"{cpu[n]:.2f} s ({cpu[n] / n_requests * 1e3:.2f} ms/req)" for n in cpu}
    cells = {n: per_request.get(n, "n/a") for n in (*COMPETITORS, "floor")}
    rows = [
        Row(
            "replay-vcrpy",
            "whole-suite replay, CPU: llama-vcr / vcrpy",
            cells,
            r := ratio(get("llama-vcr"), get("vcrpy")),
            "<= 0.6x",
            at_most(r, 0.6),
        ),
        Row(
            "replay-cassetter",
            "whole-suite replay, CPU: llama-vcr / cassetter",
            {},
            r := ratio(get("llama-vcr"), get("cassetter")),
            "<= 0.8x",
            at_most(r, 0.8),
            "" if "cassetter" in cpu else f"cassetter: {tools['cassetter'].error}",
        ),
    ]
    floor = get("floor")
    layer = {n: cpu[n] - floor for n in COMPETITORS if n in cpu and floor is not None}
    rows.append(
        Row(
            "layer",
            "recording layer (suite - floor), CPU: llama-vcr / vcrpy",
            {n: fmt(layer.get(n), "s") for n in COMPETITORS} | {"floor": "0"},
            r := ratio(layer.get("llama-vcr"), layer.get("vcrpy")),
            "<= 0.35x",
            at_most(r, 0.35),
            "cassetter / vcrpy: " + fmt_ratio(ratio(layer.get("cassetter"), layer.get("vcrpy"))),
        )
    )
    unshared = cpu[UNSHARED] - floor if UNSHARED in cpu and floor is not None else None
    rows.append(
        Row(
            "layer-unshared",
            "the layer with replay's SSL context sharing off (-o llama_vcr_share_ssl_contexts=false): "
            "what llama-vcr's own work costs over the floor",
            {"llama-vcr": fmt(unshared, "s"), "vcrpy": fmt(layer.get("vcrpy"), "s")},
            r := ratio(unshared, layer.get("vcrpy")),
            "(info) <= 0.35x",
            at_most(r, 0.35),
            f"llama-vcr without sharing: {fmt(cpu.get(UNSHARED), 's')}",
        )
    )
    if "llama-vcr" in projects and "floor" in projects:
        rows.append(disk_row(projects["llama-vcr"], projects["floor"], "disk", "50-chunk streams"))
    if profile and "llama-vcr" in projects:
        print_profile(projects["llama-vcr"], tmp / "suite.prof")
    return rows


def disk_row(llama: Project, floor: Project, key: str, what: str) -> Row:
    """Bytes of llama-vcr's stream recordings / bytes of those streams on the wire."""
    wire = json.loads((floor.root / "wire.json").read_text())
    wire_bytes = events = 0
    for _status, headers, body, count in wire.values():
        if any(k.lower() == "content-type" and "event-stream" in v for k, v in headers):
            raw = base64.b64decode(body)
            wire_bytes += len(raw) * count
            events += raw.count(b"data: ") * count
    files = [p for p in llama.recordings() if b"chat.completion.chunk" in p.read_bytes()]
    disk = sum(p.stat().st_size for p in files)
    lines = sum(len(p.read_bytes().splitlines()) for p in files)
    r = ratio(disk, wire_bytes)
    return Row(
        key,
        f"stream recordings on disk / wire bytes ({what})",
        {"llama-vcr": f"{disk / 2**20:.2f} MiB", "floor": f"wire {wire_bytes / 2**20:.2f} MiB"},
        r,
        "<= 1.4x, one value per line",
        None if r is None else r <= 1.4 and lines >= events,
        f"{len(files)} files, {lines / max(events, 1):.1f} lines per SSE event",
    )


def print_profile(project: Project, out: Path) -> None:
    print("  profile: llama-vcr replay of the suite under cProfile", flush=True)
    project.replay(profile=out)
    stats = pstats.Stats(str(out))
    total = max((v[3] for v in stats.stats.values()), default=0.0)  # type: ignore[attr-defined]
    entries = []
    imports: list[str] = []
    for (filename, line, function), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if function == "<module>":  # imports: reported apart
            if filename.endswith(("/vcr/__init__.py", "/llama_vcr/plugin.py")):
                imports.append(
                    f"{filename[filename.rindex('/', 0, filename.rindex('/')) + 1 :]} {cumtime:.2f} s"
                )
        elif "/llama_vcr/" in filename or "/vcr/" in filename:
            short = filename[filename.rindex("/llama_vcr/") + 1 :] if "/llama_vcr/" in filename else ""
            short = short or filename[filename.rindex("/vcr/") + 1 :]
            entries.append((cumtime, tottime, ncalls, f"{short}:{line}({function})"))
    entries.sort(reverse=True)
    print(f"\nWhere the time goes: llama-vcr replay of the suite, cProfile, total {total:.2f} s")
    print(f"  {'cumulative s':>12} {'own s':>8} {'calls':>9}  function")
    for cumtime, tottime, ncalls, name in entries[:15]:
        print(f"  {cumtime:>12.3f} {tottime:>8.3f} {ncalls:>9}  {name}")
    print(f"  (imports, cumulative: {', '.join(imports)})")
    print()


# -- record-n ---------------------------------------------------------------------------------


def group_record_n(tools: dict[str, Tool], tmp: Path, sizes: Sizes) -> list[Row]:
    names = [n for n in COMPETITORS if tools[n].error is None]
    modules = {"test_many.py": _projects.MANY_TEST}
    per_request: dict[str, dict[int, float]] = {n: {} for n in names}
    with fake_server() as base_url:
        projects = {n: _projects.make(tmp / "record-n", tools[n], base_url, modules) for n in names}
        base: dict[str, float] = {}
        for n in [0, *sizes.record_n]:
            for name, project in projects.items():
                if name != "llama-vcr" and n > COMPETITOR_MAX_N:
                    continue
                project.clear_recordings()
                usage = project.record(BENCH_N=str(n))
                if n == 0:
                    base[name] = usage.cpu
                else:
                    per_request[name][n] = (usage.cpu - base[name]) / n * 1e3
            done = ", ".join(f"{k} {v[n]:.1f}" for k, v in per_request.items() if n in v)
            print(f"  record-n: N = {n}: {done or 'baseline (no request)'} ms/request", flush=True)
    first, last = sizes.record_n[0], sizes.record_n[-1]

    def cell(name: str) -> str:
        if name not in per_request:
            return "n/a"
        return " -> ".join(f"{per_request[name][n]:.1f}" for n in per_request[name]) + " ms"

    growth = {n: ratio(per_request[n][max(v)], per_request[n][first]) for n, v in per_request.items()}
    r = growth.get("llama-vcr")
    return [
        Row(
            "record-n",
            f"recording N = {', '.join(map(str, sizes.record_n))} requests in one test, CPU per "
            f"request; ratio: at {last} / at {first}",
            {n: cell(n) for n in COMPETITORS},
            r,
            "linear (<= 1.5x)",
            at_most(r, 1.5),
            "; ".join(
                f"{n} {fmt_ratio(g)} (at {max(per_request[n])} / at {first})"
                for n, g in growth.items()
                if n != "llama-vcr"
            ),
        )
    ]


# -- stream -----------------------------------------------------------------------------------


def group_stream(tools: dict[str, Tool], tmp: Path, sizes: Sizes, profile: bool = False) -> list[Row]:
    names = [n for n in (*COMPETITORS, "floor") if tools[n].error is None]
    modules = {"test_big_stream.py": _projects.STREAM_TEST}
    n = str(sizes.chunks)
    recorded: dict[str, Usage] = {}
    with fake_server() as base_url:
        projects = {name: _projects.make(tmp / "stream", tools[name], base_url, modules) for name in names}
        for name, project in projects.items():
            extra = {"BENCH_CAPTURE": "1"} if name == "floor" else {}
            recorded[name] = project.record(BENCH_N=n, **extra)
            print(
                f"  stream: recorded {sizes.chunks:,} chunks with {name}: {recorded[name].cpu:.1f} s CPU, "
                f"{recorded[name].rss_mib:.0f} MiB",
                flush=True,
            )
    usages = alternate(projects, sizes.stream_runs, lambda p: p.replay(BENCH_N=n))
    cpu = {name: median(u) for name, u in usages.items()}
    rss = {name: median(u, "rss_mib") for name, u in usages.items()}
    rec_rss = {name: u.rss_mib for name, u in recorded.items()}
    every = (*COMPETITORS, "floor")
    rows = [
        Row(
            "stream-time",
            f"one test replaying a {sizes.chunks:,}-chunk stream, CPU: llama-vcr / vcrpy",
            {name: fmt(cpu.get(name), "s") for name in every},
            r := ratio(cpu.get("llama-vcr"), cpu.get("vcrpy")),
            "<= 1.0x",
            at_most(r, 1.0),
        ),
        Row(
            "stream-rss",
            "the same: peak RSS, llama-vcr / vcrpy",
            {name: fmt(rss.get(name), "MiB", 0) for name in every},
            r := ratio(rss.get("llama-vcr"), rss.get("vcrpy")),
            "<= 1.0x",
            at_most(r, 1.0),
        ),
        Row(
            "stream-record-rss",
            f"recording a {sizes.chunks:,}-chunk stream: peak RSS, llama-vcr / vcrpy",
            {name: fmt(rec_rss.get(name), "MiB", 0) for name in every},
            r := ratio(rec_rss.get("llama-vcr"), rec_rss.get("vcrpy")),
            "<= 1.5x",
            at_most(r, 1.5),
            "floor: the same test through the live server, no recording library",
        ),
    ]
    if "llama-vcr" in projects and "floor" in projects:
        what = f"{sizes.chunks:,}-chunk stream"
        rows.append(disk_row(projects["llama-vcr"], projects["floor"], "disk-big", what))
    if profile and "llama-vcr" in projects and "vcrpy" in projects:
        print_stream_load(projects["llama-vcr"], projects["vcrpy"])
    return rows


def print_stream_load(ours: Project, vcrpy: Project) -> None:
    """``stream_load.py`` on the stream group's recordings, in llama-vcr's environment: where
    loading the stream goes, by phase, against vcrpy's loading of its cassette."""
    (directory,) = {path.parent for path in ours.recordings()}
    (cassette,) = vcrpy.recordings()
    script = Path(__file__).with_name("stream_load.py")
    command = [str(ours.tool.python), str(script), str(directory), str(cassette)]
    subprocess.run(command, check=True, cwd=_envs.ROOT)


# -- lookup -----------------------------------------------------------------------------------


def pad_llama_vcr(project: Project, size: int) -> None:
    """Add recordings of other requests beside the test's 10, named as llama-vcr names them."""
    from llama_vcr import recording_name

    source = next(p for p in project.recordings() if b"LOOKUPQ00000" in p.read_bytes())
    text = source.read_text()
    for k in range(size - 10):
        document = json.loads(text.replace("LOOKUPQ00000", f"LOOKUPF{k:05d}"))
        (source.parent / recording_name(document)).write_text(json.dumps(document, indent=2))


def pad_yaml(project: Project, size: int) -> None:
    """The same for a YAML cassette (vcrpy's format, or cassetter's): copies of its first interaction,
    put before the test's own (a scan that stops at the first match still passes them all)."""
    import yaml

    (path,) = project.recordings()
    data = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    own = data["interactions"]
    fillers = [_replaced(own[0], "LOOKUPQ00000", f"LOOKUPF{k:05d}") for k in range(size - len(own))]
    data["interactions"] = fillers + own

    class Dumper(yaml.CSafeDumper):
        def ignore_aliases(self, data: object) -> bool:  # cassetter's reader refuses aliases
            return True

    path.write_text(yaml.dump(data, Dumper=Dumper))


def _replaced(value: object, old: str, new: str) -> object:
    """A copy of ``value`` with ``old`` replaced by ``new`` in every string (and bytes) inside."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, bytes):
        return value.replace(old.encode(), new.encode())
    if isinstance(value, dict):
        return {k: _replaced(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, old, new) for v in value]
    return value


def group_lookup(tools: dict[str, Tool], tmp: Path, sizes: Sizes) -> list[Row]:
    names = [n for n in COMPETITORS if tools[n].error is None]
    modules = {"test_lookup.py": _projects.LOOKUP_TEST}
    projects: dict[str, Project] = {}
    with fake_server() as base_url:
        for size in sizes.lookup_sizes:
            for name in names:
                project = _projects.make(tmp / "lookup", tools[name], base_url, modules, f"{name}-{size}")
                project.record()
                (pad_llama_vcr if name == "llama-vcr" else pad_yaml)(project, size)
                projects[f"{name}-{size}"] = project
    print(f"  lookup: {', '.join(map(str, sizes.lookup_sizes))} recordings, {sizes.lookup_runs} rounds")
    times: dict[str, list[float]] = {key: [] for key in projects}
    failed: dict[str, str] = {}  # a competitor that cannot load a size (cassetter's YAML budget)

    def once(project: Project) -> Usage:
        key = project.root.name
        if key in failed:
            return Usage(0.0, 0.0, 0.0)
        out = project.root / "times.txt"
        try:
            usage = project.replay(BENCH_OUT=str(out))
        except _projects.RunFailed as error:
            if project.tool.name == "llama-vcr":
                raise
            lines = str(error).splitlines()
            failed[key] = next((line for line in lines if re.search(r"\w+Error: ", line)), "failed")[:200]
            return Usage(0.0, 0.0, 0.0)
        times[key] += [float(t) for t in out.read_text().split()]
        return usage

    alternate(projects, sizes.lookup_runs, once)
    us = {key: statistics.median(values) * 1e6 for key, values in times.items() if values}
    first, last = sizes.lookup_sizes[0], sizes.lookup_sizes[-1]

    def cell(name: str) -> str:
        shown = [f"{us[f'{name}-{s}']:,.0f}" if f"{name}-{s}" in us else "failed" for s in sizes.lookup_sizes]
        return " -> ".join(shown) + " us"

    growth = {n: ratio(us.get(f"{n}-{last}"), us.get(f"{n}-{first}")) for n in names}
    for key, why in failed.items():
        print(f"    {key} failed: {why.strip()}", flush=True)
    r = growth.get("llama-vcr")
    return [
        Row(
            "lookup",
            f"per-request replay (median), {first} -> {last} recordings in the test's directory",
            {n: cell(n) for n in COMPETITORS},
            r,
            "flat (<= 1.5x)",
            at_most(r, 1.5),
            "; ".join(f"{n} {fmt_ratio(g)}" for n, g in growth.items() if n != "llama-vcr")
            + "".join(f"; {key}: failed to load" for key in failed),
        )
    ]


# -- report -----------------------------------------------------------------------------------


def print_environment(tools: dict[str, Tool]) -> None:
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.platform()}")
    try:
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    print(f"load average at start: {load}   {time.strftime('%Y-%m-%d %H:%M')}")
    for tool in tools.values():
        if tool.error:
            print(f"  {tool.name:<10} n/a: {tool.error}")
        else:
            print(f"  {tool.name:<10} " + ", ".join(f"{k} {v}" for k, v in tool.versions.items()))
    print()


def print_table(rows: list[Row]) -> None:
    columns = (*COMPETITORS, "floor")
    header = ["row", *columns, "ratio", "goal", "met?"]
    body = [
        [
            row.key,
            *(row.cells.get(c, "") for c in columns),
            fmt_ratio(row.ratio),
            row.goal,
            {True: "yes", False: "NO", None: "n/a"}[row.met],
        ]
        for row in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for line in body:
        print("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)))
    print()
    for row in rows:
        print(f"  {row.key}: {row.measure}" + (f"  [{row.note}]" if row.note else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated groups of {GROUPS}")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the suite's replay; the stream's load by phase"
    )
    parser.add_argument("--tests", type=int, help="tests in the suite (default 200; quick 40)")
    parser.add_argument("--runs", type=int, help="replay rounds of the suite (default 5; quick 3)")
    parser.add_argument("--chunks", type=int, help="chunks of the big stream (default 100,000)")
    parser.add_argument("--record-n", help="comma-separated N of the record-n group (default 100,500,2000)")
    parser.add_argument("--lookup-sizes", help="comma-separated directory sizes (default 10,5000)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    sizes.tests = args.tests or sizes.tests
    sizes.runs = args.runs or sizes.runs
    sizes.chunks = args.chunks or sizes.chunks
    if args.record_n:
        sizes.record_n = [int(n) for n in args.record_n.split(",")]
    if args.lookup_sizes:
        sizes.lookup_sizes = [int(n) for n in args.lookup_sizes.split(",")]
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    if unknown := set(groups) - set(GROUPS):
        parser.error(f"unknown group(s) {sorted(unknown)}; choose from {GROUPS}")
    if args.profile and not {"suite", "stream"} & set(groups):
        groups.insert(0, "suite")

    tools = _envs.tools()
    log: list[str] = []
    print("preparing environments (benchmarks/.envs/)", flush=True)
    for tool in tools.values():
        _envs.prepare(tool, log)
    if tools["llama-vcr"].error:
        print(f"llama-vcr's environment failed: {tools['llama-vcr'].error}", file=sys.stderr)
        return 2
    if tools["vcrpy"].error:  # also the floor's
        tools["floor"].error = tools["vcrpy"].error
    print_environment(tools)

    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="llama-vcr-bench-") as tmp:
        for group in groups:
            print(f"[{group}]", flush=True)
            try:
                if group == "suite":
                    rows += group_suite(tools, Path(tmp), sizes, args.profile)
                elif group == "record-n":
                    rows += group_record_n(tools, Path(tmp), sizes)
                elif group == "stream":
                    rows += group_stream(tools, Path(tmp), sizes, args.profile)
                else:
                    rows += group_lookup(tools, Path(tmp), sizes)
            except Exception as error:  # one group failing leaves the others' rows
                print(f"  {group} failed: {error}", flush=True)
                rows.append(Row(group, f"failed: {str(error).splitlines()[0]}", {}, None, "", None))
    minutes = (time.perf_counter() - started) / 60
    kind = "quick" if args.quick else "full"
    print(f"\n{kind} run, {minutes:.1f} min; CPU medians; ratios llama-vcr / competitor\n")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
