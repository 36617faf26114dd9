"""The README's walk-through, pasted as written into one shell against a real demo store.

Every command of "Trying it" … "Try the cloud link" runs in order, in one bash, from a
folder laid out as a fresh checkout after `make run` (``.venv`` and ``.storehub-demo``
side by side), and every output the README shows under a command must match what that
command really printed (see tests/readme_walk.py for how the README marks outputs).
This keeps the README's outputs from going stale: change what the hub says, and this
test names the README line to update.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from hub.demo.ports import DemoPorts
from tests.demo_support import Demo
from tests.readme_walk import README, Step, steps

#: A command that waits for messages until Ctrl-C (the README's "watch" commands) is
#: given this long, then stopped, as a reader would after a glance.
WATCH_S = 1

#: The whole walk-through: about 60 commands, a fiscal receipt and a card payment among them.
WALKTHROUGH_TIMEOUT_S = 150

MARK = "@@readme-step-{}@@"


def adapt(step: Step, ports: dict[int, int]) -> str:
    """The command as the test runs it: on the test demo's ports, watches stopped after a glance."""
    command = step.command
    for readme_port, port in ports.items():
        command = re.sub(rf"(?<![\d.]){readme_port}(?!\d)", str(port), command)
    if command.lstrip().startswith("mosquitto_sub") and " -C " not in command:
        command = command.replace("mosquitto_sub", f"mosquitto_sub -W {WATCH_S}", 1)
    return command


def run_walkthrough(walk: list[Step], *, cwd: Path, ports: dict[int, int]) -> list[str]:
    """Runs every step in one bash; returns each step's output (stdout and stderr)."""
    lines = []
    for index, step in enumerate(walk):
        lines.append(adapt(step, ports))
        lines.append(f"printf '\\n{MARK.format(index)}\\n'")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    # curl draws a progress meter on stderr when its output is not a terminal, as here
    # and unlike the reader's terminal: a curlrc of the test's own keeps it quiet.
    (cwd / ".curlrc").write_text("silent\nshow-error\n")
    env["CURL_HOME"] = str(cwd)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    done = subprocess.run(
        ["bash", "-c", "exec 2>&1\n" + "\n".join(lines)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        timeout=WALKTHROUGH_TIMEOUT_S,
    )
    output = done.stdout.decode(errors="replace")
    outputs = []
    for index in range(len(walk)):
        before, _, output = output.partition(f"\n{MARK.format(index)}\n")
        outputs.append(before)
    return outputs


@dataclass
class ReadmeDemo:
    """A demo as `make run` leaves a fresh checkout: ``.venv`` and ``.storehub-demo`` side by side."""

    checkout: Path
    ports: dict[int, int]


@pytest.fixture(scope="module")
def readme_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadmeDemo]:
    checkout = tmp_path_factory.mktemp("checkout")
    (checkout / ".venv").symlink_to(Path(sys.prefix))
    demo = Demo(checkout / ".storehub-demo")
    demo.start()
    try:
        demo.wait_ready()
        readme, ours = asdict(DemoPorts()), asdict(demo.ports)
        yield ReadmeDemo(checkout, {readme[name]: ours[name] for name in readme})
        assert demo.stop() == 0
    finally:
        demo.cleanup()


def test_the_walkthrough_reads_as_steps():
    walk = steps()
    assert len(walk) > 40
    shown = [step for step in walk if step.shown]
    assert len(shown) > 15, "the README shows outputs under its commands"


@pytest.mark.timeout(WALKTHROUGH_TIMEOUT_S + 60)
def test_every_command_of_the_readme_walkthrough_prints_what_the_readme_shows(readme_demo):
    walk = steps()
    outputs = run_walkthrough(walk, cwd=readme_demo.checkout, ports=readme_demo.ports)
    wrong = []
    for step, output in zip(walk, outputs, strict=True):
        if "command not found" in output or "No such file or directory" in output:
            wrong.append(f"README line {step.line}: {step.command.splitlines()[0]}\n  could not run:\n{output}")
            continue
        for shown in step.shown:
            if not step.pattern(shown).search(output):
                wrong.append(
                    f"README line {step.line}: {step.command.splitlines()[0]}\n"
                    f"  the README shows: {shown}\n  the demo printed: {output.strip()}"
                )
    assert not wrong, "\n\n".join(wrong)


def test_the_readme_names_commands_one_way():
    """Outside the set-up, the README calls `storehub` as the activated venv has it, never `.venv/bin/storehub`."""
    text = README.read_text()
    assert ".venv/bin/storehub" not in text
    assert ". .venv/bin/activate" in text


if sys.platform != "linux":  # pragma: no cover - the demo's simulators need ptys
    pytestmark = pytest.mark.skip("the demo store runs on Linux")
