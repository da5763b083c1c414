"""`make install` prints nothing alarming: the project's editable install, into a fresh venv,
through pip as the Makefile calls it (build isolation: the setuptools a clean machine gets)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# pip's own notice about an index location this machine's pip config names; not the project's
MACHINE_PIP_CONFIG = re.compile(r"^WARNING: Location '.*' is ignored: it is neither a file nor")


def test_editable_install_prints_no_warning() -> None:
    venv = Path(tempfile.mkdtemp(prefix="inngest-app-install-test-"))
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # noqa: S603
        result = subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(venv / "bin" / "python"),
                "install",
                "--quiet",
                "--no-deps",
                "-e",
                str(ROOT),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        lines = [
            line
            for line in (result.stdout + result.stderr).splitlines()
            if line.strip() and not MACHINE_PIP_CONFIG.match(line)
        ]
        assert lines == [], "\n".join(lines)  # e.g. setuptools' "folders named like the package"
        [pth] = (venv / "lib").glob("python3*/site-packages/__editable__.inngest_app-*.pth")
        assert pth.read_text().strip() == str(ROOT)
    finally:
        shutil.rmtree(venv, ignore_errors=True)
