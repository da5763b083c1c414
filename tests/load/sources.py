"""Loopback stand-ins for every third party the app calls, in one Starlette app.

- `GET /source/items?name=&pages=&page=&size=&delay_ms=`: a page-numbered JSON source; rows are
  `{"id": "<name>-<page>-<i>"}`, `pages` full pages then an empty one.
- `POST /slack/webhook`: a Slack-style incoming webhook (alerts), answers `ok`.
- `POST /openai/v1/chat/completions`: an OpenAI-compatible model; the answer names the prompt's
  length, so an output can be traced to its request.
- `POST /telegram/bot{token}/sendMessage`: Telegram's Bot API, answers `{"ok": true, ...}`.
- `GET /github/repos/{owner}/{name}/pulls/{n}` (+ `/reviews`, `/comments`) and
  `/issues/{n}/comments`: GitHub's REST API serving the recorded PyGithub responses of
  `/work/shared/fixtures/github/rest/recorded`, with ids made unique per repository and PR (so
  natural keys can be counted); a refusal is GitHub's recorded secondary-limit 403.

`limit(fraction, retry_after_s)` makes that share of source requests answer 429 with a
`Retry-After` until `unlimit()`; every request and every refusal is counted.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import random
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

# beside the repository, or beside the checkout a git worktree was made from (nearest ancestor)
SHARED_FIXTURES = next(
    (
        parent / "shared" / "fixtures"
        for parent in Path(__file__).resolve().parents
        if (parent / "shared" / "fixtures").is_dir()
    ),
    Path(__file__).resolve().parents[3] / "shared" / "fixtures",
)
GITHUB_FIXTURES = SHARED_FIXTURES / "github" / "rest" / "recorded"


@functools.cache
def recorded(name: str, index: int = 0) -> dict[str, Any]:
    """One recorded GitHub response (`{status, headers, body}`) of the PyGithub captures."""
    loaded = json.loads((GITHUB_FIXTURES / "pygithub" / name).read_text())
    response: dict[str, Any] = loaded[index]["response"]
    return response


def github_id(*parts: object) -> int:
    """A stable positive id for a repository / PR / review / comment of the stand-in."""
    return zlib.crc32("/".join(map(str, parts)).encode()) + 10_000_000_000


class StandIns:
    """The stand-ins and what they saw."""

    def __init__(self, *, seed: int = 16) -> None:
        self.base_url = ""
        self.seen: Counter[str] = Counter()
        self.posts: list[tuple[str, Any]] = []
        self.in_flight: Counter[int] = Counter()  # client port -> source requests being served
        self._limit_fraction = 0.0
        self._retry_after_s = 1
        self._github_retry_after_s = 3
        self._random = random.Random(seed)  # noqa: S311 (test traffic, not crypto)
        self.asgi = Starlette(
            routes=[
                Route("/source/items", self._items, methods=["GET"]),
                Route("/slack/webhook", self._slack, methods=["POST"]),
                Route("/openai/v1/chat/completions", self._model, methods=["POST"]),
                Route("/telegram/bot{token}/sendMessage", self._telegram, methods=["POST"]),
                Route("/github/repos/{owner}/{name}/pulls/{number:int}", self._gh_pull),
                Route("/github/repos/{owner}/{name}/pulls/{number:int}/reviews", self._gh_list),
                Route("/github/repos/{owner}/{name}/pulls/{number:int}/comments", self._gh_list),
                Route("/github/repos/{owner}/{name}/issues/{number:int}/comments", self._gh_list),
            ]
        )

    def app_env(self) -> dict[str, str]:
        """Environment variables pointing the app's third-party clients here (a family that
        is not on this branch ignores its variables)."""
        return {
            "GITHUB_TOKEN": "ghp_load_standin_token_0123456789",
            "GITHUB_API_URL": f"{self.base_url}/github",
            "OPENAI_API_KEY": "sk-load-standin-0123456789",
            "OPENAI_BASE_URL": f"{self.base_url}/openai/v1",
            "SKILL_PROVIDER": "openai",
            "SKILL_MODEL": "stand-in",
            # no TELEGRAM_BOT_TOKEN: the skills family's Telegram URL is fixed (api.telegram.org),
            # so the stand-in below cannot be reached until it has a base-URL setting
        }

    def limit(self, fraction: float, retry_after_s: int = 1, github_retry_after_s: int = 3) -> None:
        """From now on, answer `fraction` of source, model and GitHub requests with 429 (GitHub:
        its secondary-limit 403) and a Retry-After."""
        self._limit_fraction, self._retry_after_s = fraction, retry_after_s
        self._github_retry_after_s = github_retry_after_s

    def unlimit(self) -> None:
        """Stop refusing."""
        self._limit_fraction = 0.0

    def _limited(self, kind: str) -> Response | None:
        if self._limit_fraction and self._random.random() < self._limit_fraction:
            self.seen[f"{kind}:429"] += 1
            if kind == "github":  # GitHub's secondary limit, as recorded
                limit = recorded("error.403.secondary-rate-limit.retry-after.2018-10.json")
                return JSONResponse(
                    limit["body"],
                    status_code=403,
                    headers={"Retry-After": str(self._github_retry_after_s)},
                )
            return JSONResponse(
                {"error": "rate limited"},
                status_code=429,
                headers={"Retry-After": str(self._retry_after_s)},
            )
        return None

    async def _items(self, request: Request) -> Response:
        params = request.query_params
        self.seen["source"] += 1
        if (refusal := self._limited("source")) is not None:
            return refusal
        delay_ms = int(params.get("delay_ms", "0"))
        if delay_ms:
            port = request.client.port if request.client else 0
            self.in_flight[port] += 1
            try:
                await asyncio.sleep(min(delay_ms, 5000) / 1000)
            finally:
                self.in_flight[port] -= 1
        name, page = params.get("name", "q"), int(params.get("page", "1"))
        pages, size = int(params.get("pages", "1")), int(params.get("size", "10"))
        items = [] if page > pages else [{"id": f"{name}-{page}-{i}"} for i in range(size)]
        return JSONResponse({"items": items, "page": page})

    async def _slack(self, request: Request) -> Response:
        self.seen["slack"] += 1
        self.posts.append(("slack", json.loads(await request.body())))
        return PlainTextResponse("ok")

    async def _model(self, request: Request) -> Response:
        self.seen["model"] += 1
        if (refusal := self._limited("model")) is not None:
            return refusal
        body = json.loads(await request.body())
        prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        text = f"# Output\n\nA stand-in answer to a {len(prompt)}-character prompt.\n"
        return JSONResponse(
            {
                "id": f"chatcmpl-{self.seen['model']}",
                "object": "chat.completion",
                "created": 1764547200,
                "model": body.get("model", "stand-in"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": len(prompt) // 4,
                    "completion_tokens": 12,
                    "total_tokens": len(prompt) // 4 + 12,
                },
            }
        )

    async def _telegram(self, request: Request) -> Response:
        self.seen["telegram"] += 1
        body = json.loads(await request.body())
        self.posts.append(("telegram", body))
        message = {
            "message_id": self.seen["telegram"],
            "chat": {"id": body.get("chat_id")},
            "date": 1764547200,
            "text": body.get("text", ""),
        }
        return JSONResponse({"ok": True, "result": message})

    # --- GitHub ---------------------------------------------------------------------------------

    async def _gh_pull(self, request: Request) -> Response:
        self.seen["github"] += 1
        if (refusal := self._limited("github")) is not None:
            return refusal
        owner, name = request.path_params["owner"], request.path_params["name"]
        number = request.path_params["number"]
        pull = copy.deepcopy(recorded("pulls.get.PyGithub-3370.2026-01.json")["body"])
        pull.update(
            id=github_id(owner, name, "pr", number),
            node_id=f"PR_{owner}_{name}_{number}",
            number=number,
        )
        repo = pull["base"]["repo"]
        repo.update(
            id=github_id(owner, name),
            node_id=f"R_{owner}_{name}",
            name=name,
            full_name=f"{owner}/{name}",
        )
        repo["owner"]["login"] = owner
        return JSONResponse(pull)

    async def _gh_list(self, request: Request) -> Response:
        self.seen["github"] += 1
        if (refusal := self._limited("github")) is not None:
            return refusal
        owner, name = request.path_params["owner"], request.path_params["name"]
        number, path = request.path_params["number"], request.url.path
        if path.endswith("/reviews"):
            kind, items = "review", recorded("pulls.list-reviews.2018-03.json")["body"]
        elif "/pulls/" in path:
            kind, items = "rc", recorded("pulls.list-review-comments.2023-06.json")["body"]
        else:
            kind, items = "ic", recorded("issues.list-comments.paginated.2024-03.json")["body"]
        out = copy.deepcopy(items)
        for i, item in enumerate(out):
            item["id"] = github_id(owner, name, number, kind, i)
            item["node_id"] = f"{kind}_{owner}_{name}_{number}_{i}"
            if "pull_request_review_id" in item:
                item["pull_request_review_id"] = github_id(owner, name, number, "review", 0)
        return JSONResponse(out)
