"""Replay mode never reaches the network (issue 9, section 4): ``llama_vcr._network`` end to end.

Every test that could try a non-loopback address runs in a pytester *subprocess* whose conftest
installs an audit hook (``sys.addaudithook``). CPython raises its ``socket.connect``,
``socket.sendto``, ``socket.sendmsg``, ``socket.getaddrinfo`` and ``socket.gethostbyname`` events
in C before the system call, so the hook sees every attempt that got past llama-vcr's guard,
logs it and aborts it (``ConnectionAbortedError``): no packet ever leaves the machine, and the
log proves whether an attempt reached the operating system. The addresses tried are
documentation ranges (RFC 5737 203.0.113.0/24, RFC 3849 2001:db8::/32) and ``api.example.com``.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import socket
import textwrap
from pathlib import Path
from typing import Any

import pytest

from llama_vcr._network import AllowedHosts, NetworkBlocked, NetworkPolicy, blocking

TEST_NET = "203.0.113.7"

#: The inner runs' conftest: the audit guard, local servers, and ``expect_blocked``.
CONFTEST = r'''
import contextlib, ipaddress, json, os, shlex, socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

TEST_NET = "203.0.113.7"
TEST_NET6 = "2001:db8::7"
REMOTE_NAME = "api.example.com"
AUDIT_LOG = Path(os.environ["LLAMA_VCR_AUDIT_LOG"])


def _local(host):
    text = host.decode() if isinstance(host, (bytes, bytearray)) else str(host)
    try:
        ip = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return text.lower() in ("localhost", "")
    return ip.is_loopback or ip.is_unspecified


def _numeric(host):
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, (bytes, bytearray)) else str(host))
    except ValueError:
        return False
    return True


def _audit(event, args):
    """The last line of defence: log and abort any non-loopback attempt before the system call."""
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[-1]
        if isinstance(address, tuple) and address and not _local(address[0]):
            target = repr(address[:2])
        else:
            return
    elif event in ("socket.getaddrinfo", "socket.gethostbyname"):
        host = args[0]
        if host is None or _numeric(host) or _local(host):
            return
        target = repr(host)
    else:
        return
    with AUDIT_LOG.open("a") as log:
        log.write(json.dumps([event, target]) + "\n")
    raise ConnectionAbortedError(f"audit guard stopped {event} {target}")


sys.addaudithook(_audit)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"object": "list", "data": [], "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture(scope="session")
def http_port():
    server = _serve(ThreadingHTTPServer(("127.0.0.1", 0), _Handler))
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="session")
def http6_port():
    class Server6(ThreadingHTTPServer):
        address_family = socket.AF_INET6
    try:
        server = _serve(Server6(("::1", 0), _Handler))
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="session")
def ws_port():
    serve = pytest.importorskip("websockets.sync.server").serve

    def echo(connection):
        for message in connection:
            connection.send(message)

    server = serve(echo, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.socket.getsockname()[1]
    server.shutdown()


@pytest.fixture
def expect_blocked(request):
    """``with expect_blocked("host:port"):`` the block raises llama-vcr's error, naming all it should."""
    from llama_vcr._network import NetworkBlocked

    @contextlib.contextmanager
    def check(target):
        try:
            yield
        except BaseException as exc:
            error = exc
            while not isinstance(error, NetworkBlocked) and len(getattr(error, "exceptions", ())) == 1:
                error = error.exceptions[0]  # anyio's happy eyeballs: a group around one connect
            if not isinstance(error, NetworkBlocked):
                raise
        else:
            pytest.fail("nothing was refused")
        message = str(error)
        assert message.startswith(f"llama-vcr: {request.node.nodeid} tried to "), message
        assert f" {target} while replaying (record mode 'none')" in message, message
        assert f"pytest {shlex.quote(request.node.nodeid)} --record-mode=new_episodes" in message, message
        assert "llama_vcr_allowed_hosts" in message, message

    return check
'''

#: Every client, in record mode ``none``: vcrpy answers the clients it patches (a replay miss),
#: llama-vcr's guard refuses everything else, and loopback and Unix-domain sockets still work.
CLIENTS = r'''
import asyncio, socket, tempfile, threading, urllib.request
from pathlib import Path

import pytest

from conftest import REMOTE_NAME, TEST_NET, TEST_NET6
from llama_vcr import RecordingNotFound

