"""The console's keys moved by a keys file: what the file may say, and the keys at work."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from tests.conftest import HubProcess, until
from tests.tui.snapshot_store import FIXED_DEVICES, frozen_console
from tests.tui.test_console import console_for, open_device
from tui.screens.device import DeviceScreen
from tui.screens.keys import KeysScreen, key_rows
from tui.settings import load_keys
from tui.words import key_words


def keys_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tui.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_keys_file_moves_keys_by_name(tmp_path: Path) -> None:
    keymap, problem = load_keys(keys_file(tmp_path, '[keys]\nstatus = "t"\nkeys = "h,F1"\njump = ";"\n'))
    assert problem == ""
    assert keymap == {"status": "t", "keys": "h,f1", "jump": "semicolon"}
    shown = dict((what, key) for key, what in key_rows("en", keymap))
    assert shown["device status"] == "t" and shown["keys"] == "h,f1" and shown["test print"] == "p"
    assert shown["screen: clients events cloud labels hub, id"] == ";"
    assert shown["cloud: resume"] == "r" and shown["restart the device (asks first)"] == "r"  # fixed keys as they are


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[keys\nstatus = 't'", "default keys"),
        ('[keys]\nstatuss = "t"\n', "unknown name 'statuss'"),
        ("[keys]\nstatus = 3\n", "status must be a key in quotes"),
        ('[keys]\nstatus = "f"\n', "'f' would press both status and force_release"),
        ('keys = "t"\n', "[keys] must be a table"),
        (b"\xff\xfe".decode("latin-1"), "default keys"),
    ],
)
def test_a_bad_keys_file_says_why_in_one_line_and_keeps_the_defaults(tmp_path: Path, text: str, said: str) -> None:
    keymap, problem = load_keys(keys_file(tmp_path, text))
    assert keymap == {}
    assert said in problem and "\n" not in problem and str(tmp_path) in problem


def test_a_missing_keys_file_is_a_problem_only_when_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_keys(None) == ({}, "")
    keymap, problem = load_keys(tmp_path / "nowhere.toml")
    assert keymap == {} and "not found" in problem
    (tmp_path / "storehub").mkdir()
    (tmp_path / "storehub" / "tui.toml").write_text('[keys]\nquit = "x"\n')
    assert load_keys(None) == ({"quit": "x"}, "")


async def test_remapped_keys_open_what_they_should(shared_hub: HubProcess) -> None:
    app = console_for(shared_hub, keys={"keys": "h", "status": "t", "jump": "semicolon"})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("h")
        await until(lambda: isinstance(app.screen, KeysScreen), 5, "the keys screen on h")
        text = str(app.screen.query_one("#keys", Static).render())
        assert "     t  device status" in text and "     h  keys" in text, text
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, KeysScreen), 5, "the keys screen closed")
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, KeysScreen), "? still opens the keys screen after it moved to h"
        screen = await open_device(app, pilot, "echo-1", jump="semicolon")
        await pilot.press("s")
        await pilot.pause(0.3)
        assert screen.last_answer is None, "s still asks for the status after it moved to t"
        await pilot.press("t")
        await until(lambda: screen.last_answer is not None, 10, "the status answer on t")
        assert screen.last_answer.get("ok", True), screen.last_answer


def footer_of(app) -> dict[str, str]:
    """What the footer of the screen on top says for each action."""
    return {key.action: key.description for key in app.screen.query(FooterKey)}


@pytest.mark.parametrize(
    ("language", "devices_footer", "device_footer", "help_line"),
    [
        (
            "ru",
            {"jump": "экран", "filter": "фильтр", "back": "назад", "keys": "клавиши", "quit": "выход"},
            {"status": "статус", "test_print": "печать", "force_release": "освободить", "restart": "перезапуск"},
            "статус устройства",
        ),
        (
            "en",
            {"jump": "screen", "filter": "filter", "back": "back", "keys": "keys", "quit": "quit"},
            {"status": "status", "test_print": "print", "force_release": "release", "restart": "restart"},
            "device status",
        ),
    ],
)
async def test_the_footer_and_the_keys_screen_speak_the_consoles_language(
    language: str, devices_footer: dict[str, str], device_footer: dict[str, str], help_line: str
) -> None:
    app = frozen_console(language=language)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(lambda: len(app.devices) == len(FIXED_DEVICES), 5, "the fixed store shown")
        await until(lambda: footer_of(app).get("quit") is not None, 5, "the footer's keys")
        said = footer_of(app)
        assert {action: said.get(action) for action in devices_footer} == devices_footer, said
        assert said.get("command_palette") == key_words(language)["command_palette"]
        await pilot.press("colon", *"printer-1", "enter")
        await until(lambda: isinstance(app.screen, DeviceScreen), 5, "the device screen")
        await until(lambda: "restart" in footer_of(app), 5, "the device screen's footer")
        said = footer_of(app)
        assert {action: said.get(action) for action in device_footer} == device_footer, said
        await pilot.press("question_mark")
        await until(lambda: isinstance(app.screen, KeysScreen), 5, "the keys screen")
        assert help_line in str(app.screen.query_one("#keys", Static).render())
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, DeviceScreen), 5, "back on the device screen")
        assert footer_of(app) == said, "the footer changed on coming back"
