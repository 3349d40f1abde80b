"""The project's pytest configuration, read the way pytest finds it, without importing pytest.

From the current directory upwards, the first directory with a file that configures pytest wins;
within a directory pytest's order applies: ``pytest.toml``/``.pytest.toml`` (``[pytest]``),
``pytest.ini``/``.pytest.ini`` (``[pytest]``; these two count even without one),
``pyproject.toml`` (``[tool.pytest.ini_options]`` or ``[tool.pytest]``), ``tox.ini``
(``[pytest]``), ``setup.cfg`` (``[tool:pytest]``). With none, the first ``pyproject.toml`` found
is the rootdir, as for pytest; with no such file either, the current directory is.
"""

from __future__ import annotations

import configparser
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._console import UsageError

if TYPE_CHECKING:
    from .._redact import Redactor
    from ..format.codec import RecordingCodec

#: The llama-vcr ini options the command line reads, and their defaults (as ``llama_vcr.plugin``).
CASSETTE_DIR = "llama_vcr_cassette_dir"
SECRET_ENV = "llama_vcr_secret_env"
SECRET_ENV_PATTERNS = "llama_vcr_secret_env_patterns"
REDACT = "llama_vcr_redact"
KEEP_HEADERS = "llama_vcr_keep_headers"
VOLATILE_FIELDS = "llama_vcr_volatile_fields"
STABLE_FIELDS = "llama_vcr_stable_fields"
KEEP_RESPONSE_HEADERS = "llama_vcr_keep_response_headers"
DROP_RESPONSE_HEADERS = "llama_vcr_drop_response_headers"
DEFAULT_CASSETTE_DIR = "cassettes"

Options = dict[str, Any]


@dataclass(frozen=True)
class ProjectConfig:
    """Where the configuration came from (``file`` None: nowhere) and its options."""

    rootdir: Path
    file: Path | None = None
    options: Options = field(default_factory=dict)

    @property
    def cassette_dir(self) -> Path:
        """``llama_vcr_cassette_dir`` relative to the rootdir; ``cassettes`` here without a config."""
        value = self.options.get(CASSETTE_DIR)
        name = str(value).strip() if isinstance(value, (str, int, float)) and str(value).strip() else None
        if self.file is None and name is None:
            return Path(DEFAULT_CASSETTE_DIR)  # as typed: paths print relative to here
        return self.rootdir / (name or DEFAULT_CASSETTE_DIR)

    def linelist(self, name: str) -> tuple[str, ...]:
        """A ``linelist`` option: one value per non-blank line, or a TOML list."""
        value = self.options.get(name)
        if isinstance(value, str):
            return tuple(stripped for line in value.split("\n") if (stripped := line.strip()))
        if isinstance(value, list):
            return tuple(str(item).strip() for item in value if str(item).strip())
        return ()

    @property
    def secret_env(self) -> tuple[str, ...]:
        return self.linelist(SECRET_ENV)

    @property
    def redact(self) -> tuple[str, ...]:
        return self.linelist(REDACT)

    @property
    def secret_env_patterns(self) -> tuple[str, ...] | None:
        """``llama_vcr_secret_env_patterns``, or None when it is not set (the default applies)."""
        return self.linelist(SECRET_ENV_PATTERNS) if SECRET_ENV_PATTERNS in self.options else None

    def redactor(self, secret_env: tuple[str, ...] = ()) -> Redactor:
        """The project's redaction policy (as the plugin builds it), with extra secret variables."""
        from .._redact import DEFAULT_SECRET_ENV_PATTERNS, Redactor

        patterns = self.secret_env_patterns
        return Redactor.from_names(
            self.redact,
            secret_env=[*self.secret_env, *secret_env],
            env_patterns=DEFAULT_SECRET_ENV_PATTERNS if patterns is None else patterns,
        )

    def codec(self, secret_env: tuple[str, ...] = (), *, normalize: bool = True) -> RecordingCodec:
        """The codec the plugin records with under this configuration: redaction (with
        ``llama_vcr_keep_headers``), ``llama_vcr_volatile_fields`` / ``llama_vcr_stable_fields``,
        the kept and dropped response headers. ``normalize=False``: no volatile field, id or
        response header value is rewritten (stored as received).

        Raises :class:`UsageError` for a ``llama_vcr_keep_response_headers`` entry the plugin
        refuses (a secret-looking header name).
        """
        import dataclasses

        from .._canonical import Canonicalizer
        from .._headers import ResponseHeaders
        from .._normalize import Normalizer
        from .._redact import DEFAULT_SECRET_ENV_PATTERNS, Redactor
        from ..format.codec import RecordingCodec

        patterns = self.secret_env_patterns
        redactor = Redactor.from_names(
            self.redact,
            self.linelist(KEEP_HEADERS),
            secret_env=[*self.secret_env, *secret_env],
            env_patterns=DEFAULT_SECRET_ENV_PATTERNS if patterns is None else patterns,
        )
        try:
            headers = ResponseHeaders.configured(
                self.linelist(KEEP_RESPONSE_HEADERS), self.linelist(DROP_RESPONSE_HEADERS), redactor
            )
        except ValueError as exc:
            raise UsageError(f"{KEEP_RESPONSE_HEADERS} in {self.file}: {exc}") from None
        if normalize:
            normalizer = Normalizer.configured(self.linelist(VOLATILE_FIELDS), self.linelist(STABLE_FIELDS))
        else:
            normalizer = Normalizer({}, map_ids=False)
            headers = dataclasses.replace(headers, volatile={}, request_ids=())
        return RecordingCodec(Canonicalizer(redactor), normalizer=normalizer, response_headers=headers)

    def describe_cassette_dir(self) -> str:
        """Where the default cassette directory comes from, for messages."""
        if self.file is None:
            return "the default; no pytest configuration found"
        if CASSETTE_DIR in self.options:
            return f"{CASSETTE_DIR} in {self.file}"
        return f"the default {CASSETTE_DIR}, relative to {self.file}"