REMOTES = [(TEST_NET, f"{TEST_NET}:8443"), (REMOTE_NAME, f"{REMOTE_NAME}:8443")]
IGNORED = pytest.mark.vcr(ignore_hosts=[TEST_NET, REMOTE_NAME])


def via_httpx(url):
    import httpx
    httpx.get(url, timeout=0.5)


def via_httpx_async(url):
    import httpx

    async def main():
        async with httpx.AsyncClient(timeout=0.5) as client:
            await client.get(url)
    asyncio.run(main())


def via_httpx2(url):
    httpx2 = pytest.importorskip("httpx2")
    httpx2.get(url, timeout=0.5)


def via_requests(url):
    import requests
    requests.get(url, timeout=0.5)


def via_urllib3(url):
    import urllib3
    urllib3.PoolManager(retries=False).request("GET", url, timeout=0.5)


def via_aiohttp(url):
    import aiohttp

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=0.5)) as response:
                return await response.read()
    return asyncio.run(main())


def via_urllib(url):
    urllib.request.urlopen(url, timeout=0.5).read()


def via_openai(url):
    import openai
    try:
        openai.OpenAI(base_url=url, api_key="sk-x", max_retries=2, timeout=0.5).models.list()
    except openai.APIConnectionError as exc:  # an SDK retry + wrap would hide llama-vcr's error
        raise AssertionError("the SDK wrapped the error") from exc


def via_httpcore(url):
    import httpcore
    httpcore.request("GET", url, extensions={"timeout": {"connect": 0.5, "read": 0.5}})


def via_httpcore2(url):
    httpcore2 = pytest.importorskip("httpcore2")
    httpcore2.request("GET", url, extensions={"timeout": {"connect": 0.5, "read": 0.5}})


def via_websockets(url):
    client = pytest.importorskip("websockets.sync.client")
    with client.connect(url.replace("http", "ws", 1), open_timeout=0.5) as ws:
        ws.send("ping")
        return ws.recv(timeout=0.5)


def via_websockets_async(url):
    client = pytest.importorskip("websockets.asyncio.client")

    async def main():
        async with client.connect(url.replace("http", "ws", 1), open_timeout=0.5) as ws:
            await ws.send("ping")
            return await ws.recv()
    return asyncio.run(main())


PATCHED = [via_httpx, via_httpx_async, via_httpx2, via_requests, via_urllib3, via_aiohttp, via_urllib,
           via_openai]
UNPATCHED = [via_httpcore, via_httpcore2, via_websockets, via_websockets_async]


@pytest.mark.vcr
@pytest.mark.parametrize("host, target", REMOTES)
@pytest.mark.parametrize("via", PATCHED)
def test_vcrpy_answers_patched_clients_with_a_replay_miss(via, host, target):
    with pytest.raises(RecordingNotFound):
        via(f"http://{host}:8443/v1/models")


@IGNORED
@pytest.mark.parametrize("host, target", REMOTES)
@pytest.mark.parametrize("via", PATCHED + UNPATCHED)
def test_traffic_vcrpy_passes_through_is_refused(via, host, target, expect_blocked):
    with expect_blocked(target):
        via(f"http://{host}:8443/v1/models")


@pytest.mark.vcr
@pytest.mark.parametrize("via", UNPATCHED)
def test_clients_vcrpy_does_not_patch_are_refused(via, expect_blocked):
    with expect_blocked(f"{TEST_NET}:8443"):
        via(f"http://{TEST_NET}:8443/")


@pytest.mark.vcr
def test_raw_sockets_are_refused(expect_blocked):
    with expect_blocked(f"{TEST_NET}:443"):
        socket.create_connection((TEST_NET, 443), timeout=0.5)
    with expect_blocked(f"{TEST_NET}:443"), socket.socket() as sock:
        sock.connect((TEST_NET, 443))
    with expect_blocked(f"{TEST_NET}:443"), socket.socket() as sock:
        sock.connect_ex((TEST_NET, 443))
    with expect_blocked(f"[{TEST_NET6}]:443"), socket.socket(socket.AF_INET6) as sock:
        sock.connect((TEST_NET6, 443, 0, 0))
    with expect_blocked(f"{REMOTE_NAME}:443"):
        socket.create_connection((REMOTE_NAME, 443), timeout=0.5)
    with expect_blocked(f"{REMOTE_NAME}:443"):
        socket.getaddrinfo(REMOTE_NAME, 443)
    with expect_blocked(REMOTE_NAME):
        socket.gethostbyname(REMOTE_NAME)
    with expect_blocked(REMOTE_NAME):
        socket.gethostbyname_ex(REMOTE_NAME)


