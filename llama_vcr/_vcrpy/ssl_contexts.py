"""Replay connects nowhere, so the HTTP clients a replaying test makes share their SSL contexts.

Every ``httpx`` / ``httpx2`` client builds its transport's SSL context when it is made
(``HTTPTransport.__init__`` -> ``create_ssl_context``), and the default one loads the whole CA
bundle: about 23 ms of CPU on the development machine, for every ``OpenAI()``, ``Anthropic()``
or ``ollama.Client()`` a test makes. A test that only replays never opens a connection
(vcrpy's stubs answer every request, and ``_network`` blocks the rest), so that work buys
nothing: in a suite that makes one client per test it was 44% of the whole replay (issue 13).

While a cassette that only replays is in use (record mode ``none``, or ``once`` with recordings:
vcrpy's ``write_protected``), :func:`ssl_context_patches` gives vcrpy ``custom_patches`` that make
``create_ssl_context`` return one context per distinct configuration for the rest of the session:

- only the configurations that build a context from settings are shared: ``verify=True`` (the
  default) or ``verify=False``, with no client certificate (``cert=None``); the key is the library,
  ``verify``, ``trust_env``, the ``SSLKEYLOGFILE`` variable and, when ``trust_env`` is true, the
  ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` variables the library reads. A context the caller passes
  (``verify=ssl_context``), a CA path (``verify="..."``) or a client certificate is handled by the
  library itself, every time;
- the shared context is the one the library built the first time, so it is configured exactly as
  a fresh one would be (same ``verify_mode``, ``check_hostname``, CA certificates);
- record modes that may record (``new_episodes``, ``all``, ``rewrite``, ``once`` without
  recordings) build every context as usual, also inside an outer replaying cassette; so does
  every client made outside a vcr test.

What a test could observe: the clients it makes while replaying hold the *same* ``SSLContext``
object. A test that changes its client's context in place (``load_cert_chain`` on
``client._transport._pool._ssl_context``) would change it for the other clients too; such a test
should pass its own context (``verify=ssl_context``), which is never shared, or turn sharing off
with the ini option ``llama_vcr_share_ssl_contexts = false``. A connection the test still makes
while replaying (a host in ``llama_vcr_allowed_hosts``) uses the shared context as it would a
fresh one; httpcore sets the ALPN protocols on the context at every connection, as it does for a
context a user passes.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

#: The modules whose ``create_ssl_context`` a transport calls (``from .._config import ...``).
TRANSPORT_MODULES = ("httpx._transports.default", "httpx2._transports.default")

_shared: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


def shared_context_factory(real: Callable[..., Any]) -> Callable[..., Any]:
    """``real`` (a library's ``create_ssl_context(verify, cert, trust_env)``), returning one context
    per configuration it builds from settings (the module docstring says which); every other call
    goes to ``real``. Errors are ``real``'s."""

    @functools.wraps(real)
    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if cert is not None or not isinstance(verify, bool):
            return real(verify=verify, cert=cert, trust_env=trust_env)
        environ = os.environ
        where = (environ.get("SSL_CERT_FILE"), environ.get("SSL_CERT_DIR")) if trust_env else None
        # (ssl.create_default_context also reads SSLKEYLOGFILE, whatever trust_env says)
        key = (real, verify, bool(trust_env), where, environ.get("SSLKEYLOGFILE"))
        context = _shared.get(key)
        if context is None:
            with _lock:
                context = _shared.get(key)
                if context is None:
                    context = _shared[key] = real(verify=verify, cert=cert, trust_env=trust_env)
        return context

    create_ssl_context.__llama_vcr_shared__ = True  # type: ignore[attr-defined]
    return create_ssl_context


def ssl_context_patches(share: bool, skip: frozenset[str] = frozenset()) -> list[tuple[Any, str, Any]]:
    """vcrpy ``custom_patches`` (``(module, "create_ssl_context", replacement)``) for the transport
    modules of :data:`TRANSPORT_MODULES` already imported (vcrpy imports both when installed),
    except the libraries in ``skip`` (a cassette's ``skip_patchers``).

    ``share`` (a cassette that only replays): the shared factory, unless an outer cassette already
    installed it. Not ``share``: nothing, or, inside an outer replaying cassette, the library's own
    function again, so a nested cassette that may record builds every context."""
    patches: list[tuple[Any, str, Any]] = []
    for name in TRANSPORT_MODULES:
        library = name.partition(".")[0]
        if library in skip or library not in sys.modules:
            continue
        module = importlib.import_module(name)
        current = getattr(module, "create_ssl_context", None)
        if current is None:
            continue
        shared = getattr(current, "__llama_vcr_shared__", False)
        if share and not shared:
            patches.append((module, "create_ssl_context", shared_context_factory(current)))
        elif shared and not share:
            patches.append((module, "create_ssl_context", current.__wrapped__))
    return patches
