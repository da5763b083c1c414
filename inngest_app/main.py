"""The ASGI entry point: `uvicorn inngest_app.main:app`."""

import sys

from inngest_app.app import create_app
from inngest_app.heap import freeze_startup_heap
from inngest_app.settings import SettingsError

try:
    app = create_app()
except SettingsError as exc:
    # One readable line instead of a traceback through uvicorn's importer.
    print(f"inngest-app: {exc}", file=sys.stderr)  # noqa: T201
    raise SystemExit(2) from None
# The app and everything it imported live as long as the process: out of the collector's full
# passes, which a long run's step calls would otherwise make walk them every ~100 calls.
freeze_startup_heap()
