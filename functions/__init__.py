"""The function families, and the one list of every function the app serves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import inngest

from functions import github, monitoring, ping, queries, skills, stripe, workspaces
from inngest_app.services import Services

# Each family contributes a `build(services) -> list[Function]`; add new families here.
FAMILIES: tuple[Callable[[Services], list[inngest.Function[Any]]], ...] = (
    ping.build,
    monitoring.build,
    queries.build,
    stripe.build,
    github.build,
    workspaces.build,
    skills.build,
)


class DuplicateFunctionError(ValueError):
    """Two functions share an id: the platform would silently keep one."""


def build_functions(services: Services) -> list[inngest.Function[Any]]:
    """Every function of every family, bound to `services`; duplicate ids are an error."""
    functions = [fn for build in FAMILIES for fn in build(services)]
    seen: set[str] = set()
    for fn in functions:
        if fn.id in seen:
            raise DuplicateFunctionError(f"function id {fn.id!r} is defined twice")
        seen.add(fn.id)
    return functions
