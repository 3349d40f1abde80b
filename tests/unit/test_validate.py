"""A recording is untrusted input: every corrupt one fails to load with a RecordingError naming the
file and the field, and every one that loads replays (``llama_vcr.format.validate``, ``_store``).

Valid recordings are made by the codec from wire responses; each class of corruption is applied to
one (a table), then random mutations (hypothesis): either the file loads and replays through vcrpy
and an HTTP client, or loading raises :class:`RecordingError` naming it, never anything else.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import vcr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vcr.request import Request

from conftest import OFFLINE_BASE_URL
from llama_vcr import CODEC, RecordingError, RecordingNotFound, recording_name
from llama_vcr._store import DEFAULT_MAX_FILE_SIZE, parse_size, read_document, read_recording
from llama_vcr._vcrpy import configure_vcr
from llama_vcr.format.strict_json import MAX_DEPTH, parse
from llama_vcr.format.wire import RecordingFormatError

TEST_ID = "tests/unit/test_validate.py::t"
HOST = "http://127.0.0.1:9"


# --- valid recordings, made by the codec ---------------------------------------------------------------


def _encode(
    method: str,
    path: str,
    body: Any,
    content_type: str,
    wire: bytes,
    status: int = 200,
    **headers: str,
) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = Request(method, HOST + path, data, {"content-type": "application/json"})
    response_headers = {"Content-Type": [content_type], **{k: [v] for k, v in headers.items()}}
    response = {
        "status": {"code": status, "message": ""},
        "headers": response_headers,
        "body": {"string": wire},
    }
    return json.loads(json.dumps(CODEC.encode(request, response, TEST_ID)))


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def _chunk(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
    }


CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello world"}]}


def chat() -> dict[str, Any]:
    return _encode(
        "POST", "/v1/chat/completions", CHAT, "application/json", json.dumps(_completion("hello")).encode()
    )


def chat_stream() -> dict[str, Any]:
    events = b"".join(b"data: " + json.dumps(_chunk(word)).encode() + b"\n\n" for word in ("hel", "lo"))
    body = {**CHAT, "stream": True}
    return _encode("POST", "/v1/chat/completions", body, "text/event-stream", events + b"data: [DONE]\n\n")


def event_stream() -> dict[str, Any]:
    """Named events, one of them not JSON (``{"__text__"}``), on an endpoint with no type rule."""
    events = b'event: start\ndata: {"n": 1}\n\nevent: note\ndata: not json\n\ndata: {"n": 2}\n\n'
    return _encode("POST", "/v1/custom/stream", {"q": 1}, "text/event-stream", events)


def ndjson_stream() -> dict[str, Any]:
    line = {
        "model": "m",
        "created_at": "2024-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": "hi"},
    }
    wire = b"".join(json.dumps({**line, "done": done}).encode() + b"\n" for done in (False, True))
    return _encode("POST", "/api/chat", {"model": "m", "messages": []}, "application/x-ndjson", wire)


def audio() -> dict[str, Any]:
    return _encode("POST", "/v1/audio/speech", {"input": "hi"}, "audio/mpeg", bytes(range(256)))


def text() -> dict[str, Any]:
    return _encode("GET", "/health", None, "text/plain", b"ok\n")


def models() -> dict[str, Any]:
    page = {"object": "list", "data": [{"id": "m1", "object": "model", "created": 1, "owned_by": "o"}]}
    return _encode("GET", "/v1/models", None, "application/json", json.dumps(page).encode())


def error() -> dict[str, Any]:
    body = {"error": {"message": "slow down", "type": "rate_limit"}}
    return _encode("POST", "/v1/chat/completions", CHAT, "application/json", json.dumps(body).encode(), 429)


VALID: dict[str, Callable[[], dict[str, Any]]] = {
    f.__name__: f for f in (chat, chat_stream, event_stream, ndjson_stream, audio, text, models, error)
}


# --- loading and replaying ---------------------------------------------------------------------------


def write(directory: Path, document: dict[str, Any], *, ensure_ascii: bool = False) -> Path:
    """``document`` as a file of a test's directory (named after its content when it can be)."""
    try:
        name = recording_name(document)
    except Exception:
        name = "0" * 64 + ".json"
    path = directory / name
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=ensure_ascii), encoding="utf-8")
    return path


