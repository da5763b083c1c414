"""`python -m inngest_app ...`."""

import sys

from inngest_app.cli import main

sys.exit(main())
