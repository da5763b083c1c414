"""One load stack for the whole module: starting it (a Postgres cluster, two uvicorn workers)
costs more than a small scenario, and each scenario checks only its own namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.load.scenarios import Sizes
from tests.load.stack import Stack, start_stack


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack() -> AsyncIterator[Stack]:
    """The running stack (2 workers, 16 calls in flight); stopped after the module."""
    async with start_stack(workers=2) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sizes() -> Sizes:
    """CI sizes, or the full ones with `LOAD_SOAK=1` (`make soak`)."""
    return Sizes.from_env()
