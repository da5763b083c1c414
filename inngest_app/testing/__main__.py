"""`python -m inngest_app.testing --port 8288`: the offline executor for development."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from inngest_app.testing.offline import serve_forever


def main() -> None:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m inngest_app.testing",
        description="A stand-in for the Inngest Dev Server (a test and development tool).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8288)
    parser.add_argument("--app-url", help="accepted for symmetry; the app syncs itself via PUT")
    parser.add_argument(
        "--signing-key", help="cloud mode: sign calls and require the key on registration"
    )
    parser.add_argument("--event-key", help="require this event key on /e/{key}")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s executor: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_forever(
                args.host, args.port, signing_key=args.signing_key, event_key=args.event_key
            )
        )


if __name__ == "__main__":
    main()
