"""Prometheus metrics of function runs, on a registry of the app's own."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class RunMetrics:
    """Counters and histograms the middleware and recorder update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.runs = Counter(
            "inngest_app_function_runs",
            "Function runs that ended, by status",
            ["function_id", "status"],
            registry=self.registry,
        )
        self.steps = Counter(
            "inngest_app_function_steps",
            "Steps reported by functions, by kind",
            ["function_id", "kind"],
            registry=self.registry,
        )
        self.failures = Counter(
            "inngest_app_function_failures",
            "Function calls that raised, by function",
            ["function_id"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "inngest_app_function_duration_seconds",
            "Run duration from first call to the end",
            ["function_id"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.buffer_depth = Gauge(
            "inngest_app_monitoring_buffer_depth",
            "Observations waiting to be written",
            registry=self.registry,
        )
        self.dropped = Counter(
            "inngest_app_monitoring_dropped",
            "Observations dropped because the buffer was full",
            registry=self.registry,
        )
        self.flush_failures = Counter(
            "inngest_app_monitoring_flush_failures",
            "Batch writes that failed and were retried",
            registry=self.registry,
        )

    def track_buffer(self, depth: Callable[[], int]) -> None:
        """Read the buffer depth at scrape time."""
        self.buffer_depth.set_function(lambda: float(depth()))

    def render(self) -> bytes:
        """The text exposition format."""
        return bytes(generate_latest(self.registry))
