"""`python -m inngest_app <command>`: operator commands. One module per command group.

Each module exposes `register(subparsers)`, which adds its parser and sets `handler`, an
`async (args) -> int` coroutine run with settings loaded from the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from types import ModuleType

from inngest_app.cli import stats, stripe, sync

COMMAND_MODULES: tuple[ModuleType, ...] = (stats, stripe, sync)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m inngest_app")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    args = parser.parse_args(argv)
    return int(asyncio.run(args.handler(args)))


if __name__ == "__main__":
    sys.exit(main())
