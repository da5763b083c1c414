"""The README's tour, run as a newcomer would: `make dev` in one terminal, then each command of
the tour's section in a second one (a fresh shell at the project's root, without the
environment `make dev` gives its children), each expected to succeed and print what the README
shows after it. The commands come from the README itself, so a tour that drifts from the
service fails here. Only the ports change (this test's own, so it can run beside a developer's
`make dev`)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from inngest_app.testing.live import free_port
from tests.devstack import ROOT, poll, private_dir, start_dev, stop_dev
from tests.processes import wait_gone

TOUR_HEADING = "## A 5-minute tour"
MAKEFILE = ROOT / "Makefile"
APP_ADDRESS, VIEWER_ADDRESS = "localhost:8000", "localhost:8288"  # what the tour calls
VARIES = "…"  # in an expected line: any text
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def tour_steps(readme: str) -> list[tuple[str, str]]:
    """The tour's shell blocks, each with the text block that follows it (what it prints)."""
    start = readme.index(TOUR_HEADING)
    end = readme.find("\n## ", start + len(TOUR_HEADING))
    blocks = FENCE.findall(readme[start : end if end != -1 else None])
    steps = []
    for index, (lang, body) in enumerate(blocks):
        if lang == "sh":
            follows = blocks[index + 1] if index + 1 < len(blocks) else ("", "")
            assert follows[0] == "text", f"the tour shows no output after: {body}"
            steps.append((body.strip(), follows[1].strip()))
    return steps


def unmatched(expected: str, output: str) -> list[str]:
    """The expected lines that no line of `output` matches (`…` matches any text)."""
    printed = [line.rstrip() for line in output.splitlines()]
    missing = []
    for line in expected.splitlines():
        pattern = re.compile(".*".join(re.escape(part) for part in line.strip().split(VARIES)))
        if not any(pattern.fullmatch(candidate) for candidate in printed):
            missing.append(line)
    return missing


def localize(text: str, app_port: int, viewer_port: int) -> str:
    """The tour's text with this test's ports in place of 8000 and 8288."""
    return text.replace(APP_ADDRESS, f"localhost:{app_port}").replace(
        VIEWER_ADDRESS, f"localhost:{viewer_port}"
    )


def run_until_printed(command: str, expected: str, env: dict[str, str]) -> None:
    """Run `command` in bash at the project's root until it prints `expected` (the run it reads
    may not have finished yet), at most 30 s; it must exit 0 every time."""
    deadline = time.monotonic() + 30
    while True:
        done = subprocess.run(  # noqa: S603
            ["bash", "-euo", "pipefail", "-c", command],  # noqa: S607
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, f"{command}\nexit {done.returncode}: {done.stderr}"
        missing = unmatched(expected, done.stdout)
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert missing == [], f"{command}\nprinted:\n{done.stdout}\nnot:\n{missing}"


def test_the_tour_is_a_make_dev_session_of_commands_each_with_its_output() -> None:
    steps = tour_steps((ROOT / "README.md").read_text(encoding="utf-8"))
    assert steps[0][0] == "make dev"
    # start_dev runs what the target runs
    recipe = r"^dev: install\n\t\$\(BIN\)/python scripts/dev\.py$"
    assert re.search(recipe, MAKEFILE.read_text(encoding="utf-8"), re.MULTILINE)
    commands = "\n".join(command for command, _ in steps[1:])
    assert "/api/inngest/test" in commands  # send an event
    assert VIEWER_ADDRESS in commands  # watch it in the run viewer
    assert "-m inngest_app token" in commands and "Authorization: Bearer" in commands


@pytest.mark.parametrize(
    ("expected", "output", "missing"),
    [
        ("a … c", "x\na b c\n", []),
        ("a … c", "a b c d\n", ["a … c"]),  # a whole line, not a part of one
        ('{"ids":["…"]}', '{"ids":["01J"]}', []),
        ("app/ping f completed", "app/ping f failed", ["app/ping f completed"]),
    ],
)
def test_an_expected_line_matches_a_whole_printed_line(
    expected: str, output: str, missing: list[str]
) -> None:
    assert unmatched(expected, output) == missing


def test_a_newcomer_follows_the_tour_against_make_dev() -> None:
    (_, dev_prints), *commands = tour_steps((ROOT / "README.md").read_text(encoding="utf-8"))
    app_port, viewer_port = free_port(), free_port()
    # A second terminal: the shell's environment (the suite's: no INNGEST_* or SUPABASE_*),
    # not the dev mode and dev secret `make dev` gives its own children.
    shell = {key: value for key, value in os.environ.items() if not key.startswith("INNGEST_")}
    if not (ROOT / ".venv" / "bin" / "python").exists():  # a suite run outside `make`
        commands = [(c.replace(".venv/bin/python", sys.executable), o) for c, o in commands]
    with private_dir() as data_dir:
        log = data_dir / "make-dev.log"
        process = start_dev(data_dir, app_port, viewer_port, log=log)
        try:
            ready = poll(f"http://127.0.0.1:{app_port}/healthz?ready=1", 90)
            assert ready is not None and ready.status_code == 200, log.read_text()
            deadline = time.monotonic() + 30  # "once it is up": the hints follow the sync
            expected = localize(dev_prints, app_port, viewer_port)
            while (missing := unmatched(expected, log.read_text())) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert missing == [], f"make dev did not print {missing}:\n{log.read_text()}"
            for command, prints in commands:
                run_until_printed(
                    localize(command, app_port, viewer_port),
                    localize(prints, app_port, viewer_port),
                    shell,
                )
        finally:
            _, session_left = stop_dev(process, signal.SIGINT)
        assert session_left == {}, session_left
        assert wait_gone(markers=(str(data_dir / "pg"),)) == {}, "make dev left its Postgres"