@pytest.mark.vcr
def test_datagrams_are_refused(expect_blocked):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with expect_blocked(f"{TEST_NET}:53"):
            sock.sendto(b"x", (TEST_NET, 53))
        with expect_blocked(f"{TEST_NET}:53"):
            sock.sendto(b"x", 0, (TEST_NET, 53))
        with expect_blocked(f"{TEST_NET}:53"):
            sock.sendmsg([b"x"], [], 0, (TEST_NET, 53))
        with expect_blocked(f"{TEST_NET}:53"):
            sock.connect((TEST_NET, 53))


@pytest.mark.vcr
def test_a_thread_of_the_test_is_refused_too(expect_blocked):
    errors = []

    def run():
        try:
            socket.create_connection((TEST_NET, 443), timeout=0.5)
        except BaseException as exc:
            errors.append(exc)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    with expect_blocked(f"{TEST_NET}:443"):
        raise errors[0]


@pytest.mark.vcr
def test_loopback_and_unix_sockets_still_work(http_port):
    for host in ("127.0.0.1", "localhost", "127.0.0.1"):
        with socket.create_connection((host, http_port), timeout=2) as sock:
            sock.sendall(b"GET /raw HTTP/1.0\r\n\r\n")
            assert b"200 OK" in sock.recv(1024)
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", http_port)) == 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        server.bind(("127.0.0.1", 0))
        client.sendto(b"ping", server.getsockname())
        assert server.recvfrom(16)[0] == b"ping"
    path = str(Path(tempfile.mkdtemp()) / "s.sock")
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(path)
        server.listen()
        client.connect(path)
        connection, _ = server.accept()
        client.sendall(b"ping")
        assert connection.recv(4) == b"ping"
        connection.close()


@pytest.mark.vcr
def test_ipv6_loopback_still_works(http6_port):
    with socket.create_connection(("::1", http6_port), timeout=2) as sock:
        sock.sendall(b"GET /raw6 HTTP/1.0\r\n\r\n")
        assert b"200 OK" in sock.recv(1024)


@pytest.mark.vcr(ignore_localhost=True)
@pytest.mark.parametrize("via", [via_httpx, via_httpx_async, via_httpx2, via_requests, via_urllib3,
                                 via_aiohttp, via_urllib, via_httpcore, via_httpcore2])
def test_local_servers_are_reachable_through_every_client(via, http_port):
    via(f"http://127.0.0.1:{http_port}/v1/models")


@pytest.mark.vcr
@pytest.mark.parametrize("via", [via_websockets, via_websockets_async])
def test_local_websocket_servers_are_reachable(via, ws_port):
    assert via(f"http://127.0.0.1:{ws_port}/") == "ping"


@pytest.mark.vcr
def test_a_swallowed_refusal_is_reported():
    try:
        socket.create_connection((TEST_NET, 443), timeout=0.5)
    except Exception:
        pass  # an application that falls back
    assert False, "the fallback was taken"


def test_a_test_without_vcr_is_not_blocked():
    """llama-vcr lets it through; the audit guard of this run stops it (and logs it)."""
    with pytest.raises(ConnectionAbortedError, match="audit guard"):
        socket.create_connection((TEST_NET, 443), timeout=0.5)
