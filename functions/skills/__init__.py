"""Skills: run an AI skill on a user's message, store and record its output, notify the user,
learn from feedback which skills are going bad, and settle runs that got stuck.

One module per job: `execute` (the run, and how it ends), `notify` (telling the user),
`alerts` (feedback, health, stuck runs and alert delivery). Flow control lives in
`inngest_app.skills.flow`. The family's run-time parts (library, provider, storage:
`inngest_app.skills.runtime`) are built here, once per app, among the app's parts; the skills
routes read the same ones.
"""

from __future__ import annotations

from typing import Any

import inngest

from functions.skills import alerts, execute, notify
from inngest_app.services import Services
from inngest_app.skills.runtime import skills_runtime


def build(services: Services) -> list[inngest.Function[Any]]:
    """The skills functions, bound to `services` and to the family's run-time parts."""
    skills_runtime(services)  # registered as a lifecycle before the lifespan starts
    return [*execute.build(services), *notify.build(services), *alerts.build(services)]
