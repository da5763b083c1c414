"""`python -m inngest_app.testing --port 8288`: the offline executor for development."""

from __future__ import annotations

import argparse
import asyncio
import logging

from inngest_app.testing.offline import serve_forever


def main() -> None:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m inngest_app.testing")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8288)
    parser.add_argument("--app-url", help="accepted for symmetry; the app syncs itself via PUT")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s executor: %(message)s")
    try:
        asyncio.run(serve_forever(args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
