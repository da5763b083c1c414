"""The SDK `StepMemos.pop` patch: same answers, in place, applied at client build, guarded."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import hashlib
import json
import math
import random
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import inngest
import jcs
import orjson
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inngest._internal import const, server_lib, transforms, types
from inngest._internal.step_lib.base import StepMemos
from starlette.applications import Starlette

from inngest_app import heap, sdk_json, sdk_memos
from inngest_app.client import build_client
from inngest_app.serve import inngest_routes
from inngest_app.settings import Settings
from inngest_app.testing.signing import step_call
from tests.testing.support import mini_app


@pytest.fixture
def unpatched() -> Iterator[None]:
    """Each test starts from the SDK's own `pop` and leaves the patch applied, as the app does."""
    sdk_memos.unpatch_step_memos()
    yield
    sdk_memos.patch_step_memos()


def _memos(n: int) -> StepMemos:
    return StepMemos.from_raw({f"id-{i}": {"data": i} for i in range(n)})


def test_the_patched_pop_answers_as_the_sdks_and_keeps_its_dict(unpatched: None) -> None:
    original = _memos(3)
    expected = [original.pop("id-1"), original.pop("nope"), original.pop("id-1")]
    sdk_memos.patch_step_memos()
    assert sdk_memos.is_patched()
    patched = _memos(3)
    before = patched._memos
    got = [patched.pop("id-1"), patched.pop("nope"), patched.pop("id-1")]
    assert [getattr(m, "data", m) for m in got] == [getattr(m, "data", m) for m in expected]
    assert got[0].data == 1  # type: ignore[union-attr]
    assert got[1] is types.empty_sentinel and got[2] is types.empty_sentinel
    assert patched.size == original.size == 2
    assert patched._memos is before  # removed in place: no rebuild per pop


def test_the_sdks_own_pop_rebuilds_the_dict_on_each_pop(unpatched: None) -> None:
    memos = _memos(3)
    before = memos._memos
    memos.pop("id-0")
    assert memos._memos is not before  # what makes a call quadratic in its memos


def test_build_client_applies_the_patch_once(unpatched: None) -> None:
    assert not sdk_memos.is_patched()
    build_client(Settings(inngest_dev=True))
    build_client(Settings(inngest_dev=True))
    assert sdk_memos.is_patched()


def test_another_sdk_version_or_another_patched_function_fails_loudly() -> None:
    sdk_memos.check_sdk()  # the installed one is the reviewed one
    with pytest.raises(sdk_memos.SdkPatchError, match=r"inngest 0\.6\.0 is installed"):
        sdk_memos.check_sdk("0.6.0")

    def pop(self: Any, hashed_id: str) -> Any:  # an upgrade that changed the method
        return self._memos.get(hashed_id)

    names = (
        "pop",
        "run",
        "from_raw",
        "values",
        "canonicalize",
        "ServerRequest.from_raw",
        "ExecutionV0.report_step",
        "StepBase._parse_step_id",
        "StepIDCounter.increment",
        "hash_step_id",
        "Inngest._deserialize",
        "ServerRequest",
        "ServerRequestCtx",
        "ServerRequestCtxStack",
        "Event",
    )
    for name in names:
        with pytest.raises(sdk_memos.SdkPatchError, match=f"{name} is not the code"):
            sdk_memos.check_sdk("0.5.19", {name: pop})


@pytest.mark.parametrize(
    "raw",
    [
        {"data": {"page": 1}},
        {"data": None},
        {"data": [1, "x"]},
        {"error": {"name": "Error", "message": "boom", "stack": "s"}},
        None,  # a sleep
        {"name": "t/event", "data": {"a": 1}, "id": "e", "ts": 1},  # a wait's event
        {"data": 1, "extra": 2},
        "text",
    ],
)
def test_memos_parse_as_the_sdk_parses_them(unpatched: None, raw: Any) -> None:
    expected = StepMemos.from_raw({"k": raw}).pop("k")
    sdk_memos.patch_step_memos()
    got = StepMemos.from_raw({"k": raw}).pop("k")
    assert type(got) is type(expected)
    assert got.model_dump() == expected.model_dump()  # type: ignore[union-attr]
    assert got.model_fields_set == expected.model_fields_set  # type: ignore[union-attr]


