"""Which vcrpy cassette a test keeps replaying before it is switched to llama-vcr."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_vcr._vcrpy.existing import cassette_of_test, convert_command


class TestChat:
    pass


def test_a_cassette_is_found_where_the_suite_or_pytest_recording_keeps_it(tmp_path: Path) -> None:
    module = tmp_path / "tests" / "test_mod.py"
    ours = tmp_path / "cassettes" / "tests" / "test_mod"
    default = tmp_path / "tests" / "cassettes" / "test_mod"
    assert cassette_of_test(module, ours, "test_x", None, "test_x") is None
    default.mkdir(parents=True)
    (default / "TestChat.test_x.yml").write_text("interactions: []\n")
    found = cassette_of_test(module, ours, "test_x", TestChat, "test_x")
    assert found == default / "TestChat.test_x.yml"
    ours.mkdir(parents=True)
    (ours / "test_x.yaml").write_text("interactions: []\n")  # the suite's own vcr_cassette_dir first
    assert cassette_of_test(module, ours, "test_x", TestChat, "test_x") == ours / "test_x.yaml"
    (ours / "test_x").mkdir()
    (ours / "test_x" / ("0" * 64 + ".json")).write_text("{}")  # llama-vcr recordings: switched
    assert cassette_of_test(module, ours, "test_x", TestChat, "test_x") is None


def test_the_convert_command_is_shell_quoted(tmp_path: Path) -> None:
    command = convert_command(tmp_path / "a b.yaml", tmp_path / "cassettes", "t.py::test[x y]")
    assert command.startswith("llama-vcr convert ")
    assert "'t.py::test[x y]'" in command and f"'{tmp_path / 'a b.yaml'}'" in command


CASSETTE = """interactions:
- request:
    body: null
    headers: {}
    method: GET
    uri: http://127.0.0.1:9/v1/models
  response:
    body: {string: '{"object": "list", "data": []}'}
    headers: {Content-Type: [application/json]}
    status: {code: 200, message: OK}
version: 1
"""


def test_an_existing_cassette_is_read_as_untrusted_input(tmp_path: Path) -> None:
    from vcr.serializers import yamlserializer

    from llama_vcr import RecordingError
    from llama_vcr._vcrpy.existing import ExistingCassettePersister

    outside = tmp_path / "outside.yaml"
    outside.write_text(CASSETTE)
    suite = tmp_path / "cassettes" / "test_mod"
    suite.mkdir(parents=True)
    (suite / "test_link.yaml").symlink_to(outside)
    (suite / "test_bad.yaml").write_text("interactions: [[[\n")
    (suite / "test_big.yaml").write_text(CASSETTE + "#" * 2000)
    (suite / "test_ok.yaml").write_text(CASSETTE)
    persister = ExistingCassettePersister(max_size=1000)
    requests, responses = persister.load_cassette(str(suite / "test_ok.yaml"), yamlserializer)
    assert [r.uri for r in requests] == ["http://127.0.0.1:9/v1/models"] and len(responses) == 1
    for name, problem in [
        ("test_link", "outside"),
        ("test_bad", "not a vcrpy cassette"),
        ("test_big", "larger"),
    ]:
        with pytest.raises(RecordingError, match=problem) as raised:
            persister.load_cassette(str(suite / f"{name}.yaml"), yamlserializer)
        assert raised.value.path.name == f"{name}.yaml"


def test_a_miss_in_an_existing_cassette_masks_secrets(tmp_path: Path) -> None:
    import requests
    import vcr

    from llama_vcr import RecordingNotFound
    from llama_vcr._redact import DEFAULT_REDACTOR
    from llama_vcr._vcrpy.existing import replay_existing

    (tmp_path / "test_x.yaml").write_text(CASSETTE)
    recorder = vcr.VCR(record_mode="none")
    replay_existing(
        recorder,
        tmp_path / "test_x.yaml",
        test_id="t.py::test_x",
        cassette_root=tmp_path,
        mask=DEFAULT_REDACTOR.mask,
    )
    key = "AIzaSyD-" + "a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTu"
    with recorder.use_cassette(None), pytest.raises(RecordingNotFound) as raised:
        requests.get(f"http://127.0.0.1:9/v1beta/models?key={key}", timeout=1)
    assert "no interaction of the vcrpy cassette" in str(raised.value)
    assert key not in str(raised.value)
