"""Replay mode never reaches the network: a socket-level guard for vcr tests that only replay.

vcrpy answers the HTTP clients it patches (httpx, httpx2, requests, urllib3, aiohttp, http.client)
from recordings and raises a replay miss for a request it has none for. Everything else would go
to the network in replay mode: a client vcrpy does not patch (httpcore or httpcore2 used
directly, websockets, a raw socket, a UDP datagram) or a host the test's ``vcr_config`` tells
vcrpy to pass through (``ignore_hosts``, ``ignore_localhost``). While a test's cassette is
write-protected, :func:`blocking` makes every such attempt raise :class:`NetworkBlocked`, naming
the test, the host and port, and the command that records the test, *before* the operating
system is asked for anything.

What is patched, only while :func:`blocking` is active, and restored afterwards (the one place
llama-vcr touches the socket module):

- ``socket.socket.connect``, ``connect_ex``, ``sendto`` and ``sendmsg``: an ``AF_INET`` /
  ``AF_INET6`` target must be a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104), the
  unspecified address (0.0.0.0, ::, which Linux connects to this machine), ``localhost``, an
  address a name from :attr:`NetworkPolicy.allowed` resolved to, or be allowed itself. A host
  name handed to ``connect`` is judged by its name, unresolved. Unix-domain sockets and every
  other family pass: they are not network.
- ``socket.getaddrinfo``, ``gethostbyname`` and ``gethostbyname_ex``: resolving a name is itself
  traffic (a DNS query), so a name other than ``localhost`` or an allowed one is refused before it
  is resolved. Numeric addresses resolve without traffic and pass (their connection is judged).
  Reverse lookups (``gethostbyaddr``, ``getnameinfo``, hence ``socket.getfqdn()``) are not
  patched: the standard library calls them while starting local servers and only expects
  ``OSError`` from them.

Not seen: sockets opened in native code (grpcio, pycurl, curl_cffi, Rust-based clients, c-ares
resolvers such as aiodns); the functions of the socket module imported by name before the test
started (``from socket import getaddrinfo``).

pytest-recording's own ``--block-network`` is not used for this: it patches only ``connect`` and
``connect_ex`` (no datagrams, no DNS), blocks loopback and Unix-domain sockets unless a regex
allows them, raises a bare ``RuntimeError("Network is disabled for host ...")`` (no port, test
or remedy, and an SDK retries it and wraps it into a connection error), and treats only record
mode ``none`` as replay. Both can be on at once: this guard wraps whatever ``connect`` is in place,
and its allowed hosts include pytest-recording's (``--allowed-hosts``,
``@pytest.mark.block_network(allowed_hosts=...)``, ``vcr_config["allowed_hosts"]``), which are
regular expressions matched at the start of the host as pytest-recording matches them.
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from ._errors import LlamaVcrError, record_command, with_sdk_error_bases

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Host names that always name this machine (``/etc/hosts``; RFC 6761 reserves the name).
LOCAL_NAMES = frozenset({"localhost"})
_INET_FAMILIES = frozenset({socket.AF_INET, getattr(socket, "AF_INET6", socket.AF_INET)})


class NetworkBlocked(LlamaVcrError):
    """A test replaying its recordings tried to reach the network (connect, send or resolve).

    ``host`` and ``port`` are what the test tried, ``action`` what it tried to do with them. Like
    :class:`~llama_vcr.RecordingNotFound`, the instance is of a subclass that also derives from
    the error base of every loaded SDK (``openai.OpenAIError``, ``anthropic.AnthropicError``), so
    the SDK raises it at once instead of retrying it into ``APIConnectionError``. It is not an
    ``OSError``: HTTP clients would turn that into their own connection error (and retry it).
    """

    host: str
    port: int | None
    action: str

    def __new__(cls, message: str = "", **kwargs: Any) -> NetworkBlocked:
        if cls is NetworkBlocked:
            cls = with_sdk_error_bases(NetworkBlocked)
        return Exception.__new__(cls)

    def __init__(
        self, message: str = "", *, host: str = "", port: int | None = None, action: str = ""
    ) -> None:
        Exception.__init__(self, message)
        self.message = message
        self.host = host
        self.port = port
        self.action = action

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (pytest-xdist, multiprocessing) without SDK bases
        return (
            NetworkBlocked,
            (self.message,),
            {"host": self.host, "port": self.port, "action": self.action},
        )


@functools.lru_cache(maxsize=512)
def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_local_ip(ip: IPAddress) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or ip.is_unspecified or (mapped is not None and _is_local_ip(mapped))


def _normal_host(host: str | bytes | bytearray) -> str:
    text = host.decode("ascii", "replace") if isinstance(host, bytes | bytearray) else str(host)
    return text.strip().strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class AllowedHosts:
    """Hosts replay may reach besides this machine: ``llama_vcr_allowed_hosts`` entries, each a
    host name (an ``fnmatch`` pattern: ``*.svc.cluster.local``), an IP address or a network
    (``10.0.0.0/8``, ``fd00::/8``); plus pytest-recording's regular expressions."""

    names: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()
    regexes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str], regexes: Iterable[str] = ()) -> AllowedHosts:
        """Read ini entries; :class:`ValueError` names an entry that is neither a name nor a network."""
        names: list[str] = []
        networks: list[IPNetwork] = []
        for entry in entries:
            text = entry.strip()
            if not text:
                continue
            if "/" in text or _ip(_normal_host(text)) is not None:
                try:
                    networks.append(ipaddress.ip_network(_normal_host(text), strict=False))
                except ValueError:
                    raise ValueError(f"{entry!r} is not an IP address or network") from None
                continue
            name = _normal_host(text)
            if not name or any(c.isspace() or c in ":@" for c in name):
                raise ValueError(f"{entry!r} is not a host name, an IP address or a network")
            names.append(name)
        patterns = tuple(r for r in regexes if r)
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"allowed host regex {pattern!r}: {exc}") from None
        return cls(tuple(names), tuple(networks), patterns)

    def with_regexes(self, regexes: Iterable[str]) -> AllowedHosts:
        """These hosts and pytest-recording's allowed-host regular expressions."""
        return replace(self, regexes=self.regexes + AllowedHosts.parse((), regexes).regexes)

    def allows(self, host: str, ip: IPAddress | None) -> bool:
        if ip is not None:
            if any(ip.version == net.version and ip in net for net in self.networks):
                return True
        elif any(fnmatch.fnmatchcase(host, name) for name in self.names):
            return True
        return any(re.match(pattern, host) for pattern in self.regexes)