def recorder() -> vcr.VCR:
    replaying = vcr.VCR(record_mode="none")
    configure_vcr(replaying, CODEC, TEST_ID)
    return replaying


def replay(directory: Path) -> list[tuple[int, bytes]]:
    """Every recording of ``directory`` replayed through vcrpy and an HTTP client: ``(status, body)``,
    checked against what the recording says."""
    played = []
    client = openai.DefaultHttpxClient()
    with recorder().use_cassette(str(directory)) as cassette:
        for request, response in zip(cassette.requests, cassette.responses, strict=True):
            # (a stored request's headers are never sent anywhere: only its method, URL and body match)
            answer = client.request(request.method, request.uri, content=request.body)
            answer.read()
            assert answer.status_code == response["status"]["code"]
            assert answer.content == response["body"]["string"]
            played.append((answer.status_code, answer.content))
    return played


def load_error(directory: Path) -> RecordingError:
    with pytest.raises(RecordingError) as info:
        replay(directory)
    return info.value


@pytest.mark.parametrize("name", VALID)
def test_valid_recordings_load_and_replay(tmp_path: Path, name: str) -> None:
    document = VALID[name]()
    write(tmp_path / "t", document)
    [(status, _)] = replay(tmp_path / "t")
    assert status == document["response"]["status"]


def test_a_valid_chat_replays_through_the_sdk(tmp_path: Path) -> None:
    write(tmp_path / "t", chat_stream())
    client = openai.OpenAI(base_url=OFFLINE_BASE_URL, api_key="sk-none", max_retries=0)
    with recorder().use_cassette(str(tmp_path / "t")):
        chunks = list(client.chat.completions.create(**CHAT, stream=True))  # type: ignore[call-overload]
    assert "".join(chunk.choices[0].delta.content for chunk in chunks) == "hello"


# --- each class of corruption -------------------------------------------------------------------------


class Edit:
    """A change to a recording's document (``Edit``) or to its file (:class:`FileEdit`)."""

    def __init__(self, change: Callable[[Any], None]) -> None:
        self.change = change

    def apply(self, path: Path, document: dict[str, Any]) -> None:
        self.change(document)
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")


class FileEdit(Edit):
    def apply(self, path: Path, document: dict[str, Any]) -> None:
        self.change(path)


def _set(where: str, value: Any) -> Edit:
    """Set (or, with ``...``, delete) the value at a dotted path (numbers index lists)."""

    def change(document: dict[str, Any]) -> None:
        *parents, last = where.split(".")
        target: Any = document
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key: Any = int(last) if isinstance(target, list) else last
        if value is ...:
            del target[key]
        else:
            target[key] = value

    return Edit(change)


