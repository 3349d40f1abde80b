"""Secrets, end to end: generated requests and responses with a key (and other credentials) in
every placement are recorded through vcrpy with llama-vcr's hooks, then replayed with the same
key, another key, or none set; nothing on disk or in anything llama-vcr prints holds a secret.

Driven in-process (vcrpy's cassette directly, the CLI through ``main``), like
``tests/providers/support.py``, so a thousand examples take seconds, not a pytest run each.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus, urlencode

import pytest
import vcr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vcr.request import Request

from llama_vcr import RecordingCodec, RecordingNotFound, recording_files
from llama_vcr._canonical import Canonicalizer
from llama_vcr._redact import Redactor
from llama_vcr._vcrpy import configure_vcr
from llama_vcr.cli import main

TEST_ID = "tests/test_app.py::test_agent"
#: A provider's variable, and one secret only by its name (``*_TOKEN``).
ENV_NAMES = ("OPENAI_API_KEY", "LLAMA_VCR_IT_SERVICE_TOKEN")
BOUNDARY = "llamavcrboundary7MA4YWxkTrZu0gW"

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_random = st.text(alphabet=_ALNUM + "-_", min_size=20, max_size=40).filter(
    lambda s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s)
)
keys = st.tuples(st.sampled_from(["", "sk-", "sk-proj-", "sk-ant-api03-"]), _random).map("".join)
#: Credentials that are in no environment variable: found by their field name or URL parameter.
others = _random.map(lambda s: "o" + s)

REQUEST_PLACES = (
    "x-api-key",
    "query-secret",
    "query-plain",
    "path",
    "body-named",
    "body-plain",
    "body-nested",
    "body-basic",
    "tool-arguments",
    "presigned-url",
    "named-other",
)
RESPONSE_PLACES = ("echo-401", "response-text", "response-named", "response-url", "stream")


@dataclass(frozen=True)
class Case:
    key: str
    other: str
    signature: str
    env: str
    request_places: frozenset[str]
    response_places: frozenset[str]
    body_kind: str  # json, form, multipart


cases = st.builds(
    Case,
    key=keys,
    other=others,
    signature=others,
    env=st.sampled_from(ENV_NAMES),
    request_places=st.frozensets(st.sampled_from(REQUEST_PLACES)),
    response_places=st.frozensets(st.sampled_from(RESPONSE_PLACES)),
    body_kind=st.sampled_from(["json", "json", "form", "multipart"]),
)


def build_request(case: Case, key: str, prompt: str = "hi") -> Request:
    """What a client sends: the key always in ``Authorization`` (the SDK), and in the case's places."""
    places = case.request_places
    headers = {"Authorization": f"Bearer {key}", "User-Agent": "OpenAI/Python 3.57.0"}
    if "x-api-key" in places:
        headers["x-api-key"] = key
    path = f"/v1/tenants/{key}/chat/completions" if "path" in places else "/v1/chat/completions"
    query = []
    if "query-secret" in places:
        query.append(("api_key", key))
    if "query-plain" in places:
        query.append(("q", key))
    url = "https://api.example.com" + path + ("?" + urlencode(query) if query else "")
    fields: dict[str, object] = {"model": "gpt-4o-mini", "prompt": prompt, "max_tokens": 16}
    if "body-named" in places:
        fields["provider_data"] = {"openai_api_key": key}
    if "body-plain" in places:
        fields["user"] = key
    if "body-nested" in places:
        fields["metadata"] = {"note": f"key={key};", "auth_header": f"Basic {b64(f'me:{key}')}"}
    if "body-basic" in places:
        fields["upstream"] = f"Authorization: Basic {b64(f'user:{key}')}"
    if "tool-arguments" in places:
        fields["tool_args"] = json.dumps({"city": "Paris", "api_key": key})
    if "presigned-url" in places:
        fields["image_url"] = presigned(case)
    if "named-other" in places:
        fields["client_secret"] = case.other
        fields["password"] = case.other
    if case.body_kind == "form":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return Request("POST", url, urlencode(flat(fields)).encode(), headers)
    if case.body_kind == "multipart":
        headers["Content-Type"] = f"multipart/form-data; boundary={BOUNDARY}"
        file = b"\x89PNG\r\n\x00\xff" + key.encode() + b"\x00\xfe"  # binary: stored as base64
        return Request("POST", url, multipart(list(flat(fields).items()), file), headers)
    headers["Content-Type"] = "application/json"
    return Request("POST", url, json.dumps(fields).encode(), headers)


