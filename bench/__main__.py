"""Run every benchmark module in BENCHMARKS, or the ones named: `python -m bench serve queries`."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = (
    "driver",
    "serve",
    "monitoring",
    "queries",
    "stripe_webhook",
    "outbound",
    "search_path",
    "executor_e2e",
    "dashboard",
    "github_upsert",
    "github_capture",
    "workspaces",
    "runs_list",
    "load",
    "step_calls",
    "query_slices",
)


def main(argv: list[str]) -> int:
    """Run the chosen benchmarks; each prints its own report."""
    for name in argv or list(BENCHMARKS):
        module = importlib.import_module(f"bench.{name}")
        print(f"== bench/{name}.py", flush=True)
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
