"""The ASGI entry point: `uvicorn inngest_app.main:app`."""

import sys

from inngest_app.app import create_app
from inngest_app.settings import SettingsError

try:
    app = create_app()
except SettingsError as exc:
    # One readable line instead of a traceback through uvicorn's importer.
    print(f"inngest-app: {exc}", file=sys.stderr)  # noqa: T201
    raise SystemExit(2) from None
