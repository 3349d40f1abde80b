"""The ini options llama-vcr adds to pytest (``[pytest]`` in pytest.ini, tox.ini or pyproject.toml):
their names, help texts, types and defaults. docs/options.md describes each."""

from __future__ import annotations

from typing import Any

from ._redact import DEFAULT_SECRET_ENV_PATTERNS

#: ini options: name -> (help, type, default).
INI_OPTIONS: dict[str, tuple[str, Any, Any]] = {
    "llama_vcr_cassette_dir": (
        "Directory (relative to the rootdir) that holds recordings.",
        "string",
        "cassettes",
    ),
    "llama_vcr_redact": ("Extra header / query parameter names whose values are secrets.", "linelist", []),
    "llama_vcr_secret_env": (
        "Extra environment variables whose values must never be written.",
        "linelist",
        [],
    ),
    "llama_vcr_secret_env_patterns": (
        "Environment variables secret by name (fnmatch; the value given replaces the default; empty: none).",
        "linelist",
        list(DEFAULT_SECRET_ENV_PATTERNS),
    ),
    "llama_vcr_keep_headers": (
        "Extra request headers to store (secret-looking ones are still dropped).",
        "linelist",
        [],
    ),
    "llama_vcr_keep_response_headers": (
        "Extra response headers to store (fnmatch patterns; set-cookie and secret-looking names never).",
        "linelist",
        [],
    ),
    "llama_vcr_drop_response_headers": (
        "Response headers stored by default not to store (fnmatch patterns).",
        "linelist",
        [],
    ),
    "llama_vcr_ignore_body_paths": (
        "Request body paths (dotted, * = any) not matched or stored.",
        "linelist",
        [],
    ),
    "llama_vcr_volatile_fields": ("Extra response fields normalised at write time.", "linelist", []),
    "llama_vcr_stable_fields": (
        "Default volatile fields kept as recorded; a *_id key keeps its ids ('id': no id mapping).",
        "linelist",
        [],
    ),
    "llama_vcr_match": (
        "Request body matching: exact, or tolerant (null, empty string, API defaults mean absent).",
        "string",
        "exact",
    ),
    "llama_vcr_unused": (
        "A replayed test that left recordings unplayed: warn, fail or ignore.",
        "string",
        "warn",
    ),
    "llama_vcr_max_age": ("Recordings older than this many days are expired in replay mode.", "string", ""),
    "llama_vcr_expired": ("What an expired recording does in replay mode: warn or fail.", "string", "warn"),
    "llama_vcr_save_on_failure": ("Save recordings of a test that fails while recording.", "bool", False),
    "llama_vcr_type_packages": (
        "Extra packages whose classes a recording's __type__ may name (besides the SDKs llama-vcr knows).",
        "linelist",
        [],
    ),
    "llama_vcr_max_file_size": (
        "Largest recording file read, in bytes or with K, M, G (1024-based); a larger one fails to load.",
        "string",
        "64M",
    ),
    "llama_vcr_block_network": (
        "A vcr test that replays (record mode none, or once with recordings) cannot reach the network.",
        "bool",
        True,
    ),
    "llama_vcr_share_ssl_contexts": (
        "While a test only replays, its httpx clients share one SSL context per configuration.",
        "bool",
        True,
    ),
    "llama_vcr_allowed_hosts": (
        "Hosts replaying tests may still reach besides loopback: names (fnmatch), IP addresses, networks.",
        "linelist",
        [],
    ),
}
