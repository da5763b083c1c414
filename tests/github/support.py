"""GitHub fixtures for tests: the shared recordings, served with respx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx


def _fixtures() -> Path:
    # `shared/` sits beside the repository; a worktree may be one level deeper.
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "fixtures" / "github"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("shared/fixtures/github not found above the tests")


FIXTURES = _fixtures()
SCHEMA = FIXTURES / "schema.graphql"


def load(relative: str) -> Any:
    """A fixture file's JSON."""
    return json.loads((FIXTURES / relative).read_text())


def recorded(relative: str) -> list[dict[str, Any]]:
    """A `{request, response}` recording (pygithub shape)."""
    entries: list[dict[str, Any]] = load(relative)
    return entries


def response_of(entry: dict[str, Any], **header_changes: str) -> httpx.Response:
    """The recorded response as an httpx response (headers as recorded, body re-encoded)."""
    raw = entry["response"]
    headers = [
        (k, v)
        for k, v in raw["headers"]
        if k.lower() not in {"content-length", "transfer-encoding", "content-encoding"}
        and k.lower() not in {h.lower().replace("_", "-") for h in header_changes}
    ]
    headers += [(k.replace("_", "-"), v) for k, v in header_changes.items()]
    return httpx.Response(raw["status"], headers=headers, json=raw["body"])
