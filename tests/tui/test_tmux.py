"""`storehub tui` as a technician runs it: a real terminal (tmux, 80x24, TERM=linux)
against a real hub, driven by keys and read back from the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import STORE, HubProcess

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (make deps: TEST_PACKAGES)")

STORE_HUB = Path(sys.executable).with_name("storehub")


class Tmux:
    """One detached session on its own socket, so nothing else of the machine is touched."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "console")

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on the console within {timeout} s; it shows:\n{screen}")
            time.sleep(0.2)

    def jump(self, name: str) -> None:
        """``:`` NAME Enter, typing once the input is open (as a person would)."""
        self("send-keys", "-t", "console", ":")
        self.wait_for(": экран")
        self("send-keys", "-t", "console", name, "Enter")

    def wait_gone(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text not in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} still on the console after {timeout} s:\n{screen}")
            time.sleep(0.2)


def test_a_technician_at_the_linux_console(shared_hub: HubProcess, tmp_path: Path) -> None:
    address = shared_hub.address
    secret = tmp_path / "secret"
    secret.write_text(shared_hub.secrets["tech-1"])
    command = (
        f"env TERM=linux COLORTERM= PYTHONPATH={os.getcwd()} {STORE_HUB} tui --hub {address.host}:{address.port}"
        f" --store {STORE} --client tech-1 --secret-file {secret}"
        f" --dir {tmp_path}"
    )
    tmux = Tmux(f"storehub-test-{os.getpid()}")
    tmux("new-session", "-d", "-s", "console", "-x", "80", "-y", "24", command)
    try:
        screen = tmux.wait_for("echo-1")
        assert "Устройства" in screen and "статус" in screen, screen
        tmux.wait_for("idle")
        tmux("send-keys", "-t", "console", "?")
        screen = tmux.wait_for("Клавиши")
        assert "пробная печать" in screen and "выход" in screen, screen
        tmux("send-keys", "-t", "console", "Escape")
        tmux.wait_gone("Клавиши")
        tmux.jump("echo-1")
        screen = tmux.wait_for("Устройство echo-1")
        assert "Состояние" in screen, screen
        tmux.jump("devices")
        screen = tmux.wait_gone("Устройство echo-1")
        assert "echo-2" in tmux.wait_for("echo-2"), screen
        tmux("send-keys", "-t", "console", "q")
        deadline = time.monotonic() + 10
        while "console" in tmux("list-sessions", "-F", "#{session_name}") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "console" not in tmux("list-sessions", "-F", "#{session_name}"), "q did not quit the console"
    finally:
        tmux("kill-server")