def _text(change: Callable[[str], str]) -> FileEdit:
    return FileEdit(lambda path: path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8"))


def _replace(old: str, new: str) -> FileEdit:
    def change(text: str) -> str:
        assert old in text
        return text.replace(old, new, 1)

    return _text(change)


def _bytes(content: bytes) -> FileEdit:
    return FileEdit(lambda path: path.write_bytes(content))


def _symlink(target: str) -> FileEdit:
    def change(path: Path) -> None:
        path.unlink()
        path.symlink_to(target)

    return FileEdit(change)


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _latin1(path: Path) -> None:
    path.write_bytes(
        path.read_text(encoding="utf-8").replace("hello world", "h\u00e9llo world").encode("latin-1")
    )


def _deep(depth: int, after: str = '"model": "gpt-4o"') -> FileEdit:
    """Arrays nested ``depth`` deep, at the first ``after`` (the request body's model by default)."""
    return _replace(after, f'{after}, "x": ' + "[" * depth + "]" * depth)


def _legacy_error(status_code: Any) -> Edit:
    """llama-stack's layout for a recorded error: no ``status``, the code in ``exception_data``."""

    def change(document: dict[str, Any]) -> None:
        del document["response"]["status"]
        document["response"].update(is_exception=True, exception_data={"status_code": status_code})

    return Edit(change)


#: (id, base recording, corruption of the document or of the file, what the message says)
CORRUPTIONS: list[tuple[str, str, Any, str]] = [
    # the file
    ("empty", "chat", _bytes(b""), "the file is empty"),
    ("whitespace", "chat", _bytes(b"  \n\n "), "the file is empty"),
    ("truncated", "chat", _text(lambda t: t[: len(t) // 2]), "not valid JSON"),
    ("latin-1", "chat", FileEdit(_latin1), "not UTF-8 (invalid continuation byte at byte"),
    ("utf-16", "chat", FileEdit(lambda p: p.write_bytes(p.read_text().encode("utf-16"))), "not UTF-8"),
    ("bom", "chat", FileEdit(lambda p: p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())), "byte order mark"),
    ("array", "chat", _bytes(b"[]"), "no 'request' object"),
    ("null", "chat", _bytes(b"null"), "no 'request' object"),
    (
        "symlink to a file outside",
        "chat",
        _symlink("/etc/passwd"),
        "a symbolic link to '/etc/passwd', outside",
    ),
    ("symlink to a directory outside", "chat", _symlink("/etc"), "a symbolic link to '/etc', outside"),
    ("dangling symlink", "chat", _symlink("/nonexistent/x.json"), "a symbolic link to '/nonexistent/x.json'"),
    ("symlink to a device", "chat", _symlink("/dev/zero"), "a symbolic link to '/dev/zero', outside"),
    ("fifo", "chat", FileEdit(_fifo), "a FIFO (named pipe), not a regular file"),
    # JSON
    (
        "NaN",
        "chat",
        _replace('"prompt_tokens": 3', '"prompt_tokens": NaN'),
        "usage.prompt_tokens: NaN is not a JSON number",
    ),
    (
        "Infinity",
        "chat",
        _replace('"total_tokens": 5', '"total_tokens": -Infinity'),
        "usage.total_tokens: -Infinity is not a JSON number",
    ),
    (
        "duplicate key",
        "chat",
        _replace('"test_id"', '"response": 1, "test_id"'),
        "the top-level object: duplicate key 'response'",
    ),
    (
        "nested duplicate key",
        "chat",
        _replace('"prompt_tokens": 3', '"prompt_tokens": 3, "prompt_tokens": 4'),
        "response.body.__data__.usage: duplicate key 'prompt_tokens'",
    ),
    (
        "nesting 3,000 deep",
        "chat",
        _deep(3000),
        "request.body.x[0][0][0]…: arrays and objects nested more than 100 levels deep",
    ),
    (
        "nesting 100,000 deep",
        "chat",
        _deep(100_000, '"object": "chat.completion"'),
        "response.body.__data__.x[0][0]…: arrays and objects nested more than 100 levels deep",
    ),
    (
        "recorded_at 1e999",
        "chat",
        _replace('"test_id"', '"recorded_at": 1e999, "test_id"'),
        "recorded_at: inf is not a date",
    ),
    ("nesting 101 deep", "chat", _deep(MAX_DEPTH - 2), "nested more than 100 levels deep"),
    (
        "a number of 5,000 digits",
        "chat",
        _replace('"prompt_tokens": 3', '"prompt_tokens": ' + "9" * 5000),
        "a number with more than 4300 digits",
    ),
    # the envelope of the document
    ("no response", "chat", _set("response", ...), "no 'response' object"),
    ("no body", "chat", _set("response.body", ...), "response.body: missing"),
    (
        "is_streaming a string",
        "chat_stream",
        _set("response.is_streaming", "true"),
        "response.is_streaming: 'true' is a string, not a boolean",
    ),
    (
        "sse_done a string",
        "chat_stream",
        _set("response.sse_done", "no"),
        "response.sse_done: 'no' is a string, not a boolean",
    ),
    (
        "stream body an object",
        "chat_stream",
        _set("response.body", {"a": 1}),
        "response.body: {'a': 1} is an object: a streaming response's 'body' must be a list",
    ),
    ("no method", "chat", _set("request.method", ...), "request.method: missing"),
    ("method a number", "chat", _set("request.method", 7), "request.method: 7 is a number, not a string"),
    (
        "method lower case",
        "chat",
        _set("request.method", "post"),
        "request.method: 'post' is not an HTTP method",
    ),
    ("no url", "chat", _set("request.url", ...), "request.url: missing"),
    ("url a number", "chat", _set("request.url", 12), "request.url: 12 is a number, not a string"),
    (
        "url not http",
        "chat",
        _set("request.url", "file:///etc/passwd"),
        "request.url: 'file:///etc/passwd' is not an http:// or https:// URL",
    ),
    (
        "url with a bad port",
        "chat",
        _set("request.url", "http://h:99999999/v1"),
        "request.url: 'http://h:99999999/v1' is not a URL",
    ),
    (
        "url with spaces",
        "chat",
        _set("request.url", "http://h/a b"),
        "is not a URL (printable ASCII with no spaces)",
    ),
    (
        "request headers a list",
        "chat",
        _set("request.headers", ["content-type"]),
        "request.headers: ['content-type'] is an array",
    ),
    (
        "request header a number",
        "chat",
        _set("request.headers.content-type", 5),
        "request.headers.content-type: 5 is a number, not a header value",
    ),
    (
        "request header an empty list",
        "chat",
        _set("request.headers.content-type", []),
        "request.headers.content-type: an empty list of values",
    ),
    (
        "request body bad base64",
        "chat",
        _set("request.body", {"__bytes__": "!!!"}),
        "request.body.__bytes__: '!!!' is not valid base64",
    ),
    (
        "endpoint a number",
        "chat",
        _set("request.endpoint", 1),
        "request.endpoint: 1 is a number, not a string or null",
    ),
    (
        "model a list",
        "chat",
        _set("request.model", ["m"]),
        "request.model: ['m'] is an array, not a string or null",
    ),
    ("test_id a number", "chat", _set("test_id", 1), "test_id: 1 is a number, not a string or null"),
    ("occurrence a string", "chat", _set("occurrence", "2"), "occurrence: '2' is not a positive integer"),
    ("position a string", "chat", _set("position", "1"), "position: '1' is not a positive integer"),
    ("position zero", "chat", _set("position", 0), "position: 0 is not a positive integer"),
    ("position a boolean", "chat", _set("position", True), "position: True is not a positive integer"),
    ("position a float", "chat", _set("position", 1.0), "position: 1.0 is not a positive integer"),
    (
        "recorded_at a list",
        "chat",
        _set("recorded_at", []),
        "recorded_at: [] is an array, not a string or a number",
    ),
    (
        "status a string",
        "chat",
        _set("response.status", "OK"),
        "response.status: 'OK' is not an HTTP status code",
    ),
    (
        "status 99999",
        "chat",
        _set("response.status", 99999),
        "response.status: 99999 is not an HTTP status code",
    ),
    ("status 99", "chat", _set("response.status", 99), "response.status: 99 is not an HTTP status code"),
    (
        "status true",
        "chat",
        _set("response.status", True),
        "response.status: True is not an HTTP status code",
    ),
    (
        "status 1e999",
        "chat",
        _replace('"status": 200', '"status": 1e999'),
        "response.status: inf is not an HTTP status code",
    ),
    (
        "response headers a list",
        "chat",
        _set("response.headers", ["x"]),
        "response.headers: ['x'] is an array",
    ),
    (
        "response header not ASCII",
        "chat",
        _set("response.headers.x-request-id", "café"),
        "response.headers.x-request-id: 'café' is not an HTTP header value",
    ),
    (
        "response header with a line break",
        "chat",
        _set("response.headers.content-type", "a\r\nb: c"),
        "is not an HTTP header value",
    ),
    (
        "response header name with a space",
        "chat",
        _set("response.headers", {"content type": "x"}),
        "'content type' is not an HTTP header name",
    ),
    (
        "llama-stack status_code a string",
        "chat",
        _legacy_error("x"),
        "response.exception_data.status_code: 'x' is not an HTTP status code",
    ),
    (
        "llama-stack status_code 1e999",
        "chat",
        _legacy_error(1e999),
        "response.exception_data.status_code: Infinity is not a JSON number",
    ),
    # stored values
    (
        "unknown __type__",
        "chat",
        _set("response.body.__type__", "openai.types.chat.NoSuchClass"),
        "unknown __type__ 'openai.types.chat.NoSuchClass'",
    ),
    ("__type__ a list", "chat", _set("response.body.__type__", ["openai"]), "is not a dotted class name"),
    ("__type__ a number", "chat", _set("response.body.__type__", 5), "is not a dotted class name"),
    (
        "__type__ os.system",
        "chat",
        _set("response.body.__type__", "os.system"),
        "'os.system' is not in an allowed SDK package",
    ),
    (
        "envelope without __data__",
        "chat",
        _set("response.body.__data__", ...),
        "response.body: an envelope with '__type__' needs '__data__'",
    ),
    (
        "envelope with an extra key",
        "chat",
        _set("response.body.__text__", "x"),
        "response.body: unexpected key",
    ),
    (
        "envelope data not an object",
        "chat",
        _set("response.body.__data__", 5),
        "response.body.__data__: 5 is a number, not the JSON object the SDK expects",
    ),
    (
        "typed body not an object",
        "chat",
        _set("response.body", [1]),
        "response.body: [1] is an array, not the JSON object the SDK expects",
    ),
    (
        "bad __bytes__ base64",
        "audio",
        _set("response.body.__bytes__", "!!!not base64!!!"),
        "response.body.__bytes__: '!!!not base64!!!' is not valid base64",
    ),
    (
        "__bytes__ a number",
        "audio",
        _set("response.body.__bytes__", 5),
        "response.body.__bytes__: 5 is a number, not a base64 string",
    ),
    (
        "__text__ a number",
        "text",
        _set("response.body.__text__", 5),
        "response.body.__text__: 5 is a number, not a string",
    ),
    (
        "__text__ with a lone surrogate",
        "text",
        _set("response.body.__text__", "\ud800"),
        "response.body.__text__: contains a lone surrogate",
    ),
    (
        "page item without __data__",
        "models",
        _set("response.body.data.0.__data__", ...),
        "response.body.data[0]: an envelope with '__type__' needs '__data__'",
    ),
    (
        "__event__ a number",
        "event_stream",
        _set("response.body.0.__event__", 7),
        "response.body[0].__event__: 7 is a number, not a string",
    ),
    (
        "__event__ with a line break",
        "event_stream",
        _set("response.body.0.__event__", "a\ndata: x"),
        "an event name cannot contain a line break",
    ),
    (
        "chunk a number",
        "chat_stream",
        _set("response.body.0", 5),
        "response.body[0]: 5 is a number, not the JSON object the SDK expects of a chunk",
    ),
    (
        "chunk data a string",
        "chat_stream",
        _set("response.body.1.__data__", "x"),
        "response.body[1].__data__: 'x' is a string, not the JSON object",
    ),
    (
        "chunk of bytes",
        "event_stream",
        _set("response.body.0", {"__bytes__": "AA=="}),
        "response.body[0].__bytes__: a stream chunk cannot be bytes",
    ),
    (
        "untyped chunk without __event__",
        "event_stream",
        _set("response.body.2", {"__data__": {"n": 2}}),
        "response.body[2]: '__data__' without '__type__' or '__event__'",
    ),
    (
        "untyped chunk with an unknown reason",
        "event_stream",
        _set("response.body.2", {"__data__": {"n": 2}, "__event__": "x", "__untyped__": "because"}),
        "response.body[2].__untyped__: 'because' is not one of error, invalid, skipped, unavailable",
    ),
    (
        "NDJSON text with a line break",
        "ndjson_stream",
        _set("response.body.0", {"__text__": "a\nb"}),
        "response.body[0].__text__: an NDJSON line cannot contain a line break",
    ),
]


@pytest.mark.parametrize(
    ("base", "corrupt", "message"), [c[1:] for c in CORRUPTIONS], ids=[c[0] for c in CORRUPTIONS]
)
def test_each_class_of_corruption_fails_to_load_naming_the_file_and_the_field(
    tmp_path: Path, base: str, corrupt: Edit, message: str
) -> None:
    document = VALID[base]()
    path = write(tmp_path / "t", document)
    corrupt.apply(path, document)
    error = load_error(tmp_path / "t")
    assert error.path == path
    assert str(path) in str(error) and message in error.problem, error.problem


# --- what loads and replays --------------------------------------------------------------------------


def test_nesting_up_to_the_limit_loads_and_replays_through_the_sdk(tmp_path: Path) -> None:
    """100 levels, the document itself being the first: the response body reaches the SDK intact."""
    document = chat()
    deep: Any = "bottom"
    for _ in range(MAX_DEPTH - 4):  # document > response > body > __data__ > metadata[0] ... = 100
        deep = [deep]
    document["response"]["body"]["__data__"]["metadata"] = deep
    write(tmp_path / "t", document)
    client = openai.OpenAI(base_url=OFFLINE_BASE_URL, api_key="sk-none", max_retries=0)
    with recorder().use_cassette(str(tmp_path / "t")):
        reply = client.chat.completions.create(**CHAT)  # type: ignore[call-overload]
    assert reply.choices[0].message.content == "hello"
    deep[0] = [deep[0]]  # one more level
    write(tmp_path / "u", document)
    assert "nested more than 100 levels deep" in load_error(tmp_path / "u").problem


def test_a_lone_surrogate_replays_as_the_json_escape_the_server_sent(tmp_path: Path) -> None:
    document = chat()
    document["response"]["body"]["__data__"]["choices"][0]["message"]["content"] = "a\ud800b"
    write(tmp_path / "t", document, ensure_ascii=True)
    [(_, body)] = replay(tmp_path / "t")
    assert b'"a\\ud800b"' in body


def test_multi_line_text_events_replay_as_one_data_line_each(tmp_path: Path) -> None:
    document = event_stream()
    document["response"]["body"][1]["__text__"] = "line 1\nline 2\r\nline 3"
    write(tmp_path / "t", document)
    [(_, body)] = replay(tmp_path / "t")
    assert b"event: note\ndata: line 1\ndata: line 2\ndata: line 3\n\n" in body


def test_numbers_too_large_for_a_float_load_as_infinity(tmp_path: Path) -> None:
    """``1e999`` is valid JSON (no range limit); replay writes what Python's json reads back."""
    path = write(tmp_path / "t", chat())
    path.write_text(
        path.read_text().replace('"prompt_tokens": 3', '"prompt_tokens": 1e999'), encoding="utf-8"
    )
    [(_, body)] = replay(tmp_path / "t")
    assert json.loads(body)["usage"]["prompt_tokens"] == float("inf")


def test_symlinks_inside_the_cassette_directory_are_followed(tmp_path: Path) -> None:
    shared = write(tmp_path / "shared", chat())
    own = tmp_path / "t"
    own.mkdir()
    (own / shared.name).symlink_to(Path("..") / "shared" / shared.name)
    persister_root = tmp_path  # what the plugin sets: the cassette root
    assert read_document(own / shared.name, CODEC, root=persister_root)["test_id"] == TEST_ID
    with pytest.raises(RecordingError, match="outside"):  # (the default root: the file's own directory)
        read_document(own / shared.name, CODEC)


def test_a_test_directory_linked_outside_the_cassette_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, chat())
    root = tmp_path / "cassettes"
    root.mkdir()
    (root / "t").symlink_to(outside)
    [path] = list((root / "t").glob("*.json"))
    with pytest.raises(RecordingError, match="in a linked directory"):
        read_document(path, CODEC, root=root)


# --- file size ----------------------------------------------------------------------------------------


def test_a_file_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = write(tmp_path / "t", chat())
    size = path.stat().st_size
    assert read_recording(path, max_size=size) == path.read_bytes()
    with pytest.raises(RecordingError, match=rf"{size} bytes, larger than the 1 KiB limit \(ini option"):
        read_recording(path, max_size=1024)
    assert DEFAULT_MAX_FILE_SIZE == 64 * 1024 * 1024


@pytest.mark.parametrize(
    ("text", "size"),
    [("64M", 64 << 20), ("512KiB", 512 << 10), ("1g", 1 << 30), ("1000", 1000), ("10 MB", 10 << 20)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "-1", "1.5M", "64X", "lots"])
def test_not_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


def test_the_ini_option_limits_the_size_of_recordings(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllama_vcr_max_file_size = 1K\n")
    pytester.makepyfile(
        test_big="""
        import pytest

        @pytest.mark.vcr
        def test_big():
            pass
        """
    )
    path = write(pytester.path / "cassettes" / "test_big" / "test_big", chat())
    path.write_text(path.read_text() + " " * 2048, encoding="utf-8")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-n0", "--record-mode=none")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*cannot load recording {path}: * bytes, larger than the 1 KiB limit*"])
    pytester.makeini("[pytest]\nllama_vcr_max_file_size = lots\n")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-n0", "--record-mode=none")
    result.stderr.fnmatch_lines(["*llama_vcr_max_file_size: not a size in bytes*"])


# --- strict JSON ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1, "a": 1}', "the top-level object: duplicate key 'a'"),
        ('{"a": [{"b": 1}, {"c": 2, "c": 3}]}', "a[1]: duplicate key 'c'"),
        ('{"a b": {"c": NaN}}', "['a b'].c: NaN is not a JSON number"),
        ("[Infinity]", "[0]: Infinity is not a JSON number"),
        (
            '{"a": ' + "[" * 200 + "]" * 200 + "}",
            "a[0][0][0][0][0]…: arrays and objects nested more than 100",
        ),
        ('{"a": "' + "[" * 200 + '"}', ""),  # brackets inside a string are not nesting
    ],
)
def test_strict_json(text: str, message: str) -> None:
    if not message:
        assert parse(text) == {"a": "[" * 200}
        return
    with pytest.raises(RecordingFormatError) as info:
        parse(text)
    assert message in str(info.value)


