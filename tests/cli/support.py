"""Running the ``llama-vcr`` command as a user types it, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Variables that change how the CLI prints (colour, width): left out unless a test sets them.
OUTPUT_VARIABLES = ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TERM")


def cli(*argv: object, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m llama_vcr ARGV`` in ``cwd`` (text output, UTF-8), with ``env`` added."""
    clean = {k: v for k, v in os.environ.items() if k not in OUTPUT_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "llama_vcr", *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, "PYTHONIOENCODING": "utf-8", **env},
        check=False,
    )
