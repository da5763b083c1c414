"""Output keys, titles, previews and the local store."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from inngest_app.skills.storage import (
    LocalStorage,
    StorageError,
    output_key,
    preview_of,
    title_of,
)

RUN = uuid.UUID("6f1c2b9e-3d4a-4f5b-8c7d-1e2f3a4b5c6d")


def test_keys_follow_the_seed_names_under_the_run_id() -> None:
    assert output_key(RUN, skill="marketing-brief", day="2026-12-01", client_slug="acme") == (
        f"{RUN}/acme-marketing-brief-2026-12-01.md"
    )
    assert output_key(RUN, skill="social-posts", day="2026-12-01", client_slug=None) == (
        f"{RUN}/output-social-posts-2026-12-01.md"
    )


def test_title_and_preview() -> None:
    assert title_of("intro\n## The Plan ##\n# Later", fallback="f") == "The Plan"
    assert title_of("no heading", fallback="brief 2026-12-01") == "brief 2026-12-01"
    assert len(title_of("# " + "x" * 300, fallback="f")) == 200
    text = "word  " * 300
    assert preview_of(text) == ("word " * 100)[:500]
    assert len(preview_of(text)) == 500


async def test_local_storage_overwrites_a_key_and_refuses_odd_keys(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    key = output_key(RUN, skill="s", day="2026-12-01", client_slug=None)
    assert await storage.get(key) is None
    await storage.put(key, b"one", content_type="text/markdown")
    await storage.put(key, b"two", content_type="text/markdown")
    assert await storage.get(key) == b"two"
    assert [p.name for p in (tmp_path / str(RUN)).iterdir()] == ["output-s-2026-12-01.md"]
    for bad in ("../etc/passwd", f"{RUN}/../../x.md", "/abs.md", f"{RUN}/x.txt"):
        with pytest.raises(StorageError):
            await storage.put(bad, b"x", content_type="text/plain")