def flat(fields: dict[str, object]) -> dict[str, str]:
    return {name: value if isinstance(value, str) else json.dumps(value) for name, value in fields.items()}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def presigned(case: Case) -> str:
    return (
        f"https://bucket.s3.amazonaws.com/in.png?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential=AKIA{case.signature[:16].upper()}%2F20240101&X-Amz-Signature={case.signature}"
        f"&X-Amz-Security-Token={case.other}&X-Amz-Expires=600"
    )


def multipart(fields: list[tuple[str, str]], file: bytes) -> bytes:
    out = b""
    for name, value in fields:
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    out += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode() + file
    return out + f"\r\n--{BOUNDARY}--\r\n".encode()


def build_response(case: Case, key: str) -> dict[str, object]:
    places = case.response_places
    if "echo-401" in places:
        error = {"message": f"Incorrect API key provided: {key}. Not sk-proj-****{key[-4:]} either."}
        return respond(401, "application/json", json.dumps({"error": error}).encode())
    message: dict[str, object] = {"role": "assistant", "content": "Hello"}
    if "response-text" in places:
        message["content"] = f"Your key {key} is safe with me."
        if "named-other" in case.request_places:  # an echo of a credential the request sent by name
            message["content"] += f" And your password {case.other}."
    if "response-named" in places:
        message["access_token"] = case.other
        message["refresh_token"] = key
    if "response-url" in places:
        message["image"] = presigned(case)
    reply = {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini", "choices": [message]}
    if "stream" in places:
        chunks = [{"id": "chatcmpl-1", "choices": [{"delta": message}]}, {"id": "chatcmpl-1", "choices": []}]
        text = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
        return respond(200, "text/event-stream", text.encode())
    return respond(200, "application/json", json.dumps(reply).encode())


def respond(status: int, content_type: str, body: bytes) -> dict[str, object]:
    return {
        "status": {"code": status, "message": ""},
        "headers": {"content-type": [content_type], "set-cookie": ["session=s3cr3t-c00kie-value"]},
        "body": {"string": body},
    }


def forms(secret: str) -> set[str]:
    """How a secret can show: raw, URL- or JSON-encoded, base64 at any alignment (middle part)."""
    found = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    for prefix in (b"", b"u:", b"us:", b"\x00"):
        encoded = base64.b64encode(prefix + secret.encode()).decode()
        found.add(encoded[4:-4])
        found.add(encoded[4:-4].replace("+", "-").replace("/", "_"))
    return found


def secrets_of(case: Case, *keys: str) -> set[str]:
    values = {*keys, case.other, case.signature, "s3cr3t-c00kie-value"}
    return {form for value in values for form in forms(value)}


def leaks(text: str, secrets: set[str]) -> list[str]:
    return [secret for secret in secrets if secret in text]


def codec() -> RecordingCodec:
    """A new session's codec (``pytest_configure`` builds its policy from the environment)."""
    return RecordingCodec(Canonicalizer(Redactor.from_names()))


def recorder(mode: str) -> vcr.VCR:
    made = vcr.VCR(record_mode=mode)
    configure_vcr(made, codec(), TEST_ID)
    return made


def cli(*argv: object) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([str(arg) for arg in argv])
    return code, out.getvalue()


def check_case(case: Case, replay_key_differs: bool, record_env: bool, replay_env: bool) -> None:
    key = case.key
    replay_key = key[::-1] + "Z9" if replay_key_differs else key
    secrets = secrets_of(case, key, replay_key)
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as env:
        directory = Path(tmp, "test_agent")
        printed: list[str] = []
        # record (the key in the environment, or only given to the client)
        env.delenv(case.env, raising=False)
        if record_env:
            env.setenv(case.env, key)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with recorder("new_episodes").use_cassette(str(directory)) as cassette:
                cassette.append(build_request(case, key), build_response(case, key))
        printed += [str(warning.message) for warning in caught]
        [path] = recording_files(directory)
        text = path.read_text(encoding="utf-8")
        assert leaks(text, secrets) == [], f"on disk: {text}"

        # replay (the same key or another; set in the environment or not) and print
        env.delenv(case.env, raising=False)
        if replay_env:
            env.setenv(case.env, replay_key)
        with recorder("none").use_cassette(str(directory)) as cassette:
            assert cassette.can_play_response_for(build_request(case, replay_key))
            with pytest.raises(RecordingNotFound) as miss:
                cassette.can_play_response_for(build_request(case, replay_key, prompt="hi there"))
        printed.append(str(miss.value))
        assert "closest recording: " in str(miss.value)  # (with the near-miss diff)
        for argv in (("show", path), ("show", "--json", path), ("verify", directory)):
            code, out = cli(*argv)
            assert code == 0, out
            printed.append(out)
        printed_text = "\n".join(printed)
        assert leaks(printed_text, secrets) == [], printed_text


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases, replay_key_differs=st.booleans(), record_env=st.booleans(), replay_env=st.booleans())
def test_no_secret_reaches_disk_or_output_and_every_recording_replays(
    case: Case, replay_key_differs: bool, record_env: bool, replay_env: bool
) -> None:
    check_case(case, replay_key_differs, record_env, replay_env)


