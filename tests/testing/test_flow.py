"""Flow-control parsing and the rate algorithms, as pure logic."""

from __future__ import annotations

import pytest

from inngest_app.testing.expressions import Expression, compile_expression
from inngest_app.testing.flow import Gcra, Rate, Windows, parse_flow


def _compile(source: str) -> Expression:
    return compile_expression(source, frozenset({"event"}))


def test_gcra_admits_one_start_per_emission_interval_plus_the_burst() -> None:
    gcra, key = Gcra(), ("fn", "")
    rate = Rate(limit=2, period_s=60, burst=1, key=None)
    assert gcra.admit(key, rate, 0) is None and gcra.admit(key, rate, 0) is None  # 1 + burst
    assert gcra.admit(key, rate, 0) == 30  # then one every 60 s / 2
    assert gcra.admit(key, rate, 30) is None and gcra.admit(key, rate, 30) == 60


def test_rate_limit_windows_begin_with_the_first_event() -> None:
    windows, key = Windows(), ("fn", "")
    rate = Rate(limit=2, period_s=100, burst=0, key=None)
    assert [windows.admit(key, rate, t) for t in (10, 20, 30, 109, 110)] == [
        True,
        True,
        False,
        False,
        True,
    ]


def test_every_option_is_read_from_the_registration() -> None:
    flow = parse_flow(
        "app-fn",
        {
            "concurrency": [{"limit": 2, "key": "event.data.a", "scope": "env"}, {"limit": 0}],
            "throttle": {"limit": 3, "period": "1m", "burst": 2, "key": "event.data.u"},
            "rateLimit": {"limit": 1, "period": "4h"},
            "debounce": {"period": "30s", "timeout": "2m"},
            "batchEvents": {"maxSize": 10, "timeout": "5s", "if": "event.data.ok"},
            "idempotency": "event.data.id",
            "singleton": {"mode": "cancel"},
            "priority": {"run": "event.data.p"},
            "timeouts": {"start": "10s", "finish": "1h"},
        },
        _compile,
    )
    assert [(c.limit, c.scope) for c in flow.concurrency] == [(2, "env")]  # 0 is no limit
    assert flow.throttle is not None and (flow.throttle.period_s, flow.throttle.burst) == (60, 2)
    assert flow.rate_limit is not None and flow.rate_limit.period_s == 4 * 3600
    assert flow.debounce is not None and flow.debounce.timeout_s == 120
    assert flow.batch is not None and flow.batch.condition is not None
    assert flow.singleton is not None and flow.singleton.mode == "cancel"
    assert (flow.start_timeout_s, flow.finish_timeout_s) == (10, 3600)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"throttle": {"limit": 1}}, "app-fn: throttle.period: is required"),
        ({"debounce": {"period": "soon"}}, "app-fn: debounce.period: not a duration"),
        ({"singleton": {"mode": "queue"}}, "app-fn: singleton.mode"),
        ({"concurrency": [{"limit": 1, "scope": "team"}]}, "app-fn: concurrency[0].scope"),
        ({"idempotency": "async.data.id"}, "app-fn: idempotency: unknown name 'async'"),
        ({"priority": {"run": "event.data.p +"}}, "app-fn: priority.run: cannot compile"),
    ],
)
def test_a_malformed_option_names_the_function_and_the_option(
    config: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_flow("app-fn", config, _compile)