def _toml(path: Path) -> dict[str, Any]:
    import tomllib  # (imported when a pyproject.toml is read: --help stays light)

    document: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    return document


def _ini(path: Path) -> configparser.ConfigParser:
    # as pytest's iniconfig: no interpolation, no inline comments, case kept
    parser = configparser.ConfigParser(
        interpolation=None, strict=False, allow_no_value=True, default_section="\0"
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def _section(parser: configparser.ConfigParser, name: str) -> Options | None:
    return dict(parser.items(name)) if parser.has_section(name) else None


def _pytest_toml(path: Path) -> Options | None:
    table = _toml(path).get("pytest")
    return dict(table) if isinstance(table, dict) else {}


def _pyproject(path: Path) -> Options | None:
    tool = _toml(path).get("tool")
    pytest_table = tool.get("pytest") if isinstance(tool, dict) else None
    if not isinstance(pytest_table, dict):
        return None
    native = {key: value for key, value in pytest_table.items() if key != "ini_options"}
    if native:
        return native
    ini_options = pytest_table.get("ini_options")
    return dict(ini_options) if isinstance(ini_options, dict) else None


def _pytest_ini(path: Path) -> Options | None:
    return _section(_ini(path), "pytest") or {}


def _tox_ini(path: Path) -> Options | None:
    return _section(_ini(path), "pytest")


def _setup_cfg(path: Path) -> Options | None:
    return _section(_ini(path), "tool:pytest")


#: pytest's configuration files in its order of precedence, and how each is read
#: (None: the file does not configure pytest).
LOADERS: dict[str, Callable[[Path], Options | None]] = {
    "pytest.toml": _pytest_toml,
    ".pytest.toml": _pytest_toml,
    "pytest.ini": _pytest_ini,
    ".pytest.ini": _pytest_ini,
    "pyproject.toml": _pyproject,
    "tox.ini": _tox_ini,
    "setup.cfg": _setup_cfg,
}


def load(path: Path) -> Options | None:
    """The pytest options in one configuration file (raises :class:`UsageError` if unreadable)."""
    try:
        return LOADERS[path.name](path)
    except (OSError, UnicodeDecodeError, ValueError, configparser.Error) as exc:  # TOMLDecodeError too
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"cannot read the pytest configuration in {path}: {message}") from exc


def find_config(start: Path | None = None) -> ProjectConfig:
    """The configuration pytest would use when run in ``start`` (default: the current directory)."""
    here = (start or Path.cwd()).resolve()
    first_pyproject: Path | None = None
    for directory in (here, *here.parents):
        for name in LOADERS:
            path = directory / name
            if not path.is_file():
                continue
            if name == "pyproject.toml" and first_pyproject is None:
                first_pyproject = path
            options = load(path)
            if options is not None:
                return ProjectConfig(directory, path, options)
    if first_pyproject is not None:
        return ProjectConfig(first_pyproject.parent, first_pyproject)
    return ProjectConfig(here)
