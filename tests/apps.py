"""Run the app in-process for tests that need no executor (see `inngest_app.testing.live`)."""

from inngest_app.testing.live import in_process

__all__ = ["in_process"]