# Bodies the fast path canonicalises itself: each must give the SDK's exact bytes
FAST_CASES = [
    b'{"b":1,"a":{"d":[3,2,1],"c":"x"},"steps":{}}',
    b'{"z": true, "y": null, "x": false, "w": -900719925474099}',
    b'[1, {"b": 2, "a": 1}, "s"]',
    b"{}",
    # floats: integral, exponents both ways, the limits of RFC 8785's fixed notation, -0
    b'{"f": 1.0, "g": 1e21, "h": 0.000001, "i": 1e-7, "j": -0.0, "k": 1E+2, "l": 0.1}',
    b"[5e-324, 1.7976931348623157e308, 123456789012345680000.0, 1e20, 99.5, -2.5e-5]",
    # non-ASCII and escapes: keys sorted by UTF-16 code unit, strings written as `jcs` does
    '{"é": 1, "e": "ü", "z": "日本", "a": "😀"}'.encode(),
    '{"😀": 2, "a": 1, "é": 3}'.encode(),  # astral, with nothing in U+E000-U+FFFF
    '{"\uffff": 3, "\ue000": 4, "é": 1}'.encode(),  # top of the BMP, with nothing astral
    b'{"esc": "a\\nb\\u0001\\"c\\\\", "slash": "\\/", "u": "\\u00e9\\u2028"}',
    b'{"pair": "\\ud83d\\ude00"}',  # an escaped surrogate pair is one character
    b'{"a": "\x7f"}',
]
# Bodies the fast path leaves to the SDK's own code (None): it could not write them exactly
FALLBACK_CASES = [
    b'{"big": 9007199254740993}',  # past 2^53: RFC 8785 writes it as a double would be
    b"[1,\n -9007199254740993]",
    b"9007199254740993",
    '{"😀": 2, "\uffff": 3}'.encode(),  # sorted apart by code point and by UTF-16 unit
    b'{"\\ud83d\\ude00": 2, "\\uffff": 3}',  # the same, escaped
    b'{"a": NaN}',
    b'{"a": 1e400}',  # past the double's range
    b'{"lone": "\\ud800"}',
    b'{"a": "\xff"}',  # not UTF-8
    '{"a": 1}'.encode("utf-16"),
    b"\xef\xbb\xbf{}",
    b"{not json",
]
CANONICAL_CASES = FAST_CASES + FALLBACK_CASES


@pytest.mark.parametrize("body", CANONICAL_CASES)
def test_canonicalization_gives_exactly_the_rfc_8785_bytes(unpatched: None, body: bytes) -> None:
    expected = transforms.canonicalize(body)
    sdk_memos.patch_step_memos()
    _assert_same_canonical(transforms.canonicalize(body), expected)


def _assert_same_canonical(got: bytes | Exception, expected: bytes | Exception) -> None:
    """The same bytes, or an error where the SDK's own code gives one."""
    if isinstance(expected, Exception):
        assert isinstance(got, Exception)
    else:
        assert got == expected


def test_the_fast_canonical_path_is_taken_only_where_it_is_exact() -> None:
    for body in FAST_CASES:
        assert sdk_memos.fast_canonical(body) == jcs.canonicalize(json.loads(body)), body
    for body in FALLBACK_CASES:
        assert sdk_memos.fast_canonical(body) is None, body
    hashes = {hashlib.sha1(str(i).encode()).hexdigest(): {"data": i} for i in range(500)}  # noqa: S324
    body = json.dumps({"steps": hashes, "n": 123456789012345}).encode()
    assert sdk_memos.fast_canonical(body) == jcs.canonicalize(json.loads(body))