def test_every_placement_at_once_with_a_key_set_at_record_and_absent_at_replay() -> None:
    case = Case(
        key="sk-proj-Abc123def456GHI789jkl012",
        other="oTher0123456789secretValue",
        signature="oSig0123456789abcdefABCDEF",
        env="LLAMA_VCR_IT_SERVICE_TOKEN",
        request_places=frozenset(REQUEST_PLACES),
        response_places=frozenset(RESPONSE_PLACES) - {"echo-401"},
        body_kind="json",
    )
    for body_kind in ("json", "form", "multipart"):
        check_case(Case(**{**case.__dict__, "body_kind": body_kind}), True, True, False)


def test_the_secret_redacted_warning_names_the_variable_and_the_recording_still_replays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-proj-REALSECRET0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    body = {"model": "m", "provider_data": {"openai_api_key": key}, "user": key}
    request = Request("POST", "http://h/v1/chat/completions", json.dumps(body).encode(), {})
    warned = pytest.warns(UserWarning, match=r"the value of \$OPENAI_API_KEY was found in .* replays")
    with warned, recorder("new_episodes").use_cassette(str(tmp_path / "t")) as cassette:
        cassette.append(request, respond(200, "application/json", b"{}"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-ANOTHERKEY0123456789abcdef")
    body = {"model": "m", "provider_data": {"openai_api_key": "sk-proj-ANOTHERKEY0123456789abcdef"}}
    body["user"] = body["provider_data"]["openai_api_key"]
    with recorder("none").use_cassette(str(tmp_path / "t")) as cassette:
        assert cassette.can_play_response_for(
            Request("POST", "http://h/v1/chat/completions", json.dumps(body).encode(), {})
        )


def test_replay_with_the_key_in_a_body_passes_and_junit_xml_holds_no_secret(
    pytester: pytest.Pytester, provider_server: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9's reproducer as a user runs it: record, then replay with the same, another, no key."""
    key = "sk-proj-REALSECRET0123456789abcdef"
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(
        test_key=f'''
import os, openai, pytest

@pytest.mark.vcr
def test_key_in_body(record_mode):
    key = os.environ.get("OPENAI_API_KEY", "sk-fallback-key-for-ci-000000")
    base = "{provider_server.base_url}" if record_mode != "none" else "http://127.0.0.1:9/v1"
    client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{{"role": "user", "content": "hi " + key}}],
        extra_body={{"provider_data": {{"openai_api_key": key}}}},
    )
    assert reply.choices[0].message.content

@pytest.mark.vcr
def test_changed_prompt(record_mode):
    key = os.environ.get("OPENAI_API_KEY", "sk-fallback-key-for-ci-000000")
    base = "{provider_server.base_url}" if record_mode != "none" else "http://127.0.0.1:9/v1"
    client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
    prompt = "hi" if record_mode != "none" else "hello"
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{{"role": "user", "content": prompt}}],
        extra_body={{"provider_data": {{"openai_api_key": key}}, "note": "key " + key}},
    )
'''
    )
    monkeypatch.setenv("OPENAI_API_KEY", key)
    pytester.runpytest("-p", "no:xdist", "--record-mode=once").assert_outcomes(passed=2, warnings=2)
    on_disk = "".join(p.read_text() for p in pytester.path.rglob("*.json"))
    assert "REALSECRET" not in on_disk
    for replay_key in (key, "sk-proj-DIFFERENT0123456789abcdef", None):
        if replay_key is None:
            monkeypatch.delenv("OPENAI_API_KEY")
        else:
            monkeypatch.setenv("OPENAI_API_KEY", replay_key)
        result = pytester.runpytest("-p", "no:xdist", "--record-mode=none", "--junitxml=r.xml", "-l")
        result.assert_outcomes(passed=1, failed=1)  # test_changed_prompt's prompt changed
        output = result.stdout.str() + (pytester.path / "r.xml").read_text()
        assert "no recording matches POST /v1/chat/completions" in output
        for secret in (key, replay_key or key):
            assert secret not in output and secret[8:] not in output


def test_verify_flags_secret_shapes_and_fields_and_show_masks_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recordings written before this policy (or by hand) are caught by ``verify``; ``show`` masks."""
    monkeypatch.chdir(tmp_path)
    key = "sk-proj-Abc123def456GHI789jkl012"
    stripe = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"  # (detect-secrets' Stripe detector)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    directory = tmp_path / "recs"
    with recorder("new_episodes").use_cassette(str(directory)) as cassette:
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        cassette.append(
            Request("POST", "http://h/v1/chat/completions", json.dumps(body).encode(), {}),
            respond(
                200, "application/json", json.dumps({"choices": [{"message": {"content": "ok"}}]}).encode()
            ),
        )
    [path] = recording_files(directory)
    document = json.loads(path.read_text())
    document["request"]["body"]["provider_data"] = {"openai_api_key": key}
    document["request"]["body"]["messages"][0]["content"] = f"use {stripe} and AKIAIOSFODNN7EXAMPLE"
    document["response"]["body"] = {
        "choices": [{"message": {"role": "assistant", "content": f"token {jwt}"}}],
        "url": "https://b.s3.amazonaws.com/x?X-Amz-Signature=abcdef0123456789",
        "note": "-----BEGIN OPENSSH PRIVATE KEY-----",  # (no END: only detect-secrets sees it)
    }
    path.write_text(json.dumps(document, indent=2))

    code, out = cli("verify", directory)
    assert code == 1
    for expected in (
        "secret: request body field $.provider_data.openai_api_key is not redacted",
        "secret: response body field $.url (a URL's 'X-Amz-Signature') is not redacted",
        "has what looks like an OpenAI/Anthropic-style API key (sk-pro…)",
        "has what looks like an AWS access key id (AKIAIO…)",
        "has what looks like a JSON web token (eyJhbG…)",
        "has what looks like a Stripe key (sk_liv…)",
        "has what looks like a Private Key (detect-secrets)",
    ):
        assert expected in out, out
    code, shown = cli("show", path)
    code_json, shown_json = cli("show", "--json", path)
    assert code == code_json == 0 and "use sk_liv… and AKIAIO…" in shown
    for secret in (key, stripe, jwt, "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in out + shown + shown_json


@pytest.mark.parametrize("opt_out", [False, True])
def test_variables_named_like_secrets_are_scrubbed_unless_the_ini_option_opts_out(
    pytester: pytest.Pytester, provider_server: object, monkeypatch: pytest.MonkeyPatch, opt_out: bool
) -> None:
    value = "svc-Tok3n-0123456789abcdef"
    monkeypatch.setenv("MY_SERVICE_TOKEN", value)
    pytester.makeini("[pytest]\n" + ("llama_vcr_secret_env_patterns =\n" if opt_out else ""))
    pytester.makepyfile(
        test_user=f'''
import os, openai, pytest

@pytest.mark.vcr
def test_user():
    client = openai.OpenAI(base_url="{provider_server.base_url}", api_key="sk-x", max_retries=0)
    client.chat.completions.create(
        model="m", messages=[{{"role": "user", "content": "hi"}}], user=os.environ["MY_SERVICE_TOKEN"]
    )
'''
    )
    pytester.runpytest("-p", "no:xdist", "--record-mode=once").assert_outcomes(passed=1)
    [path] = pytester.path.rglob("*.json")
    assert (value in path.read_text()) is opt_out
