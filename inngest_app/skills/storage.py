"""Where skill outputs live: Supabase Storage when Supabase is configured, else `.data/outputs`.

Keys follow the seed's names (`{clientSlug}-{skill}-{date}.md`, else `output-{skill}-{date}.md`)
under the run id, so two runs on one day never overwrite each other, and writing a key again
(a retried step) replaces the same object instead of making a second one.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path
from typing import Protocol

import httpx
from storage3._async.file_api import AsyncBucketProxy
from storage3.exceptions import StorageApiError
from supabase import AsyncClient, AsyncClientOptions, acreate_client

PREVIEW_CHARS = 500
TITLE_CHARS = 200
_KEY = re.compile(r"^[0-9a-f-]{36}/[a-z0-9][a-z0-9.-]{0,200}\.md$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


class StorageError(Exception):
    """An output could not be written or read; `retryable` says whether trying again can help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def output_key(run_id: uuid.UUID, *, skill: str, day: str, client_slug: str | None) -> str:
    """`<run id>/<clientSlug>-<skill>-<YYYY-MM-DD>.md`, or `<run id>/output-<skill>-<date>.md`."""
    stem = f"{client_slug}-{skill}-{day}" if client_slug else f"output-{skill}-{day}"
    return f"{run_id}/{stem}.md"


def title_of(text: str, *, fallback: str) -> str:
    """The first Markdown heading, else `fallback`, at most 200 characters."""
    match = _HEADING.search(text)
    title = match.group(1).strip() if match else fallback
    return title[:TITLE_CHARS] or fallback[:TITLE_CHARS]


def preview_of(text: str) -> str:
    """The first 500 characters, whitespace collapsed."""
    return " ".join(text.split())[:PREVIEW_CHARS]


def _checked(key: str) -> str:
    if not _KEY.match(key):
        raise StorageError(f"not an output key: {key!r}", retryable=False)
    return key


class OutputStorage(Protocol):
    """Puts and gets output bodies by key."""

    kind: str

    async def put(self, key: str, body: bytes, *, content_type: str) -> None:
        """Write (or overwrite) `key`."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The body at `key`, or None if there is none."""
        ...


class LocalStorage:
    """Files under a folder (default `.data/outputs`), written atomically."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        return self._root / _checked(key)

    async def put(self, key: str, body: bytes, *, content_type: str) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{uuid.uuid4().hex}.part")
            partial.write_bytes(body)
            os.replace(partial, path)

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            raise StorageError(f"could not write {key}: {exc.strerror}", retryable=True) from None

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"could not read {key}: {exc.strerror}", retryable=True) from None


class SupabaseStorage:
    """A Supabase Storage bucket through the `supabase` package, on the app's HTTP client."""

    kind = "supabase"

    def __init__(self, *, url: str, service_role_key: str, bucket: str, http: httpx.AsyncClient):
        self._url, self._key, self._bucket, self._http = url, service_role_key, bucket, http
        self._client: AsyncClient | None = None

    async def _files(self) -> AsyncBucketProxy:
        if self._client is None:
            options = AsyncClientOptions(httpx_client=self._http, auto_refresh_token=False)
            self._client = await acreate_client(self._url, self._key, options=options)
        return self._client.storage.from_(self._bucket)

    async def put(self, key: str, body: bytes, *, content_type: str) -> None:
        files = await self._files()
        try:
            await files.upload(
                _checked(key), body, {"content-type": content_type, "upsert": "true"}
            )
        except StorageApiError as exc:
            raise _storage_error("upload", key, exc) from None
        except httpx.TransportError as exc:
            raise StorageError(
                f"Supabase Storage unreachable: {type(exc).__name__}", retryable=True
            ) from None

    async def get(self, key: str) -> bytes | None:
        files = await self._files()
        try:
            body: bytes = await files.download(_checked(key))
        except StorageApiError as exc:
            if _status(exc) in (400, 404) and "not" in str(exc.message).lower():
                return None
            raise _storage_error("download", key, exc) from None
        except httpx.TransportError as exc:
            raise StorageError(
                f"Supabase Storage unreachable: {type(exc).__name__}", retryable=True
            ) from None
        return body


def _status(exc: StorageApiError) -> int:
    try:
        return int(exc.status)
    except (TypeError, ValueError):
        return 500


def _storage_error(action: str, key: str, exc: StorageApiError) -> StorageError:
    status = _status(exc)
    return StorageError(
        f"Supabase Storage {action} of {key} answered {status}: {exc.message}",
        retryable=status >= 500 or status == 429,
    )
