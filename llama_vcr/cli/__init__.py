"""The ``llama-vcr`` command line: look at, check, tidy and convert recordings.

Exit status: 0 all well, 1 problems found (reported on stdout), 2 usage error or unreadable input
(reported on stderr as ``llama-vcr: ...``). See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence

from ._common import EXIT_PROBLEMS, EXIT_USAGE, Console, UsageError

Command = Callable[[argparse.Namespace, Console], int]

_DESCRIPTION = "Inspect, verify, prune and convert llama-vcr recordings (one JSON file per request)."
_SECRET_ENV_HELP = (
    "another environment variable whose value must never appear in a recording (repeatable; "
    "OPENAI_API_KEY, ANTHROPIC_API_KEY and other provider keys always count)"
)
_EPILOG = "exit status: 0 ok, 1 problems found, 2 usage error or unreadable input. Docs: docs/cli.md"


def _ls(args: argparse.Namespace, console: Console) -> int:
    from .show import cmd_ls

    return cmd_ls(args, console)


def _show(args: argparse.Namespace, console: Console) -> int:
    from .show import cmd_show

    return cmd_show(args, console)


def _verify(args: argparse.Namespace, console: Console) -> int:
    from .verify import cmd_verify

    return cmd_verify(args, console)


def _prune(args: argparse.Namespace, console: Console) -> int:
    from .prune import cmd_prune

    return cmd_prune(args, console)


def _convert(args: argparse.Namespace, console: Console) -> int:
    from .convert import cmd_convert

    return cmd_convert(args, console)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llama-vcr", description=_DESCRIPTION, epilog=_EPILOG)
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"llama-vcr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=_EPILOG)
        sub.set_defaults(handler=handler)
        return sub

    ls = add("ls", _ls, "List recordings per test: endpoint, model, streaming, chunks, size, age.")
    ls.add_argument("dir", nargs="?", default="cassettes", metavar="DIR", help="default: cassettes")
    ls.add_argument("--json", action="store_true", help="print a JSON list of objects")

    show = add("show", _show, "Show one recording as a transcript: messages sent, reply, tool calls, usage.")
    show.add_argument("file", metavar="FILE")
    show.add_argument("--json", action="store_true", help="print the transcript as JSON")

    verify = add(
        "verify",
        _verify,
        "Check recordings: JSON Schema, file name re-derivation, envelope revival, secrets.",
    )
    verify.add_argument("paths", nargs="*", metavar="DIR|FILE", help="default: cassettes")
    verify.add_argument("--json", action="store_true", help="print the findings as JSON")
    verify.add_argument("--secret-env", action="append", metavar="NAME", help=_SECRET_ENV_HELP)

    prune = add("prune", _prune, "List (with --yes delete) recordings of tests pytest no longer collects.")
    prune.add_argument("dir", nargs="?", default="cassettes", metavar="DIR", help="default: cassettes")
    prune.add_argument("--rootdir", metavar="PATH", help="where to run pytest (default: here)")
    prune.add_argument("--yes", action="store_true", help="delete the orphans (default: only list them)")
    prune.add_argument("--json", action="store_true", help="print the result as JSON")

    convert = add(
        "convert",
        _convert,
        "Convert vcrpy cassettes or a llama-stack recordings directory into the per-test layout.",
    )
    convert.add_argument("src", metavar="SRC", help="a vcrpy cassette (.yaml/.json) or a directory")
    convert.add_argument("dest", metavar="DEST", help="the cassette directory to write into")
    convert.add_argument("--test-id", help="node id of the test a single cassette belongs to")
    convert.add_argument("--dry-run", action="store_true", help="write nothing, list what would be written")
    convert.add_argument("--secret-env", action="append", metavar="NAME", help=_SECRET_ENV_HELP)
    convert.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    console = Console.for_terminal()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse already reported
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return int(args.handler(args, console))
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
