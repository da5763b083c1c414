"""`python -m inngest_app <command>`: operator commands. One module per command group.

Each module exposes `register(subparsers)`, which adds its parser and sets `handler`, an
`async (args) -> int` coroutine that loads only the settings it uses. Any error, a bad argument
included, is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from inngest_app.cli import stats, stripe, sync, token

COMMAND_MODULES: tuple[ModuleType, ...] = (stats, stripe, sync, token)
PROG = "python -m inngest_app"
USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (it prints the whole usage by default)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"error: {self.prog}: {message} (see --help)\n")


def one_line(exc: BaseException) -> str:
    """An exception as one readable line."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen command."""
    parser = _Parser(prog=PROG)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    args = parser.parse_args(argv)
    try:
        return int(asyncio.run(args.handler(args)))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # an operator reads one line, not a traceback
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
