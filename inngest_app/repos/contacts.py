"""A user's own clients and notification channels (the `/api/clients` and `/api/channels` API)."""

from __future__ import annotations

import uuid

from inngest_app.repos.skills import Channel, Client
from inngest_app.store import Transport


class ContactsRepo:
    """Create, list and delete a user's clients and channels; each call one SQL function."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def create_client(
        self, *, owner_id: str, slug: str, name: str, max_clients: int
    ) -> Client | None:
        """A client of `owner_id` (created, or renamed); None when the owner has `max_clients`."""
        args = {"p_owner_id": owner_id, "p_slug": slug, "p_name": name, "p_max": max_clients}
        row = await self._t.call("skill_client_create", args)
        return None if row.get("error") else Client.model_validate(row["client"])

    async def list_clients(self, owner_id: str) -> list[Client]:
        """`owner_id`'s clients, oldest first."""
        rows = await self._t.call("skill_client_list", {"p_owner_id": owner_id})
        return [Client.model_validate(r) for r in rows]

    async def delete_client(self, client_id: uuid.UUID, owner_id: str) -> bool:
        """Delete `owner_id`'s client; False if there is none (runs keep their history)."""
        args = {"p_id": client_id, "p_owner_id": owner_id}
        return bool(await self._t.call("skill_client_delete", args))

    async def create_channel(
        self, *, user_id: str, channel: str, target: str, max_channels: int
    ) -> Channel | None:
        """A channel of `user_id` (the same one again is the same row); None when full."""
        args = {
            "p_user_id": user_id,
            "p_channel": channel,
            "p_target": target,
            "p_max": max_channels,
        }
        row = await self._t.call("skill_channel_create", args)
        return None if row.get("error") else Channel.model_validate(row["channel"])

    async def list_channels(self, user_id: str) -> list[Channel]:
        """`user_id`'s channels, oldest first."""
        rows = await self._t.call("skill_channel_list", {"p_user_id": user_id})
        return [Channel.model_validate(r) for r in rows]

    async def delete_channel(self, channel_id: uuid.UUID, user_id: str) -> bool:
        """Delete `user_id`'s channel; False if there is none."""
        args = {"p_id": channel_id, "p_user_id": user_id}
        return bool(await self._t.call("skill_channel_delete", args))