# --- random corruption ---------------------------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2)
    | st.sampled_from(
        [
            "GET",
            "POST",
            "http://h/v1/x",
            "!!",
            "AAAA",
            "text/event-stream",
            "application/x-ndjson",
            "\x1b[31m",
        ]
    )
    | st.sampled_from([100, 200, 204, 301, 404, 429, 500, 599, 600, 0, -1])
)
MARKER_KEYS = ["__type__", "__data__", "__text__", "__bytes__", "__event__"]
FIELD_KEYS = [
    "status",
    "headers",
    "body",
    "is_streaming",
    "sse_done",
    "url",
    "method",
    "content-type",
    "data",
]
KEYS = st.sampled_from(MARKER_KEYS + FIELD_KEYS) | st.text(max_size=6)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)


def _containers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, (dict, list)):
        yield path, value
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            yield from _containers(item, (*path, key))


@st.composite
def mutated(draw: st.DrawFn, bases: tuple[str, ...] = (), part: str = "") -> tuple[dict[str, Any], bool]:
    """A valid recording (one of ``bases``, default any) with 1 to 3 random changes (a value
    replaced, a key removed or added) anywhere, or only in ``part`` of it. And whether to write it
    with ASCII escapes."""
    document = copy.deepcopy(draw(st.sampled_from([BASES[list(VALID).index(b)] for b in bases] or BASES)))
    for _ in range(draw(st.integers(1, 3))):
        places = list(_containers(document[part] if part else document))
        _, container = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if isinstance(container, dict):
            if action == "add" or not container:
                container[draw(KEYS)] = draw(JSON)
            else:
                key = draw(st.sampled_from(sorted(container)))
                if action == "delete":
                    del container[key]
                else:
                    container[key] = draw(JSON)
        elif container and action != "add":
            index = draw(st.integers(0, len(container) - 1))
            if action == "delete":
                del container[index]
            else:
                container[index] = draw(JSON)
        else:
            container.append(draw(JSON))
    return document, draw(st.booleans())


