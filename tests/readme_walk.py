"""The README's walk-through as data: its shell commands and the outputs it shows for them.

The README promises that its commands can be pasted as written and that the outputs it
shows come from a real run.  This module reads the ```sh blocks of the walk-through
sections into steps (one shell command each, with the output lines the README shows
right under it), so that a test can run them, in order and in one shell, against a real
demo store and check each shown output against what really came out.

How the README marks an output: comment lines directly under a command (no blank line
between) are what that command printed.  A comment line that starts with two spaces
continues the line above (a long JSON answer wrapped for reading).  ``…`` stands for
whatever the README left out, and every run of digits for a number that changes from
run to run (ids, times, counters).  A comment after a blank line is prose.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"

#: The README's sections that walk a new user through the demo, in the order they run.
WALKTHROUGH_FIRST = "## Trying it"
WALKTHROUGH_END = "## Configuration"


@dataclass
class Step:
    command: str
    shown: list[str] = field(default_factory=list)
    line: int = 0

    def pattern(self, shown: str) -> re.Pattern[str]:
        return shown_pattern(shown)


def walkthrough_text(readme: Path = README) -> list[tuple[int, str]]:
    lines = readme.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == WALKTHROUGH_FIRST)
    end = next(i for i, line in enumerate(lines) if i > start and line.strip() == WALKTHROUGH_END)
    return list(enumerate(lines[start:end], start=start + 1))


def shell_blocks(numbered: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] | None = None
    for number, line in numbered:
        if current is None and line.strip() == "```sh":
            current = []
        elif current is not None and line.strip() == "```":
            blocks.append(current)
            current = None
        elif current is not None:
            current.append((number, line))
    return blocks


def _complete(command: str) -> bool:
    """Whether ``command`` is a whole shell command: quotes closed, no continuation, a function closed."""
    lines = command.splitlines()
    if re.match(r"\s*[\w-]+\(\)\s*\{", lines[0]):
        return lines[-1].strip() == "}"
    if command.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:
        return False
    return True


def steps(readme: Path = README) -> list[Step]:
    found: list[Step] = []
    for block in shell_blocks(walkthrough_text(readme)):
        pending: list[str] = []
        last: Step | None = None
        after_command = False
        for number, line in block:
            stripped = line.strip()
            if pending:
                pending.append(line)
                text = "\n".join(pending)
                if _complete(text):
                    last = Step(text, line=number)
                    found.append(last)
                    pending = []
                    after_command = True
                continue
            if not stripped:
                after_command = False
                continue
            if stripped.startswith("#"):
                if after_command and last is not None:
                    comment = line.split("#", 1)[1]
                    if comment.startswith("  ") and last.shown:
                        last.shown[-1] += comment.strip()
                    else:
                        last.shown.append(comment.strip())
                continue
            pending = [line]
            if _complete(line):
                last = Step(line, line=number)
                found.append(last)
                pending = []
                after_command = True
    return found


def shown_pattern(shown: str) -> re.Pattern[str]:
    """A shown output as a pattern: ``…`` is anything, digits are any number, spaces any spaces."""
    parts: list[str] = []
    for token in re.split(r"(…|\d+(?:\.\d+)?| +)", shown):
        if not token:
            continue
        if token == "…":
            parts.append(".*?")
        elif token[0].isdigit():
            parts.append(r"\d+(?:\.\d+)?")
        elif token[0] == " ":
            parts.append(r"\s+")
        else:
            # JSON may come compact or indented: room for whitespace around its punctuation.
            parts.append("".join(_json_room(char) for char in token))
    return re.compile("".join(parts))


def _json_room(char: str) -> str:
    if char in "{[,:":
        return re.escape(char) + r"\s*"
    if char in "}]":
        return r"\s*" + re.escape(char)
    return re.escape(char)
