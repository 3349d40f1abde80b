"""Start-up cost: pytest with the plugin loaded vs disabled, and ``llama-vcr --help`` vs ``python -c pass``.

A temporary directory holds a one-test suite that uses no recordings (``assert 1 + 1 == 2``) and
its own empty pytest.ini, so the project's configuration does not apply. Each pair of commands is
run alternately (A B, B A, ...) in fresh processes and the medians of the wall times are compared:

1. ``python -m pytest -q -p no:cacheprovider`` vs the same with ``-p no:llama_vcr``; target <= 1.25x.
   The baseline includes every other installed pytest plugin (hypothesis's alone takes about half
   of it with the test extra), so the same pair is also timed with the other third-party plugins
   disabled (``-p no:<name>`` for each pytest11 entry point but llama-vcr and pytest-recording):
   the ratio a project with a lean pytest would see.
2. ``python -m llama_vcr --help`` vs ``python -c pass`` (the interpreter's own start-up, a floor).

Timings are printed, never asserted. One ``python -X importtime`` run of each command tells which
modules get imported; the script exits 1 if the plugin makes pytest import an LLM SDK or pydantic
(openai, anthropic, ollama, pydantic), or if ``--help`` imports openai, vcr or pytest.

    python benchmarks/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import entry_points
from pathlib import Path

#: modules the plugin must not make pytest import at start-up (no test uses recordings)
PLUGIN_FORBIDDEN = ("openai", "anthropic", "ollama", "pydantic")
#: modules ``llama-vcr --help`` must not import
CLI_FORBIDDEN = ("openai", "vcr", "pytest")
#: reported alongside, not checked
INFO = ("vcr", "yaml", "httpx", "httpx2", "jsonschema")

PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
NO_PLUGIN = ["-p", "no:llama_vcr"]
CLI_HELP = [sys.executable, "-m", "llama_vcr", "--help"]
FLOOR = [sys.executable, "-c", "pass"]
#: pytest11 entry points kept in the lean comparison: llama-vcr and the plugin it builds on
KEPT = ("llama_vcr", "recording")


def other_plugins() -> list[str]:
    """Names of the installed pytest11 entry points other than llama-vcr and pytest-recording."""
    return sorted({ep.name for ep in entry_points(group="pytest11")} - set(KEPT))


def environment() -> dict[str, str]:
    """The caller's environment without the variables that would change what pytest loads."""
    drop = {"PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTHONPROFILEIMPORTTIME"}
    return {key: value for key, value in os.environ.items() if key not in drop}


def run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Wall time of one run of ``command``; its stderr. Any failure ends the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    if "pytest" in command and "1 passed" not in done.stdout:
        sys.exit(f"{' '.join(command)} did not pass one test:\n{done.stdout}")
    return elapsed, done.stderr


def alternate(a: list[str], b: list[str], runs: int, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Median wall times of ``a`` and ``b``, run alternately (order swapped every round) after a warm-up."""
    run(a, cwd, env)
    run(b, cwd, env)
    times_a: list[float] = []
    times_b: list[float] = []
    for i in range(runs):
        if i % 2:
            times_b.append(run(b, cwd, env)[0])
            times_a.append(run(a, cwd, env)[0])
        else:
            times_a.append(run(a, cwd, env)[0])
            times_b.append(run(b, cwd, env)[0])
    return statistics.median(times_a), statistics.median(times_b)


def imports(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, int]:
    """Top-level packages imported by one run of ``command``, with their summed self time (us)."""
    _, stderr = run([command[0], "-X", "importtime", *command[1:]], cwd, env)
    packages: dict[str, int] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _, name = line[len("import time:") :].split("|", 2)
        if not self_us.strip().isdigit():  # the header line
            continue
        package = name.strip().split(".")[0]
        packages[package] = packages.get(package, 0) + int(self_us)
    if "_pytest" in packages:  # pytest's code lives in _pytest
        packages["pytest"] = packages.get("pytest", 0) + packages.pop("_pytest")
    return packages


def write_suite(root: Path) -> None:
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_one.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    args = parser.parse_args()
    env = environment()
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_suite(root)
        with_plugin, without_plugin = alternate(PYTEST, PYTEST + NO_PLUGIN, args.runs, root, env)
        others = other_plugins()
        lean = PYTEST + [arg for name in others for arg in ("-p", f"no:{name}")]
        lean_with, lean_without = alternate(lean, lean + NO_PLUGIN, args.runs, root, env)
        cli, floor = alternate(CLI_HELP, FLOOR, args.runs, root, env)
        loaded = imports(PYTEST, root, env)
        bare = imports(PYTEST + NO_PLUGIN, root, env)
        cli_loaded = imports(CLI_HELP, root, env)

    if "llama_vcr" not in loaded or "llama_vcr" in bare:
        sys.exit("the plugin was not loaded with its entry point, or -p no:llama_vcr did not disable it")

    print(
        f"start-up, median of {args.runs} alternated runs each "
        f"(Python {sys.version.split()[0]}, {os.cpu_count()} cores)"
    )
    print(f"  {'':<50} {'median':>9} {'ratio':>7}")
    for title, plugin, baseline in (
        ("pytest -q -p no:cacheprovider, one test, every installed plugin", with_plugin, without_plugin),
        (f"the same with {', '.join(others) or 'no other plugin'} disabled", lean_with, lean_without),
    ):
        ratio = plugin / baseline
        print(f"  {title}:")
        print(f"    {'-p no:llama_vcr (baseline)':<48} {baseline * 1e3:>7.0f}ms {1:>6.2f}x")
        verdict = "met" if ratio <= 1.25 else "not met"
        print(
            f"    {'llama-vcr loaded':<48} {plugin * 1e3:>7.0f}ms {ratio:>6.2f}x"
            f"  (+{(plugin - baseline) * 1e3:.0f} ms; target <= 1.25x: {verdict})"
        )
    print("  llama-vcr --help:")
    print(f"    {'python -c pass (floor)':<48} {floor * 1e3:>7.0f}ms {1:>6.2f}x")
    print(f"    {'python -m llama_vcr --help':<48} {cli * 1e3:>7.0f}ms {cli / floor:>6.2f}x")

    extra = {name: us for name, us in loaded.items() if name not in bare}
    print()
    print("imported by the one-test pytest run (python -X importtime, one run each):")
    print(f"  {'module':<12} {'plugin loaded':>14} {'plugin disabled':>16}")
    for name in PLUGIN_FORBIDDEN + INFO:
        print(f"  {name:<12} {yes_no(name in loaded):>14} {yes_no(name in bare):>16}")
        if name in PLUGIN_FORBIDDEN and name in loaded and name not in bare:
            failures.append(f"the plugin makes pytest import {name} at start-up")
    heaviest = sorted(extra.items(), key=lambda item: -item[1])[:6]
    print(
        f"  packages only the plugin brings in: {len(extra)}, {sum(extra.values()) / 1e3:.0f} ms of import "
        "time (under -X importtime); heaviest: "
        + ", ".join(f"{name} {us / 1e3:.0f} ms" for name, us in heaviest)
    )

    print()
    print("imported by python -m llama_vcr --help:")
    for name in CLI_FORBIDDEN:
        print(f"  {name:<12} {yes_no(name in cli_loaded):>14}")
        if name in cli_loaded:
            failures.append(f"llama-vcr --help imports {name}")

    print()
    for failure in failures:
        print(f"FAIL: {failure}")
    print("import checks: " + ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