BASES = [factory() for factory in VALID.values()]


def _write_any(directory: Path, document: dict[str, Any], ascii_only: bool) -> Path:
    directory.mkdir()
    path = directory / ("0" * 64 + ".json")
    try:
        path.write_text(json.dumps(document, ensure_ascii=ascii_only), encoding="utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only its escape can be written
        path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _loads_and_replays_or_names_the_file(directory: Path, path: Path) -> None:
    try:
        replay(directory)
    except RecordingError as exc:
        assert exc.path == path and str(path) in str(exc)


FOREIGN = "ignore:.*recorded by another test"  # (a changed test_id: the file is another test's)


@pytest.mark.filterwarnings(FOREIGN)
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_randomly_changed_recording_loads_and_replays_or_fails_naming_the_file(
    case: tuple[dict[str, Any], bool],
) -> None:
    document, ascii_only = case
    with tempfile.TemporaryDirectory() as tmp:
        path = _write_any(Path(tmp) / "t", document, ascii_only)
        _loads_and_replays_or_names_the_file(path.parent, path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(bases=("chat", "chat_stream", "error"), part="response"))
def test_a_randomly_changed_response_replays_through_the_sdk_or_fails_to_load(
    case: tuple[dict[str, Any], bool],
) -> None:
    """Through the openai SDK: the call returns, or raises the SDK's error for an HTTP error status
    or an error event (what the server said), or the recording fails to load naming the file;
    never anything else (a TypeError or a JSON error deep inside the SDK, a connection error)."""
    document, ascii_only = case
    stream = document["request"]["body"].get("stream", False)
    client = openai.OpenAI(base_url=OFFLINE_BASE_URL, api_key="sk-none", max_retries=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = _write_any(Path(tmp) / "t", document, ascii_only)
        try:
            with recorder().use_cassette(str(path.parent)):
                if stream:
                    list(client.chat.completions.create(**CHAT, stream=True))  # type: ignore[call-overload]
                else:
                    client.chat.completions.create(**CHAT)  # type: ignore[call-overload]
        except RecordingError as exc:
            assert exc.path == path
        except RecordingNotFound:  # a change that makes the request another one (no "status": a
            pass  # llama-stack file, whose URL is rewritten): a replay miss, explained
        except openai.APIError as exc:
            assert not isinstance(exc, openai.APIConnectionError), repr(exc.__cause__ or exc)


@pytest.mark.filterwarnings(FOREIGN)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(list(VALID)),
    cuts=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 40), st.binary(max_size=6)), min_size=1, max_size=3
    ),
)
def test_a_randomly_damaged_file_loads_and_replays_or_fails_naming_the_file(
    base: str, cuts: list[tuple[float, int, bytes]]
) -> None:
    """Bytes of the file removed and inserted anywhere (truncation, stray bytes, broken UTF-8)."""
    data = json.dumps(BASES[list(VALID).index(base)], indent=2).encode()
    for where, length, inserted in cuts:
        at = int(where * len(data))
        data = data[:at] + inserted + data[at + length :]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "t"
        directory.mkdir()
        path = directory / ("0" * 64 + ".json")
        path.write_bytes(data)
        _loads_and_replays_or_names_the_file(directory, path)


