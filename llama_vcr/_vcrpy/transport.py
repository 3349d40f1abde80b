"""Bodies a transport error cut short: recorded as the bytes that arrived plus the error, replayed so.

vcrpy's stubs read a whole response body before the client sees it. When the connection breaks
mid-body (the server closes it in the middle of a stream), the read raises inside the stub: the
interaction is never appended, so nothing can be saved, and the client gets the error before any
chunk. This module wraps the stubs, per cassette, through vcrpy's public ``custom_patches``
(applied after vcrpy's own patches and undone with them):

- ``httpx`` / ``httpx2``: ``HTTPTransport.handle_request`` and ``AsyncHTTPTransport.handle_async_request``
  run vcrpy's own stub (``vcr.stubs.httpx_stubs``) around the real method, whose response stream
  stops quietly at an allowed transport error and remembers it;
- ``requests`` / ``urllib3``: ``vcr.stubs.VCRConnection.getresponse`` reads the real response
  through a proxy whose ``.data`` does the same.

The stub sees the cassette through a :class:`_Call`, which adds the error to the response dict it
appends (``format.transport.TRANSPORT_ERROR_KEY``; ``codec.encode`` stores it) and notes the error
of a response it plays (``codec.decode`` puts it there). Either way the client then gets a response
whose body yields the bytes and raises the error, an instance of the client's own exception class
(``httpx2.RemoteProtocolError``; ``urllib3.exceptions.ProtocolError``, which requests turns into
``ChunkedEncodingError``), so an SDK maps it as it did live (``openai.APIConnectionError``).

Only the exception classes of ``format.transport.TRANSPORT_ERROR_TYPES`` are caught; any other error
propagates as vcrpy raises it. vcrpy names used beyond its public API are in ``PRIVATE_ATTRIBUTES``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from vcr import patch as vcr_patch
from vcr.stubs import VCRConnection, VCRHTTPResponse
from vcr.stubs.httpx_stubs import vcr_handle_async_request, vcr_handle_request

from ..format.transport import TRANSPORT_ERROR_KEY, TRANSPORT_ERROR_TYPES
from .persister import SOURCE_KEY

#: A recorded transport error: ``{"type": "<module>.<Class>", "message": "..."}``.
Error = dict[str, str]
#: vcrpy's ``VCRConnection.getresponse``, as it was before any cassette wrapped it.
_GETRESPONSE: Callable[..., Any] = VCRConnection.getresponse
_READ_SIZE = 65536


@dataclass(frozen=True)
class _Library:
    """One client library's transport errors: stored name <-> class."""

    module: str  # "httpx", "httpx2", "urllib3.exceptions"
    classes: dict[str, type[BaseException]]

    @classmethod
    def load(cls, module: str) -> _Library | None:
        """The library's allowed errors, or None if it is not installed."""
        try:
            imported = importlib.import_module(module)
        except ImportError:
            return None
        prefix = module + "."
        names = [name for name in TRANSPORT_ERROR_TYPES if name.startswith(prefix)]
        return cls(module, {name: getattr(imported, name[len(prefix) :]) for name in names})

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        return tuple(self.classes.values())

    def describe(self, exc: BaseException) -> Error:
        """The stored form of an error of :attr:`errors`."""
        name = next(name for name, error in self.classes.items() if isinstance(exc, error))
        return {"type": name, "message": str(exc)}

    def exception(self, error: Error, *, request: Any = None, url: str | None = None) -> BaseException:
        """This library's exception for a stored error: the class of that name (``httpx2.X`` replays
        as ``httpx.X`` through httpx), else the first of the same kind (``broken``, ``timeout``)."""
        name = f"{self.module}.{error['type'].rpartition('.')[2]}"
        if name not in self.classes:
            kind = TRANSPORT_ERROR_TYPES[error["type"]]
            name = next(n for n in self.classes if TRANSPORT_ERROR_TYPES[n] == kind)
        cls: Any = self.classes[name]
        message = error["message"]
        if self.module == "urllib3.exceptions":
            exc = cls(None, url, message) if name.endswith("ReadTimeoutError") else cls(message)
            exc.args = (message,)
        else:
            exc = cls(message, request=request)
        return exc  # type: ignore[no-any-return]


