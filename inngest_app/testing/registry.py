"""Registered functions: the configs apps sync, and the questions the executor asks of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inngest_app.testing.expressions import Expression, compile_expression
from inngest_app.testing.flow import Flow, parse_flow
from inngest_app.testing.runs import DEFAULT_RETRIES, RESERVED_PREFIX, parse_duration

EVENT_ONLY = frozenset({"event"})
EVENT_AND_ASYNC = frozenset({"event", "async"})
_NO_FLOW = Flow()


class Registry:
    """Function configs by composite id (`<app>-<fn>`), exactly as the SDK sent them."""

    def __init__(self) -> None:
        self.functions: dict[str, dict[str, Any]] = {}
        self.registrations: list[dict[str, Any]] = []
        self._by_app: dict[str, list[str]] = {}
        self._expressions: dict[tuple[str, frozenset[str]], Expression] = {}
        self._flows: dict[str, Flow] = {}

    def register(self, body: Mapping[str, Any]) -> None:
        """Store an app's function configs, replacing that app's previous ones.

        `ValueError` naming the function and the option when a config is malformed or an
        expression does not compile (the platform refuses such a sync too)."""
        configs = body.get("functions")
        if not isinstance(configs, list) or not configs:
            raise ValueError("registration has no functions")
        ids = [self._check(config) for config in configs]
        flows = [
            parse_flow(fn_id, config, lambda source: self.expression(source, EVENT_ONLY))
            for fn_id, config in zip(ids, configs, strict=True)
        ]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate function ids in registration: {sorted(ids)}")
        app = str(body.get("appname") or body.get("appName") or "")
        for old in self._by_app.pop(app, []):
            self.functions.pop(old, None)
            self._flows.pop(old, None)
        for fn_id, config, flow in zip(ids, configs, flows, strict=True):
            self.functions[fn_id] = dict(config)
            self._flows[fn_id] = flow
        self._by_app[app] = ids
        self.registrations.append(dict(body))

    def _check(self, config: Any) -> str:
        if not isinstance(config, dict) or not isinstance(config.get("id"), str):
            raise ValueError("a function config needs a string id")
        fn_id: str = config["id"]
        try:
            url = config["steps"]["step"]["runtime"]["url"]
        except (KeyError, TypeError):
            url = None
        if not isinstance(url, str):
            raise ValueError(f"{fn_id}: steps.step.runtime.url is missing")
        for i, trigger in enumerate(config.get("triggers") or []):
            if not isinstance(trigger, dict) or not (
                isinstance(trigger.get("event"), str) or isinstance(trigger.get("cron"), str)
            ):
                raise ValueError(f"{fn_id}: a trigger needs an event or a cron")
            if trigger.get("expression"):
                self._compiles(
                    fn_id, f"triggers[{i}].expression", trigger["expression"], EVENT_ONLY
                )
        for i, cancel in enumerate(config.get("cancel") or []):
            if not isinstance(cancel, dict) or not isinstance(cancel.get("event"), str):
                raise ValueError(f"{fn_id}: a cancel entry needs an event")
            if cancel.get("if"):
                self._compiles(fn_id, f"cancel[{i}].if", cancel["if"], EVENT_AND_ASYNC)
            parse_duration(cancel.get("timeout"))
        return fn_id

    def _compiles(self, fn_id: str, option: str, source: str, names: frozenset[str]) -> None:
        try:
            self.expression(source, names)
        except ValueError as exc:
            raise ValueError(f"{fn_id}: {option}: {exc}") from exc

    def flow(self, fn_id: str) -> Flow:
        """The function's flow control (none for an unknown function)."""
        return self._flows.get(fn_id) or _NO_FLOW

    def expression(self, source: str, names: frozenset[str] = EVENT_AND_ASYNC) -> Expression:
        """`source` compiled once (`ValueError` if it does not compile)."""
        key = (source, names)
        if key not in self._expressions:
            self._expressions[key] = compile_expression(source, names)
        return self._expressions[key]

    def resolve(self, function_id: str) -> str:
        """The composite id of `function_id`, given composite or as the bare `<fn>` suffix."""
        if function_id in self.functions:
            return function_id
        for fn_id in self.functions:
            if fn_id.endswith(f"-{function_id}"):
                return fn_id
        raise KeyError(f"no registered function {function_id!r}")

    def triggered_by(self, event: Mapping[str, Any]) -> list[str]:
        """Ids of the functions `event` starts: name (or `prefix*`) matches, expression holds."""
        return [fn_id for fn_id, config in self.functions.items() if self._triggers(config, event)]

    def _triggers(self, config: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
        for trigger in config.get("triggers") or []:
            pattern = trigger.get("event")
            if not isinstance(pattern, str) or not _name_matches(pattern, event["name"]):
                continue
            expression = trigger.get("expression")
            if not expression or self.expression(expression, EVENT_ONLY).matches({"event": event}):
                return True
        return False

    def cancels(
        self, fn_id: str, trigger: Mapping[str, Any], event: Mapping[str, Any], age_s: float
    ) -> bool:
        """Whether `event` cancels a run of `fn_id` started by `trigger` `age_s` seconds ago."""
        for cancel in (self.functions.get(fn_id) or {}).get("cancel") or []:
            if cancel.get("event") != event["name"]:
                continue
            timeout = parse_duration(cancel.get("timeout"))
            if timeout is not None and age_s > timeout:
                continue
            condition = cancel.get("if")
            env = {"event": trigger, "async": event}
            if not condition or self.expression(condition).matches(env):
                return True
        return False

    def cron(self, fn_id: str) -> str | None:
        """The function's cron schedule, if it has a cron trigger."""
        triggers = (self.functions.get(fn_id) or {}).get("triggers") or []
        return next((str(t["cron"]) for t in triggers if t.get("cron")), None)

    def max_attempts(self, fn_id: str) -> int:
        """Retries + 1; the platform's default retries when the function sets none."""
        step = ((self.functions.get(fn_id) or {}).get("steps") or {}).get("step") or {}
        attempts = (step.get("retries") or {}).get("attempts")
        return (DEFAULT_RETRIES if attempts is None else int(attempts)) + 1

    def url(self, fn_id: str) -> str | None:
        """The function's registered runtime URL, while it is registered."""
        config = self.functions.get(fn_id)
        return None if config is None else str(config["steps"]["step"]["runtime"]["url"])


def _name_matches(pattern: str, name: str) -> bool:
    if pattern == name:
        return True
    if not pattern.endswith("*"):
        return False
    # A wildcard reaches the platform's own events only when it names their prefix.
    reserved_ok = pattern.startswith(RESERVED_PREFIX) or not name.startswith(RESERVED_PREFIX)
    return reserved_ok and name.startswith(pattern[:-1])
