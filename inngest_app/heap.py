"""The process's heap after start-up, set aside from the garbage collector's full passes.

A step call allocates a few objects per memoized step (the parsed body, the replayed data), so
a long run's calls make the collector run its full (generation 2) pass every ~100 calls, and
each full pass walks every object in the process: modules, pydantic schemas, the SDK, routes,
tens of thousands of objects that live as long as the process. `gc.freeze()` once start-up is
done moves them to the permanent generation: full passes then walk only what was made since.
Nothing is freed differently (reference counting frees as before; a frozen cycle that became
garbage is never collected, so this runs once, after a `gc.collect()`, in the serving process).
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect, then freeze every object alive now; the number frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
