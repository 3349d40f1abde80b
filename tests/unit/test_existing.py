"""Which vcrpy cassette a test keeps replaying before it is switched to llama-vcr."""

from __future__ import annotations

from pathlib import Path

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