class _Call:
    """The cassette as vcrpy's stub sees it for one request, plus the transport error of its body."""

    def __init__(self, cassette: Any, *, decoded: bool = False) -> None:
        self._cassette = cassette
        self.error: Error | None = None
        #: The body vcrpy records is already content-decoded (urllib3 2 decodes ``.data``): the
        #: ``content-encoding`` header no longer describes it and is dropped from the recording.
        self.decoded = decoded

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cassette, name)

    def play_response(self, request: Any) -> Any:
        response = self._cassette.play_response(request)
        self.error = response.get(TRANSPORT_ERROR_KEY)
        return response

    def append(self, request: Any, response: dict[str, Any]) -> None:
        if self.error is not None:
            response = {**response, TRANSPORT_ERROR_KEY: self.error}
        if self.decoded:
            headers = response.get("headers") or {}
            kept = {name: value for name, value in headers.items() if name.lower() != "content-encoding"}
            response = {**response, "headers": kept}
        self._cassette.append(request, response)


# --- httpx, httpx2 ----------------------------------------------------------------------------------


class _TolerantStream:
    """A live response stream for vcrpy to read: ends quietly at an allowed error, noting it."""

    def __init__(self, stream: Any, call: _Call, library: _Library) -> None:
        self._stream, self._call, self._library = stream, call, library

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except self._library.errors as exc:
            self._call.error = self._library.describe(exc)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except self._library.errors as exc:
            self._call.error = self._library.describe(exc)

    def close(self) -> None:
        self._stream.close()

    async def aclose(self) -> None:
        await self._stream.aclose()


def _cut_init(self: Any, content: bytes, error: Callable[[], BaseException]) -> None:
    self._content, self._error = content, error


def _cut_iter(self: Any) -> Iterator[bytes]:
    if self._content:
        yield self._content
    raise self._error()


async def _cut_aiter(self: Any) -> AsyncIterator[bytes]:
    if self._content:
        yield self._content
    raise self._error()


@functools.cache
def _cut_stream_class(module: Any) -> type:
    """An httpx (or httpx2) byte stream, sync and async, that yields its content then raises."""
    bases = (module.SyncByteStream, module.AsyncByteStream)
    return type(
        "CutByteStream", bases, {"__init__": _cut_init, "__iter__": _cut_iter, "__aiter__": _cut_aiter}
    )


def _httpx_patches(cassette: Any, module_name: str) -> list[tuple[Any, str, Any]]:
    library = _Library.load(module_name)
    prefix = "_Httpx2" if module_name == "httpx2" else "_Httpx"
    real_sync = getattr(vcr_patch, f"{prefix}HttpTransport_handle_request", None)
    real_async = getattr(vcr_patch, f"{prefix}AsyncHttpTransport_handle_async_request", None)
    if library is None or real_sync is None or real_async is None:
        return []
    module = importlib.import_module(module_name)

    def finish(call: _Call, request: Any, response: Any) -> Any:
        if call.error is not None:
            content = b"".join(response.stream)  # (vcrpy's ByteStream: the whole body, in memory)
            error = functools.partial(library.exception, call.error, request=request)
            response.stream = _cut_stream_class(module)(content, error)
        return response

    def handle_request(transport: Any, request: Any) -> Any:
        call = _Call(cassette)

        def real(transport: Any, request: Any) -> Any:
            response = real_sync(transport, request)
            response.stream = _TolerantStream(response.stream, call, library)
            return response

        return finish(call, request, vcr_handle_request(call, real, module)(transport, request))

    async def handle_async_request(transport: Any, request: Any) -> Any:
        call = _Call(cassette)

        async def real(transport: Any, request: Any) -> Any:
            response = await real_async(transport, request)
            response.stream = _TolerantStream(response.stream, call, library)
            return response

        stub = vcr_handle_async_request(call, real, module)
        return finish(call, request, await stub(transport, request))

    return [
        (module.HTTPTransport, "handle_request", functools.wraps(real_sync)(handle_request)),
        (
            module.AsyncHTTPTransport,
            "handle_async_request",
            functools.wraps(real_async)(handle_async_request),
        ),
    ]


# --- requests, urllib3 --------------------------------------------------------------------------------


class _TolerantResponse:
    """A live urllib3 response for ``VCRConnection.getresponse``: ``.data`` keeps what arrived."""

    def __init__(self, response: Any, call: _Call, library: _Library) -> None:
        self._response, self._call, self._library = response, call, library

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)

    @functools.cached_property
    def data(self) -> bytes:  # (cached: vcrpy reads it twice, once in hasattr(response, "data"))
        parts: list[bytes] = []
        response = self._response
        try:
            for part in response.stream(_READ_SIZE, decode_content=response.decode_content):
                parts.append(part)
        except self._library.errors as exc:
            self._call.error = self._library.describe(exc)
        return b"".join(parts)