def test_orjson_writes_a_double_as_rfc_8785_unless_it_writes_an_exponent_or_a_trailing_0() -> None:
    """The rule `sdk_json` keeps a float's `orjson` text by (else it writes `jcs`'s own)."""
    from jcs.ntoj import convert2Es6Format

    rng = random.Random(7)
    reformatted = 0
    for i in range(60_000):
        if i % 3 == 0:  # any double: random bits
            x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        elif i % 3 == 1:
            x = rng.uniform(-1e6, 1e6)
        else:  # short decimals at every scale: integral ones, the fixed-notation limits
            x = round(rng.uniform(-1000, 1000), rng.randrange(6)) * 10.0 ** rng.randrange(-9, 23)
        if not math.isfinite(x):
            continue
        alike = sdk_json._written_alike(x)
        reformatted += not alike
        if alike:
            assert orjson.dumps(x) == convert2Es6Format(x).encode(), x
        sdk_json._FLOATS.reformat = 0
        assert sdk_json._float(repr(x)) == x
        if not sdk_json._FLOATS.reformat:  # the parser's quicker test errs only the safe way
            assert alike, x
    assert 10_000 < reformatted < 50_000  # both kinds were drawn


def test_random_bodies_canonicalize_identically(unpatched: None) -> None:
    rng = random.Random(21)
    words = ["a", "b", "page", "Z", "_x", "0", "data", "steps", "é", "\t"]

    def value(depth: int) -> Any:
        kind = rng.randrange(7 if depth < 4 else 4)
        if kind == 0:
            return rng.randrange(-(2**60), 2**60) if rng.random() < 0.1 else rng.randrange(-99, 99)
        if kind == 1:
            return rng.choice(words) * rng.randrange(3)
        if kind == 2:
            return rng.choice([True, False, None])
        if kind == 3:
            return rng.random() * 10 if rng.random() < 0.2 else rng.randrange(5)
        if kind in (4, 5):
            return {rng.choice(words) + str(i): value(depth + 1) for i in range(rng.randrange(4))}
        return [value(depth + 1) for _ in range(rng.randrange(4))]

    bodies = [json.dumps(value(0), ensure_ascii=rng.random() < 0.5).encode() for _ in range(300)]
    expected = [transforms.canonicalize(b) for b in bodies]
    sdk_memos.patch_step_memos()
    assert [transforms.canonicalize(b) for b in bodies] == expected


def _app(client: inngest.Inngest, n_steps: int) -> Starlette:
    @client.create_function(fn_id="steps", trigger=inngest.TriggerEvent(event="t/steps"))
    async def steps(ctx: inngest.Context) -> list[int]:
        seen = []
        for i in range(n_steps):

            async def one(i: int = i) -> int:
                return i * 10

            seen.append(await ctx.step.run(f"s-{i}", one))
        return seen

    return Starlette(routes=inngest_routes(client, [steps]))


async def _replay(client: inngest.Inngest, memoized: int, n_steps: int) -> tuple[int, Any]:
    """One call with `memoized` steps memoized, through our adapter."""
    memos = {
        hashlib.sha1(f"s-{i}".encode()).hexdigest(): {"data": i * 10}  # noqa: S324
        for i in range(memoized)
    }
    body = step_call({"name": "t/steps", "data": {}, "id": "e1", "ts": 1}, run_id="r1", steps=memos)
    transport = httpx.ASGITransport(app=_app(client, n_steps))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        response = await http.post(
            f"/api/inngest?fnId={client.app_id}-steps&stepId=step",
            content=body,
            headers={"Content-Type": "application/json", "X-Inngest-Server-Kind": "dev"},
        )
    return response.status_code, json.loads(response.content)


async def test_a_replay_through_the_app_gives_the_same_answer_patched_or_not(
    unpatched: None,
) -> None:
    sdk = inngest.Inngest(app_id="inngest-app", is_production=False)
    expected = [await _replay(sdk, 40, 50), await _replay(sdk, 50, 50)]
    ours = build_client(Settings(inngest_dev=True))  # patches
    assert sdk_memos.is_patched()
    got = [await _replay(ours, 40, 50), await _replay(ours, 50, 50)]
    assert got == expected
    status, [op] = got[0]
    assert status == 206 and op["op"] == "StepRun" and op["displayName"] == "s-40"
    assert op["data"] == 400
    assert got[1] == (200, [i * 10 for i in range(50)])


