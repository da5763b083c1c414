"""The services container holds a family's run-time parts without knowing what they are."""

from __future__ import annotations

from collections.abc import Callable

from functions import build_functions
from inngest_app.client import build_client
from inngest_app.routes import build_routes
from inngest_app.services import Services
from inngest_app.settings import Settings
from inngest_app.skills.runtime import SkillsRuntime, skills_runtime


class Worker:
    """A part with a lifecycle."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Nothing to stop."""


class Table:
    """A part without one."""

    def __init__(self, _: Services) -> None:
        self.rows: list[str] = []


def _services(make_settings: Callable[..., Settings]) -> Services:
    settings = make_settings()
    return Services(settings=settings, inngest=build_client(settings))


def test_a_part_is_built_once_per_app_and_started_with_it_when_it_has_a_lifecycle(
    make_settings: Callable[..., Settings],
) -> None:
    services, other = _services(make_settings), _services(make_settings)
    builds: list[Services] = []

    def build(owner: Services) -> Worker:
        builds.append(owner)
        return Worker(owner)

    worker = services.part(Worker, build)
    assert services.part(Worker, build) is worker and builds == [services]
    assert worker.services is services and services.lifecycles == [worker]
    table = services.part(Table, Table)
    assert services.part(Table, Table) is table and table not in services.lifecycles
    assert other.part(Worker, build) is not worker and builds == [services, other]


def test_the_skills_family_builds_its_runtime_and_the_routes_read_the_same_one(
    make_settings: Callable[..., Settings],
) -> None:
    services = _services(make_settings)
    build_functions(services)
    runtime = skills_runtime(services)
    assert isinstance(runtime, SkillsRuntime)
    build_routes(services)
    assert skills_runtime(services) is runtime
    assert [c for c in services.lifecycles if isinstance(c, SkillsRuntime)] == [runtime]