class _CutResponse(VCRHTTPResponse):
    """vcrpy's response whose body, once read to its end, raises the error the body ended in."""

    _cut: Callable[[], BaseException]

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        data: bytes = super().read(*args, **kwargs)
        if not data and (args[0] if args else kwargs.get("amt")) != 0:
            raise self._cut()
        return data

    def read1(self, *args: Any, **kwargs: Any) -> bytes:
        data: bytes = super().read1(*args, **kwargs)
        if not data and (args[0] if args else kwargs.get("size")) != 0:
            raise self._cut()
        return data

    def readinto(self, buffer: Any) -> int:
        count: int = super().readinto(buffer)
        if not count and len(buffer):
            raise self._cut()
        return count

    @property
    def data(self) -> bytes:  # urllib3's whole-body read fails as a whole, as it did live
        raise self._cut()


def _urllib3_patches(cassette: Any) -> list[tuple[Any, str, Any]]:
    library = _Library.load("urllib3.exceptions")
    if library is None:
        return []
    real_class = importlib.import_module("urllib3.connection").HTTPConnection

    def getresponse(connection: Any, *args: Any, **kwargs: Any) -> Any:
        if connection.cassette is not cassette:  # (another cassette's connection)
            return _GETRESPONSE(connection, *args, **kwargs)
        call = _Call(cassette, decoded=True)
        real = connection.__dict__.get("real_connection")
        tolerant = isinstance(real, real_class)
        if tolerant:  # read the live body as it streams in (urllib3's public request option)
            real_request, real_getresponse = real.request, real.getresponse
            real.__dict__["request"] = functools.partial(real_request, preload_content=False)
            real.__dict__["getresponse"] = lambda: _TolerantResponse(real_getresponse(), call, library)
        connection.__dict__["cassette"] = call  # (not setattr: VCRConnection copies that to `real`)
        try:
            response = _GETRESPONSE(connection, *args, **kwargs)
        finally:
            del connection.__dict__["cassette"]
            if tolerant:
                del real.__dict__["request"], real.__dict__["getresponse"]
        if call.error is not None:
            response.__class__ = _CutResponse
            response._cut = functools.partial(library.exception, call.error, url=_url_of(response))
        return response

    return [(VCRConnection, "getresponse", functools.wraps(_GETRESPONSE)(getresponse))]


def _url_of(response: Any) -> str | None:
    url = getattr(response, "url", None)
    return url if isinstance(url, str) else None


# --- aiohttp ----------------------------------------------------------------------------------------


def _aiohttp_patches() -> list[tuple[Any, str, Any]]:
    """aiohttp's replay cannot raise mid-body: a recording that ends in a transport error fails
    loudly there instead of replaying as a whole, successful response."""
    if importlib.util.find_spec("aiohttp") is None:
        return []
    stubs = importlib.import_module("vcr.stubs.aiohttp_stubs")
    real_build = stubs.build_response

    def build_response(vcr_request: Any, vcr_response: Any, history: Any) -> Any:
        error = vcr_response.get(TRANSPORT_ERROR_KEY) if isinstance(vcr_response, dict) else None
        if error is not None:
            from .._errors import LlamaVcrError

            source = vcr_response.get(SOURCE_KEY) or "a recording"
            raise LlamaVcrError(
                f"llama-vcr: {source} ends in a transport error ({error.get('type')}: "
                f"{error.get('message')}) that aiohttp's replay cannot reproduce after the body; "
                "replay it with httpx or requests, or re-record the test through aiohttp."
            )
        return real_build(vcr_request, vcr_response, history)

    return [(stubs, "build_response", functools.wraps(real_build)(build_response))]


def transport_patches(cassette: Any) -> list[tuple[Any, str, Any]]:
    """vcrpy ``custom_patches`` that record and replay cut bodies for ``cassette`` (those of the
    libraries that are installed and not in its ``skip_patchers``)."""
    skip = set(getattr(cassette, "skip_patchers", ()))
    patches = _urllib3_patches(cassette)
    if "aiohttp" not in skip:
        patches += _aiohttp_patches()
    for module in ("httpx", "httpx2"):
        if module not in skip:
            patches += _httpx_patches(cassette, module)
    return patches