def _every_kind_of_step(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    attempts: dict[str, int] = {}

    @client.create_function(fn_id="kinds", trigger=inngest.TriggerEvent(event="t/kinds"), retries=1)
    async def kinds(ctx: inngest.Context) -> Any:
        async def value(n: int) -> int:
            return n

        async def flaky() -> str:
            attempts["flaky"] = attempts.get("flaky", 0) + 1
            if attempts["flaky"] < 2:
                raise ValueError("once")
            return "ok"

        async def broken() -> None:
            raise ValueError("for good")

        seen: list[Any] = [await ctx.step.run("same", value, 1)]
        seen.append(await ctx.step.run("same", value, 2))  # a repeated id: "same:1"
        seen.append(await ctx.step.run("flaky", flaky))
        try:
            await ctx.step.run("broken", broken)
        except inngest.StepError as exc:
            seen.append(f"caught {exc.message}")
        await ctx.step.sleep("nap", dt.timedelta(minutes=5))
        seen.append(
            list(
                await ctx.group.parallel(
                    (
                        lambda: ctx.step.run("left", value, 3),
                        lambda: ctx.step.run("right", value, 4),
                    )
                )
            )
        )
        waited = await ctx.step.wait_for_event(
            "wait", event="t/never", timeout=dt.timedelta(minutes=1)
        )
        seen.append(waited)
        for i in range(30):
            seen.append(await ctx.step.run(f"loop-{i}", value, i))
        return seen

    return [kinds]


async def _history() -> tuple[Any, list[tuple[str | None, str]]]:
    async with mini_app(_every_kind_of_step) as mini:
        [event_id] = await mini.executor.send({"name": "t/kinds", "data": {}})
        run = await mini.executor.wait_for(lambda r: r.event["id"] == event_id)
        assert run.status == "completed", run.error
        return run.output, [(r.name, r.op) for r in run.step_log]


async def test_runs_of_every_kind_of_step_are_the_same_patched_or_not(unpatched: None) -> None:
    expected = await _history()
    sdk_memos.patch_step_memos()
    assert await _history() == expected
    output = expected[0]
    assert output[:5] == [1, 2, "ok", "caught for good", [3, 4]]
    assert output[5] is None and output[6:] == list(range(30))


def test_integers_past_2_53_take_the_sdks_encoder_and_others_the_fast_one() -> None:
    safe = 2**53 - 1
    for n in (safe, -safe, 10**15, 0):
        body = json.dumps({"n": n, "h": "1234567890123456789"}).encode()
        assert sdk_memos.fast_canonical(body) == jcs.canonicalize(json.loads(body)), n
    for n in (safe + 1, -safe - 1, 10**16, 99999999999999999, 2**64, 10**30):
        body = json.dumps({"n": [n]}).encode()
        assert sdk_memos.fast_canonical(body) is None, n
        assert transforms.canonicalize(body) == jcs.canonicalize(json.loads(body))


def _request_body(rng: random.Random, memos: int) -> bytes:
    def value(depth: int) -> Any:
        kind = rng.randrange(6 if depth < 3 else 3)
        if kind == 0:
            if rng.random() < 0.2:  # floats of every form RFC 8785 writes its own way
                return rng.choice([0.5, 1.0, -0.0, 1e21, 1e-7, 2.5e-5, 1e300, rng.random() * 50])
            return rng.randrange(-(10**14), 10**14) if rng.random() < 0.3 else rng.randrange(-9, 99)
        if kind == 1:
            words = ["", "a", "page", "x y", "0e5", "1.5", "Z_", 'q"\\', "\n\t", "é", "日本"]
            return rng.choice(words + ["😀", "\uffff", "\u2028"] if rng.random() < 0.1 else words)
        if kind == 2:
            return rng.choice([True, False, None])
        if kind == 3:
            return {rng.choice("abcz") + str(i): value(depth + 1) for i in range(rng.randrange(4))}
        return [value(depth + 1) for _ in range(rng.randrange(4))]

    steps = {
        hashlib.sha1(f"s-{i}".encode()).hexdigest(): rng.choice(  # noqa: S324
            [{"data": value(0)}, {"error": {"name": "E", "message": "m"}}, None, value(0)]
        )
        for i in range(memos)
    }
    event = {"name": "t/e", "data": {"k": value(0)}, "id": "e", "ts": rng.randrange(10**12)}
    if rng.random() < 0.2:
        event["data"] = None
    return step_call(event, run_id=f"r{rng.randrange(99)}", steps=steps)


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    _containers,
    max_leaves=30,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_JSON, ascii_only=st.booleans())