'''

#: One test that replays a local request and then tries TEST-NET; it writes what happened.
PROBE = r"""
import contextlib, os, socket
from pathlib import Path

import httpx
import pytest

from conftest import TEST_NET
from llama_vcr import RecordingNotFound
from llama_vcr._network import NetworkBlocked


@pytest.mark.vcr
def test_probe(http_port):
    with contextlib.suppress(RecordingNotFound):  # recorded by the first "once" run, replayed after
        assert httpx.get(f"http://127.0.0.1:{http_port}/v1/models", timeout=2).json()["object"] == "list"
    try:
        socket.create_connection((TEST_NET, 443), timeout=0.5)
    except NetworkBlocked:
        outcome = "blocked by llama-vcr"
    except ConnectionAbortedError:
        outcome = "reached the OS"
    Path(os.environ["LLAMA_VCR_OUTCOME"]).write_text(outcome)


def test_sockets_are_restored():
    for patched in (socket.socket.connect, socket.socket.sendto, socket.getaddrinfo):
        assert getattr(patched, "__module__", None) != "llama_vcr._network"
"""


def _inner(
    pytester: pytest.Pytester, tmp_path: Path, module: str, *args: str, ini: str = ""
) -> tuple[pytest.RunResult, list[list[str]]]:
    """Run ``module`` in a pytest subprocess; its result and the attempts that reached the OS."""
    log = tmp_path / "audit.jsonl"
    log.unlink(missing_ok=True)
    pytester.makeini("[pytest]\n" + textwrap.dedent(ini))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_inner=module)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLAMA_VCR_AUDIT_LOG", str(log))
        mp.setenv("LLAMA_VCR_OUTCOME", str(tmp_path / "outcome.txt"))
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    events = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, events


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(name) is not None for name in modules)


def test_replay_refuses_every_client_before_the_os_sees_it(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result, events = _inner(pytester, tmp_path, CLIENTS, "--record-mode=none", "-rs")
    # tests of each optional client: httpx2 (openai 3.x), httpcore2, websockets
    optional = {"httpx2": 2 + 2 + 1, "httpcore2": 2 + 1 + 1, "websockets": 4 + 2 + 2}
    skipped = sum(count for name, count in optional.items() if not _installed(name))
    result.assert_outcomes(passed=61 - skipped, skipped=skipped, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_a_swallowed_refusal_is_reported _*",
            "*AssertionError: the fallback was taken*",
            "*- llama-vcr network blocked -*",
            "llama-vcr: test_inner.py::test_a_swallowed_refusal_is_reported tried to connect to "
            f"{TEST_NET}:443 while replaying (record mode 'none')*",
        ]
    )
    # the only attempt that reached the operating system is the test without a vcr marker's
    assert events == [["socket.connect", repr((TEST_NET, 443))]]


def _probe(
    pytester: pytest.Pytester, tmp_path: Path, *args: str, ini: str = ""
) -> tuple[str, list[list[str]]]:
    result, events = _inner(pytester, tmp_path, PROBE, *args, ini=ini)
    result.assert_outcomes(passed=2)
    return (tmp_path / "outcome.txt").read_text(), events


REACHED = [["socket.connect", repr((TEST_NET, 443))]]


def test_once_blocks_only_a_test_that_already_has_recordings(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    assert _probe(pytester, tmp_path, "--record-mode=once") == ("reached the OS", REACHED)  # records
    assert list((pytester.path / "cassettes").rglob("*.json"))
    assert _probe(pytester, tmp_path, "--record-mode=once") == ("blocked by llama-vcr", [])  # replays
    assert _probe(pytester, tmp_path, "--record-mode=new_episodes") == ("reached the OS", REACHED)


def test_blocking_can_be_turned_off_or_widened(pytester: pytest.Pytester, tmp_path: Path) -> None:
    off = "llama_vcr_block_network = false\n"
    assert _probe(pytester, tmp_path, ini=off) == ("reached the OS", REACHED)
    allowed = "llama_vcr_allowed_hosts =\n    db.internal\n    203.0.113.0/24\n"
    assert _probe(pytester, tmp_path, ini=allowed) == ("reached the OS", REACHED)
    other = "llama_vcr_allowed_hosts = 203.0.113.8\n"
    assert _probe(pytester, tmp_path, ini=other) == ("blocked by llama-vcr", [])


def test_pytest_recordings_block_network_and_allowed_hosts_are_honoured(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    # its own guard is on too (and would refuse 127.0.0.1 unless allowed): both are restored after
    args = ("--block-network", r"--allowed-hosts=127\.0\.0\.1,203\.0\.113\.")
    assert _probe(pytester, tmp_path, *args) == ("reached the OS", REACHED)


def test_an_invalid_allowed_host_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllama_vcr_allowed_hosts = 10.0.0.0/33\n")
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*llama_vcr_allowed_hosts: '10.0.0.0/33' is not an IP address or network*"])


# -- the policy and the patches, in process (no address but loopback is ever handed to the OS) ----


@pytest.mark.parametrize(
    ("host", "permitted"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),
        ("::", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("api.internal", True),
        ("a.svc.cluster.local", True),
        ("10.1.2.3", True),
        ("fd00::5", True),
        ("192.168.1.1", False),
        ("10.1.2.3.evil.com", False),
        (TEST_NET, False),
        ("2001:db8::1", False),
        ("api.openai.com", False),
        ("localhost.example.com", False),
        ("svc.cluster.local", False),
    ],
)
def test_what_replay_may_reach(host: str, permitted: bool) -> None:
    allowed = AllowedHosts.parse(["api.internal", "*.svc.cluster.local", "10.0.0.0/8", "[fd00::5]"])
    policy = NetworkPolicy(allowed, "t.py::test", "none")
    assert policy.permits(host.lower().rstrip(".")) is permitted


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "host:443", "user@host", "fd00::/200"])
def test_invalid_allowed_hosts(entry: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        AllowedHosts.parse([entry])


def test_pytest_recording_regexes_match_the_start_of_the_host() -> None:
    policy = NetworkPolicy(AllowedHosts().with_regexes([r"10\.0\.", "^db"]))
    assert policy.permits("10.0.3.4") and policy.permits("db.example.com")
    assert not policy.permits("110.0.3.4") and not policy.permits("mydb.example.com")
    with pytest.raises(ValueError, match="regex"):
        AllowedHosts().with_regexes(["("])


def test_an_allowed_name_lets_its_addresses_through(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connecting to what an allowed name resolved to is allowed (resolution faked: no DNS)."""
    answers = {"db.internal": "127.0.0.1", "api.example.com": TEST_NET}

    def fake_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    monkeypatch.setattr(socket, "gethostbyname", lambda host: answers[host])
    policy = NetworkPolicy(AllowedHosts.parse(["db.internal"]), "t.py::test_x", "once")
    with blocking(policy):
        assert socket.getaddrinfo("db.internal", 5432)[0][4] == ("127.0.0.1", 5432)
    assert policy.resolved == {"127.0.0.1"}
    answers["db.internal"] = TEST_NET  # what a real name would resolve to
    policy = NetworkPolicy(AllowedHosts.parse(["db.internal"]), "t.py::test_x", "once")
    with blocking(policy):
        socket.gethostbyname("db.internal")
        assert policy.permits(TEST_NET)
        with pytest.raises(NetworkBlocked, match=r"tried to resolve api\.example\.com:443 while replaying"):
            socket.getaddrinfo("api.example.com", 443)
    assert socket.getaddrinfo is fake_getaddrinfo


def test_blocking_restores_the_socket_module_and_nests(monkeypatch: pytest.MonkeyPatch) -> None:
    def reached_the_os(self: socket.socket, address: Any) -> None:  # stands in for the system call
        raise AssertionError(f"the guard let {address} through")

    monkeypatch.setattr(socket.socket, "connect", reached_the_os)
    before = {name: vars(socket.socket).get(name) for name in ("connect", "connect_ex", "sendto", "sendmsg")}
    getaddrinfo = socket.getaddrinfo
    outer = NetworkPolicy(test_id="outer")
    with blocking(outer), blocking(NetworkPolicy(test_id="inner")), socket.socket() as sock:
        assert "connect" in vars(socket.socket)
        with pytest.raises(NetworkBlocked, match="inner tried to connect to"):
            sock.connect((TEST_NET, 1))
    assert {name: vars(socket.socket).get(name) for name in before} == before
    assert socket.getaddrinfo is getaddrinfo


def test_the_error_pickles_and_is_the_loaded_sdks_error() -> None:
    openai = pytest.importorskip("openai")
    error = NetworkPolicy(test_id="t.py::test_x").refuse("connect to", "2001:db8::1", 443)
    assert isinstance(error, openai.OpenAIError)
    assert "tried to connect to [2001:db8::1]:443 while replaying (record mode 'none')" in str(error)
    assert "pytest t.py::test_x --record-mode=new_episodes" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, NetworkBlocked) and isinstance(copy, openai.OpenAIError)
    assert (copy.host, copy.port, copy.action, str(copy)) == ("2001:db8::1", 443, "connect to", str(error))