@dataclass
class NetworkPolicy:
    """What one replaying test may reach, and what its error says (test id, record mode)."""

    allowed: AllowedHosts = field(default_factory=AllowedHosts)
    test_id: str | None = None
    record_mode: str = "none"
    #: Addresses that allowed names resolved to while the test ran: connecting to them is allowed.
    resolved: set[str] = field(default_factory=set)
    #: Messages of the errors raised, for the report of a test whose client wrapped or swallowed one.
    refused: list[str] = field(default_factory=list)

    def permits(self, host: str) -> bool:
        ip = _ip(host)
        if ip is not None:
            if _is_local_ip(ip) or str(ip) in self.resolved:
                return True
        elif host in LOCAL_NAMES:
            return True
        return self.allowed.allows(host, ip)

    def may_resolve(self, host: str) -> bool:
        """Resolving a numeric address sends nothing; a name needs DNS unless it is local or allowed."""
        return not host or _ip(host) is not None or self.permits(host)

    def refuse(self, action: str, host: str, port: int | None) -> NetworkBlocked:
        target = host if port is None else (f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        test = self.test_id or "this test"
        error = NetworkBlocked(
            f"llama-vcr: {test} tried to {action} {target} while replaying (record mode "
            f"{self.record_mode!r}); replay mode never reaches the network.\n"
            "  HTTP clients vcrpy patches (httpx, httpx2, requests, urllib3, aiohttp) are answered from "
            "recordings; this came from another client (a raw socket, websockets, httpcore used directly) "
            "or a host vcr_config ignores (ignore_hosts, ignore_localhost).\n"
            "  to record the test (needs the real API and its key), run:\n"
            f"    {record_command(self.test_id, 'new_episodes')}\n"
            "  to let replay reach this host, add it to llama_vcr_allowed_hosts in the pytest "
            "configuration (or set llama_vcr_block_network = false).",
            host=host,
            port=port,
            action=action,
        )
        self.refused.append(error.message)
        return error


_active: NetworkPolicy | None = None


def _inet_target(sock: socket.socket, address: Any) -> tuple[str, int | None] | None:
    """``(host, port)`` of an internet address, or None for another family (Unix-domain, netlink...)."""
    if sock.family not in _INET_FAMILIES or not isinstance(address, tuple) or not address:
        return None
    port = address[1] if len(address) > 1 and isinstance(address[1], int) else None
    return _normal_host(address[0]), port


def _check(sock: socket.socket, address: Any, action: str) -> None:
    policy = _active
    if policy is None:
        return
    target = _inet_target(sock, address)
    if target is not None and not policy.permits(target[0]):
        raise policy.refuse(action, *target)


def _check_name(host: Any, port: Any) -> NetworkPolicy | None:
    """The active policy if ``host`` is an allowed name to resolve (its addresses are remembered)."""
    policy = _active
    if policy is None or host is None:
        return None
    name = _normal_host(host) if isinstance(host, str | bytes | bytearray) else str(host)
    if not policy.may_resolve(name):
        number = int(port) if isinstance(port, int | str) and str(port).isdigit() else None
        raise policy.refuse("resolve", name, number)
    return policy if name and _ip(name) is None and name not in LOCAL_NAMES else None


# -- the patches ---------------------------------------------------------------------------------


def _guard_connect(original: Callable[..., Any]) -> Callable[..., Any]:
    def connect(self: socket.socket, address: Any, /) -> Any:
        _check(self, address, "connect to")
        return original(self, address)

    return connect


def _guard_sendto(original: Callable[..., Any]) -> Callable[..., Any]:
    def sendto(self: socket.socket, data: Any, /, *args: Any) -> Any:
        if args:  # (data, address) or (data, flags, address)
            _check(self, args[-1], "send a datagram to")
        return original(self, data, *args)

    return sendto


def _guard_sendmsg(original: Callable[..., Any]) -> Callable[..., Any]:
    def sendmsg(self: socket.socket, /, *args: Any) -> Any:  # (buffers, ancdata, flags, address)
        if len(args) > 3 and args[3] is not None:
            _check(self, args[3], "send a message to")
        return original(self, *args)

    return sendmsg


def _guard_getaddrinfo(original: Callable[..., Any]) -> Callable[..., Any]:
    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        policy = _check_name(host, port)
        result = original(host, port, *args, **kwargs)
        if policy is not None:
            policy.resolved.update(_normal_host(str(info[4][0])) for info in result)
        return result

    return getaddrinfo


def _guard_gethostbyname(original: Callable[..., Any]) -> Callable[..., Any]:
    def gethostbyname(hostname: Any, /) -> Any:
        policy = _check_name(hostname, None)
        result = original(hostname)
        if policy is not None:
            policy.resolved.add(str(result))
        return result

    return gethostbyname


def _guard_gethostbyname_ex(original: Callable[..., Any]) -> Callable[..., Any]:
    def gethostbyname_ex(hostname: Any, /) -> Any:
        policy = _check_name(hostname, None)
        result = original(hostname)
        if policy is not None:
            policy.resolved.update(str(address) for address in result[2])
        return result

    return gethostbyname_ex


_GUARDS: tuple[tuple[Any, str, Callable[[Callable[..., Any]], Callable[..., Any]]], ...] = (
    (socket.socket, "connect", _guard_connect),
    (socket.socket, "connect_ex", _guard_connect),
    (socket.socket, "sendto", _guard_sendto),
    (socket.socket, "sendmsg", _guard_sendmsg),
    (socket, "getaddrinfo", _guard_getaddrinfo),
    (socket, "gethostbyname", _guard_gethostbyname),
    (socket, "gethostbyname_ex", _guard_gethostbyname_ex),
)
_MISSING = object()


@contextmanager
def blocking(policy: NetworkPolicy) -> Iterator[NetworkPolicy]:
    """Refuse, in every thread, network access ``policy`` does not permit until the block exits.

    Each guard wraps whatever is in place when the block starts (pytest-recording's own guard,
    say) and is removed at exit if it is still the outermost; one that something else wrapped in
    the meantime stays in that chain but lets everything through once no policy is active.
    """
    global _active
    installed: list[tuple[Any, str, object, Callable[..., Any]]] = []
    for owner, name, make in _GUARDS:
        current = getattr(owner, name, None)
        if current is None:  # sendmsg is missing on Windows
            continue
        guard = make(current)
        guard.__name__ = guard.__qualname__ = name
        installed.append((owner, name, vars(owner).get(name, _MISSING), guard))
        setattr(owner, name, guard)
    previous, _active = _active, policy
    try:
        yield policy
    finally:
        _active = previous
        for owner, name, own, guard in reversed(installed):
            if vars(owner).get(name) is not guard:
                continue
            if own is _MISSING:  # the class inherited it (socket.socket from _socket.socket)
                delattr(owner, name)
            else:
                setattr(owner, name, own)
