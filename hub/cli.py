"""storehub: run the hub, try it in demo mode, check a config, benchmark it.

The first line is also `storehub --help`'s description, so it stays plain text.

Each group of commands lives beside its code and adds itself (``add_commands``: its
parsers, and the function that runs each, ``run``): the box's own in ``hub.commands``,
the shelf labels' in ``hub.labels_cli``, the demo's in ``hub.demo.cli``, the reference
cloud's in ``cloud_link.reference.cli`` (mounted by the demo's, which points it at a
demo's cloud), the benches' in ``hub.bench.cli``.  What they share is in
``hub.cli_support``.
"""

from __future__ import annotations

import argparse
import os
import sys

from hub import commands as hub_commands
from hub import labels_cli
from hub.bench import cli as bench_cli
from hub.demo import cli as demo_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="storehub", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # In the order `storehub --help` lists them.
    for add_commands in (
        hub_commands.add_commands,
        labels_cli.add_commands,
        demo_cli.add_commands,
        demo_cli.add_cloud_commands,
        bench_cli.add_commands,
    ):
        add_commands(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:
        # `storehub … | head`: the reader has what it wanted.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
