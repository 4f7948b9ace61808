"""After-commit push of new alert ids to per-user Channels groups.

The database row is the alert; the push is only a nudge. If the channel layer is down the request
still succeeds and the alert is delivered on resume (the client asks for ids after its last one).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)
PUSH_TIMEOUT_S = 2.0


def user_group(user_id: int) -> str:
    return f"alerts.user.{user_id}"


def alerts_push_on_commit(alerts) -> None:
    ids_by_user: dict[int, list[int]] = defaultdict(list)
    for alert in alerts:
        ids_by_user[alert.recipient_id].append(alert.id)
    if ids_by_user:
        transaction.on_commit(lambda: alerts_push(dict(ids_by_user)), robust=True)


def alerts_push(ids_by_user: dict[int, list[int]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(_send_all)(layer, ids_by_user)
    except Exception:  # the alert rows are committed; resume delivers them
        logger.warning("alert push failed; clients will get these alerts on resume", exc_info=True)


def user_revoke(user_id: int) -> None:
    """Tell any open alert socket of this user to re-check and close."""
    _revoke_send(user_id, {"type": "user.revoked"})


def token_revoke(user_id: int, token_id: int) -> None:
    """Tell this user's open alert sockets that API token `token_id` was revoked: the ones
    opened with a ticket asked with it close."""
    _revoke_send(user_id, {"type": "token.revoked", "token": token_id})


def _revoke_send(user_id: int, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(_send)(layer, user_group(user_id), message)
    except Exception:
        logger.warning("revoke push failed; the socket closes at its next check", exc_info=True)


async def _send(layer, group: str, message: dict) -> None:
    await asyncio.wait_for(layer.group_send(group, message), PUSH_TIMEOUT_S)


async def _send_all(layer, ids_by_user: dict[int, list[int]]) -> None:
    await asyncio.gather(
        *(
            _send(layer, user_group(user_id), {"type": "alert.ids", "ids": ids})
            for user_id, ids in ids_by_user.items()
        )
    )