def test_any_json_body_parses_and_canonicalizes_as_the_sdk_reads_it(
    value: Any, ascii_only: bool
) -> None:
    """Whatever the fast path takes, it reads as `json.loads` does (types included: 1 is not
    1.0) and writes as the SDK's own RFC 8785 encoder does."""
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    parsed, _ = sdk_json._parse(body)
    if parsed is not sdk_json._MISSING:
        assert repr(parsed) == repr(json.loads(body))
    _assert_same_canonical(sdk_json.canonicalize(body), sdk_json.SDK_CANONICALIZE(body))


def test_the_fast_path_takes_what_real_step_outputs_hold() -> None:
    """Text in any script, emoji, escapes and floats stay on the fast path."""
    outputs = {
        "title": "Fix 🐛 in café’s “parser” <b>&</b>",
        "body": "line\nnext\ttab \u2028 日本語",
        "score": 0.87,
        "cost_usd": 0.0,
        "ms": 1234.0,
        "tiny": 1e-9,
    }
    for ascii_only in (False, True):
        body = json.dumps({"steps": {"a" * 40: {"data": outputs}}}, ensure_ascii=ascii_only)
        assert sdk_json.fast_canonical(body.encode()) == jcs.canonicalize(json.loads(body))


def _through_adapter(body: bytes) -> tuple[Any, Any]:
    """What the adapter, then the SDK's signature check and request parse, make of a body."""
    parsed = sdk_json.load_request_body(body)
    try:
        canonical = transforms.canonicalize(body)
        request = server_lib.ServerRequest.from_raw(body)
    finally:
        sdk_json.forget_request_body()
    return (parsed, canonical, request), _dump(request)


def _dump(request: Any) -> Any:
    if isinstance(request, Exception):
        return type(request).__name__, str(request)
    return type(request), request.model_dump(), request.model_fields_set


HOSTILE_BODIES = [
    b'{"ctx": 1}',
    b'{"ctx":{"attempt":"0"}}',
    b"[1,2]",
    b'{"event":{"name":"a"},"steps":{},"use_api":false,"ctx":{"attempt":true,'
    b'"disable_immediate_execution":false,"run_id":"r","stack":{"stack":null}}}',
    b'{"event":{"name":"a"},"steps":{"x":1.5},"use_api":false,"ctx":{"attempt":1,'
    b'"disable_immediate_execution":false,"run_id":"r","stack":{}}}',
    b'{"event":{"name":"a","ts":12345678901234567},"steps":{},"use_api":false,"ctx":{"attempt":1,'
    b'"disable_immediate_execution":false,"run_id":"r","stack":{}}}',
    b'{"a": NaN}',
    b'{"a":1,"a":2}',
    b'{"event":{"name":"a","ts":1,"data":{"big":123456789012345678901234567890}},"steps":'
    b'{"x":{"data":-99999999999999999999}},"use_api":false,"ctx":{"attempt":1,'
    b'"disable_immediate_execution":false,"run_id":"r","stack":{}}}',
    b"[" * 300 + b"]" * 300,
    # what the fast parser must refuse (floats of every spelling, NaN and Infinity, control
    # characters, a BOM, trailing data) or read exactly (integers at and past 2^53 and 2^64)
    b'{"event":{"name":"a","ts":1,"data":{"e":1e5,"E":2E-3,"z":-0.0,"n":-0}},"steps":{},'
    b'"use_api":false,"ctx":{"attempt":1,"disable_immediate_execution":false,"run_id":"r",'
    b'"stack":{}}}',
    b'{"event":{"name":"a","ts":1,"data":{"i":9007199254740991,"j":-9007199254740991,'
    b'"k":9007199254740992,"u":18446744073709551616}},"steps":{},"use_api":false,"ctx":'
    b'{"attempt":1,"disable_immediate_execution":false,"run_id":"r","stack":{}}}',
    b'{"a": Infinity}',
    b'{"a": -Infinity}',
    b'{"a": "escaped\\ttab"}',
    b'{"a": "raw\tcontrol"}',
    b"\xef\xbb\xbf{}",
    b'{"a": 1} x',
    b'{"a": ' + b"[" * 1200 + b"]" * 1200 + b"}",
    b"{not json",
]


