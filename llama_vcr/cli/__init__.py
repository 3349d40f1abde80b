"""The ``llama-vcr`` command line: look at, check, tidy and convert recordings.

Exit status: 0 all well, 1 problems found (reported on stdout), 2 usage error or unreadable input
(reported on stderr as ``llama-vcr: ...``). See ``docs/cli.md``.

Each command lives in its own module (``ls``, ``show``, ``verify``, ``prune``, ``convert``),
imported only when that command runs: ``llama-vcr --help`` imports no SDK, vcrpy, pytest,
pydantic or rich.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from ._console import COLOR_MODES, EXIT_PROBLEMS, EXIT_USAGE, Console, UsageError

DOCS_URL = "https://github.com/llama-vcr/llama-vcr/blob/main/docs/cli.md"

_DESCRIPTION = "Inspect, verify, prune and convert llama-vcr recordings (one JSON file per request)."
_SECRET_ENV_HELP = (
    "another environment variable whose value must never appear in a recording (repeatable; "
    "OPENAI_API_KEY, ANTHROPIC_API_KEY and other provider keys always count, and so do the "
    "llama_vcr_secret_env of the pytest configuration)"
)
_DIR_HELP = "default: llama_vcr_cassette_dir from the project's pytest configuration, else ./cassettes"
_COLOR_HELP = "colour: auto (on a terminal, honouring NO_COLOR and FORCE_COLOR), always, never"
_STATUS = "exit status: 0 ok, 1 problems found, 2 usage error or unreadable input."


Arguments = Callable[[argparse.ArgumentParser], None]


def _ls_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("dir", nargs="?", metavar="DIR", help=_DIR_HELP)
    sub.add_argument("--json", action="store_true", help="print a JSON list of objects")


def _show_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "target",
        metavar="FILE|HASH|NODEID",
        help="a recording file, a short hash as `ls` prints it (3e85d726f826, 3e85d726f826-2), "
        "or a pytest node id (tests/test_x.py::test_name: all of that test's recordings)",
    )
    sub.add_argument("--dir", metavar="DIR", help=f"where to look up a hash or node id ({_DIR_HELP})")
    sub.add_argument("--json", action="store_true", help="print the transcript as JSON")


def _verify_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("paths", nargs="*", metavar="DIR|FILE", help=_DIR_HELP)
    output = sub.add_mutually_exclusive_group()
    output.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text (default), json, or github (a GitHub Actions ::error/::warning line per finding)",
    )
    output.add_argument(
        "--json", dest="format", action="store_const", const="json", help="same as --format json"
    )
    sub.add_argument("--secret-env", action="append", metavar="NAME", help=_SECRET_ENV_HELP)


def _prune_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("dir", nargs="?", metavar="DIR", help=_DIR_HELP)
    sub.add_argument(
        "--rootdir",
        metavar="PATH",
        help="where to run pytest (default: the directory of the pytest configuration, else here)",
    )
    sub.add_argument("--yes", action="store_true", help="delete the orphans (default: only list them)")
    sub.add_argument("--json", action="store_true", help="print the result as JSON")


def _convert_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("src", metavar="SRC", help="a vcrpy cassette (.yaml/.json) or a directory")
    sub.add_argument("dest", metavar="DEST", help="the cassette directory to write into")
    sub.add_argument("--test-id", help="node id of the test a single cassette belongs to")
    sub.add_argument("--dry-run", action="store_true", help="write nothing, list what would be written")
    sub.add_argument("--secret-env", action="append", metavar="NAME", help=_SECRET_ENV_HELP)
    sub.add_argument(
        "--no-normalize",
        action="store_true",
        help="keep ids, timestamps, fingerprints and volatile response headers as recorded (default: "
        "normalised as the plugin records, honouring llama_vcr_volatile_fields and llama_vcr_stable_fields)",
    )
    sub.add_argument(
        "--serializer",
        metavar="MODULE[:OBJECT]",
        help="read cassettes through this vcrpy serializer (an object with deserialize(text), "
        "e.g. tests.serializers:PrettyYAML; the current directory is on the import path)",
    )
    sub.add_argument("--json", action="store_true", help="print the result as JSON")


class _Command(NamedTuple):
    """A command of the table: the module (in this package) and the function in it that run the
    command, its help line, and its arguments (declared here, so ``--help`` imports no command)."""

    module: str
    function: str
    help: str
    arguments: Arguments


#: The command table. A command's module is imported only when the command runs.
COMMANDS: dict[str, _Command] = {
    "ls": _Command(
        "ls",
        "cmd_ls",
        "List recordings per test: endpoint, model, streaming, chunks, size, age.",
        _ls_arguments,
    ),
    "show": _Command(
        "show",
        "cmd_show",
        "Show recordings as transcripts (messages sent, reply, tool calls, usage): a file, "
        "the short hash `ls` prints, or a test's node id.",
        _show_arguments,
    ),
    "verify": _Command(
        "verify",
        "cmd_verify",
        "Check recordings: JSON Schema, file name re-derivation, envelope revival, secrets.",
        _verify_arguments,
    ),
    "prune": _Command(
        "prune",
        "cmd_prune",
        "List (with --yes delete) recordings of tests pytest no longer collects.",
        _prune_arguments,
    ),
    "convert": _Command(
        "convert",
        "cmd_convert",
        "Convert vcrpy cassettes or a llama-stack recordings directory into the per-test layout.",
        _convert_arguments,
    ),
}


class _Formatter(argparse.HelpFormatter):
    """Wraps the description as usual; keeps the epilog's lines (the docs link on a line of its own)."""

    def add_text(self, text: str | None) -> None:
        if text and "\n" in text:
            for line in text.splitlines():
                super().add_text(line)
        else:
            super().add_text(text)


def _epilog(anchor: str = "") -> str:
    return f"{_STATUS}\nDocs: {DOCS_URL}{anchor}"


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="llama-vcr", description=_DESCRIPTION, epilog=_epilog(), formatter_class=_Formatter
    )
    parser.add_argument("--version", action="version", version=f"llama-vcr {__version__}")
    parser.add_argument("--color", choices=COLOR_MODES, default="auto", help=_COLOR_HELP)
    # --color is also accepted after the command (where it wins over one given before it)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--color", choices=COLOR_MODES, default=argparse.SUPPRESS, help=_COLOR_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        sub = commands.add_parser(
            name,
            parents=[common],
            help=command.help,
            description=command.help,
            epilog=_epilog(f"#{name}"),
            formatter_class=_Formatter,
        )
        command.arguments(sub)
    return parser


def run_command(args: argparse.Namespace, console: Console) -> int:
    """Import the module of ``args.command`` (only now) and run it."""
    command = COMMANDS[args.command]
    module = importlib.import_module(f".{command.module}", __name__)
    return int(getattr(module, command.function)(args, console))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse already reported
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    console = Console.for_terminal(args.color)
    try:
        return run_command(args, console)
    except UsageError as exc:
        console.error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130
    except BrokenPipeError:  # e.g. `llama-vcr ls | head`: stop quietly
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PROBLEMS