def test_base64_with_a_bad_length_or_alphabet_is_refused() -> None:
    good = base64.b64encode(b"abc").decode()
    document = audio()
    for bad in (good[:-1], good + "=", "a" * 5, "ab+/cd_-", "YQ==YQ=="):
        document["response"]["body"]["__bytes__"] = bad
        with pytest.raises(RecordingFormatError, match="is not valid base64"):
            CODEC.decode(document)


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(st.sampled_from("ab\u00e9"), max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("xyz"), inner, max_size=3),
    max_leaves=15,
)


@given(_VALUES)
def test_a_parsed_recording_holds_each_string_value_of_its_objects_once(value: Any) -> None:
    """A stream's 100,000 chunks repeat their type name, model and ids: parsed, the objects share
    one string per value (a third of a big stream's memory), and the value is what JSON says."""
    text = json.dumps({"a": value, "b": [value, {"c": value}], "d": "same", "e": {"f": "same"}})
    parsed = parse(text)
    assert parsed == json.loads(text)
    assert parsed["d"] is parsed["e"]["f"]
    strings: dict[str, str] = {}

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            for inner in item.values():
                if isinstance(inner, str):
                    assert strings.setdefault(inner, inner) is inner
                walk(inner)
        elif isinstance(item, list):
            for inner in item:
                walk(inner)

    walk(parsed)