def _json_or_error(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def test_a_body_that_is_no_json_is_refused_as_json_refuses_it() -> None:
    refused = [b for b in HOSTILE_BODIES if _json_or_error(b) is None]
    assert len(refused) == 4  # a raw control character, trailing data, nesting, not JSON
    for body in refused:
        with pytest.raises((ValueError, RecursionError)):
            sdk_json.load_request_body(body)
        assert sdk_json._BODY.get() is None  # nothing kept
        assert sdk_json.fast_canonical(body) is None  # the SDK's own code says why


def test_a_kept_body_parses_and_canonicalizes_as_the_sdk_parses_it(unpatched: None) -> None:
    rng = random.Random(11)
    bodies = [_request_body(rng, rng.choice([0, 1, 3, 20])) for _ in range(200)]
    bodies += [b for b in HOSTILE_BODIES if _json_or_error(b) is not None]
    expected = []
    for body in bodies:
        request = server_lib.ServerRequest.from_raw(body)
        expected.append((transforms.canonicalize(body), _dump(request)))
    sdk_memos.patch_step_memos()
    got = []
    for body in bodies:
        (parsed, canonical, _), dumped = _through_adapter(body)
        assert parsed == json.loads(body)
        got.append((canonical, dumped))
    for (canonical, dumped), (want_canonical, want_dumped) in zip(got, expected, strict=True):
        _assert_same_canonical(canonical, want_canonical)
        assert dumped == want_dumped
    assert sum(isinstance(d[0], type) for _, d in got) > 200  # most bodies are valid requests


def test_the_kept_parse_is_handed_to_the_sdk_once_and_only_for_its_own_body() -> None:
    sdk_memos.patch_step_memos()
    body = _request_body(random.Random(3), 2)
    parsed = sdk_json.load_request_body(body)
    try:
        other = body.replace(b'"run_id":"r', b'"run_id":"q', 1)
        assert server_lib.ServerRequest.from_raw(other).ctx.run_id.startswith("q")  # type: ignore[union-attr]
        first = server_lib.ServerRequest.from_raw(body)
        second = server_lib.ServerRequest.from_raw(body)  # parsed anew: the first owns the kept one
        assert first == second and first is not second
        assert first.steps is parsed["steps"] or first.steps == parsed["steps"]  # type: ignore[union-attr,index,call-overload]
        assert second.steps is not parsed["steps"]  # type: ignore[union-attr,index,call-overload]
    finally:
        sdk_json.forget_request_body()
    assert sdk_json._BODY.get() is None


async def test_the_adapter_forgets_the_kept_body_after_each_request() -> None:
    client = build_client(Settings(inngest_dev=True))
    assert sdk_memos.is_patched()
    body = step_call({"name": "t/steps", "data": {}, "id": "e1", "ts": 1}, run_id="r1", steps={})
    transport = httpx.ASGITransport(app=_app(client, 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        response = await http.post(
            f"/api/inngest?fnId={client.app_id}-steps&stepId=step",
            content=body,
            headers={"Content-Type": "application/json", "X-Inngest-Server-Kind": "dev"},
        )
        assert response.status_code == 206
        assert sdk_json._BODY.get() is None


def test_freezing_the_startup_heap_takes_it_out_of_full_collections() -> None:
    assert gc.get_freeze_count() == 0
    try:
        frozen = heap.freeze_startup_heap()
        assert frozen == gc.get_freeze_count() > 10_000  # modules, schemas, the SDK: the process
        assert len(gc.get_objects(generation=2)) < 1_000  # what a full pass still walks
    finally:
        gc.unfreeze()


class _Page(pydantic.BaseModel):
    n: int
    rows: list[str]


def _typed_app(client: inngest.Inngest) -> Starlette:
    @client.create_function(fn_id="typed", trigger=inngest.TriggerEvent(event="t/typed"))
    async def typed(ctx: inngest.Context) -> list[Any]:
        async def page(n: int) -> _Page:
            return _Page(n=n, rows=[f"r{n}"])

        async def plain(n: int) -> int:
            return n

        seen: list[Any] = []
        for i in range(4):  # one id, reused: "p", "p:1", "p:2", "p:3"
            got = await ctx.step.run("p", page, i, output_type=_Page)
            seen.append([type(got).__name__, got.model_dump()])
            seen.append(await ctx.step.run("plain", plain, i))  # no output_type: as memoized
        return seen

    return Starlette(routes=inngest_routes(client, [typed]))


async def _typed_call(client: inngest.Inngest, memoized: int) -> tuple[int, Any]:
    ids = [f"{name}:{i}" if i else name for i in range(4) for name in ("p", "plain")]
    values = [v for i in range(4) for v in ({"n": i, "rows": [f"r{i}"]}, i)]
    memos = {
        hashlib.sha1(step_id.encode()).hexdigest(): {"data": value}  # noqa: S324
        for step_id, value in list(zip(ids, values, strict=True))[:memoized]
    }
    body = step_call({"name": "t/typed", "data": {}, "id": "e1", "ts": 1}, run_id="r1", steps=memos)
    transport = httpx.ASGITransport(app=_typed_app(client))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        response = await http.post(
            f"/api/inngest?fnId={client.app_id}-typed&stepId=step",
            content=body,
            headers={"Content-Type": "application/json", "X-Inngest-Server-Kind": "dev"},
        )
    return response.status_code, json.loads(response.content)


async def test_replayed_steps_with_reused_ids_and_a_serializer_answer_as_the_sdks(
    unpatched: None,
) -> None:
    def client() -> inngest.Inngest:
        return inngest.Inngest(
            app_id="inngest-app", is_production=False, serializer=inngest.PydanticSerializer()
        )

    expected = [await _typed_call(client(), n) for n in (0, 3, 5, 8)]
    sdk_memos.patch_step_memos()
    got = [await _typed_call(client(), n) for n in (0, 3, 5, 8)]
    assert got == expected
    status, [op] = got[2]
    assert status == 206 and op["displayName"] == "plain" and op["data"] == 2
    pages = [[["_Page", {"n": i, "rows": [f"r{i}"]}], i] for i in range(4)]
    assert got[3] == (200, [x for pair in pages for x in pair])  # every step replayed, typed


_CALL_KEYS = {"ctx", "event", "events", "steps", "use_api", "version"}


async def test_no_request_body_parse_is_left_to_the_cycle_collector() -> None:
    """The SDK starts a timing task on every call and cancels it, which leaves the task (and the
    context it copied, our kept parse included) in a reference cycle: the parse, memos and all,
    then lived until a collection. The kept parse is emptied from every copy at the end, and
    the memos of the request model the SDK keeps in cycles of its own are emptied once the
    answer is complete: they are freed at once, not walked and freed by the collector."""
    client = build_client(Settings(inngest_dev=True))

    def key(i: int) -> str:
        return hashlib.sha1(f"s-{i}".encode()).hexdigest()  # noqa: S324

    memos = {key(i): {"data": {"page": i}, "error": None} for i in range(30)}  # by the SDK
    memos |= {key(i): {"data": {"page": i}} for i in range(30, 60)}  # replayed by the patch
    body = step_call({"name": "t/steps", "data": {}, "id": "e1", "ts": 1}, run_id="r1", steps=memos)
    transport = httpx.ASGITransport(app=_app(client, 61))
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            response = await http.post(
                f"/api/inngest?fnId={client.app_id}-steps&stepId=step",
                content=body,
                headers={"Content-Type": "application/json", "X-Inngest-Server-Kind": "dev"},
            )
        assert response.status_code == 206
        for _ in range(5):  # the cancelled timing task ends on the loop's next turns
            await asyncio.sleep(0)
        gc.collect()
        assert any(isinstance(o, asyncio.Task) for o in gc.garbage)  # the SDK's cycle, still
        kept = [o for o in gc.garbage if isinstance(o, dict) and set(o) == _CALL_KEYS]
        assert kept == []
        memo_like = [o for o in gc.garbage if isinstance(o, dict) and "page" in o.get("data", ())]
        assert memo_like == []
        assert not [o for o in gc.garbage if isinstance(o, server_lib.ServerRequest) and o.steps]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def test_a_streamed_answer_replays_the_memos_it_was_sent() -> None:
    """A streamed answer is written after the endpoint returns, while the function still runs:
    its request keeps its memos (they are emptied only once an answer is complete)."""
    memos = {
        hashlib.sha1(f"s-{i}".encode()).hexdigest(): {"data": i * 10}  # noqa: S324
        for i in range(30)
    }
    body = step_call({"name": "t/steps", "data": {}, "id": "e1", "ts": 1}, run_id="r1", steps=memos)
    answers = []
    for streaming in (const.Streaming.DISABLE, const.Streaming.FORCE):
        client = build_client(Settings(inngest_dev=True))

        @client.create_function(fn_id="steps", trigger=inngest.TriggerEvent(event="t/steps"))
        async def steps(ctx: inngest.Context) -> list[int]:
            seen = []
            for i in range(31):

                async def one(i: int = i) -> int:
                    return i * 10

                seen.append(await ctx.step.run(f"s-{i}", one))
            return seen

        app = Starlette(routes=inngest_routes(client, [steps], streaming=streaming))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            response = await http.post(
                f"/api/inngest?fnId={client.app_id}-steps&stepId=step",
                content=body,
                headers={"Content-Type": "application/json", "X-Inngest-Server-Kind": "dev"},
            )
        answers.append(response.json())
        assert sdk_json._BODY.get() is None
    plain, streamed = answers
    assert streamed["status"] == 206 and json.loads(streamed["body"]) == plain
    [op] = plain
    assert op["displayName"] == "s-30" and op["data"] == 300  # 30 replayed, the 31st run


def test_the_adapters_request_model_is_the_one_the_sdk_gets_for_that_body(
    unpatched: None,
) -> None:
    body = _request_body(random.Random(5), 3)
    expected = server_lib.ServerRequest.from_raw(body)  # the SDK's own: model_validate_json
    sdk_memos.patch_step_memos()
    parsed = sdk_json.load_request_body(body)
    try:
        model = sdk_json.validate_request(parsed)
        other = body.replace(b'"run_id":"r', b'"run_id":"q', 1)
        assert server_lib.ServerRequest.from_raw(other) is not model  # another body: its own
        handed = server_lib.ServerRequest.from_raw(body)
        assert handed is model and handed == expected
        again = server_lib.ServerRequest.from_raw(body)  # handed once: parsed anew after that
        assert again is not model and again == expected
    finally:
        sdk_json.forget_request_body()
    unkept = sdk_json.validate_request(json.loads(body))  # not the kept parse: nothing kept
    assert server_lib.ServerRequest.from_raw(body) is not unkept
    with pytest.raises(pydantic.ValidationError):
        sdk_json.validate_request({"ctx": {}})


def test_a_copied_context_loses_the_kept_parse_with_the_request() -> None:
    import contextvars

    body = _request_body(random.Random(6), 2)
    ctx = contextvars.copy_context()
    parsed = ctx.run(sdk_json.load_request_body, body)
    copy = ctx.run(contextvars.copy_context)  # as `asyncio.create_task` does
    assert copy.run(sdk_json.fast_canonical, body) == transforms.canonicalize(body)
    ctx.run(sdk_json.forget_request_body)
    holder = copy[sdk_json._BODY]
    assert holder is not None and holder.parsed is None and holder.model is None
    assert copy.run(sdk_json._holder, body) is None  # the copy no longer hands anything out
    assert isinstance(parsed, dict)


def test_the_replays_memory_is_bounded_and_right_past_its_bound() -> None:
    """The remembered hashed step ids and the canonical texts of floats are caches with a cap:
    filled past it, they are emptied and refilled, never larger, and still give the right
    answer."""
    from jcs.ntoj import convert2Es6Format

    for i in range(sdk_memos._HASHES_MAX + 10):
        sdk_memos._hashed(f"bound-{i}")
        assert len(sdk_memos._HASHES) <= sdk_memos._HASHES_MAX
    assert sdk_memos._hashed("bound-0") == transforms.hash_step_id("bound-0")
    assert sdk_memos._HASHES_MAX == 16_384
    for i in range(sdk_json._CANONICAL_FLOATS_MAX + 10):
        got = sdk_json._canonical_float(f"{i}.0")
        assert orjson.dumps(got) == convert2Es6Format(float(i)).encode()
        assert len(sdk_json._CANONICAL_FLOATS) <= sdk_json._CANONICAL_FLOATS_MAX
    assert sdk_json._CANONICAL_FLOATS_MAX == 4_096
