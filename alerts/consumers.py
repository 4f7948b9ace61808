"""`/ws/alerts/`: live alerts for one user, with resume from the last id and a heartbeat.

Protocol (API clients and static/js/live.js speak it): server → {"type": "alert", "alert": {...}}
(the alert as `AlertSerializer` renders it); client → {"type": "resume", "after": <id>} →
every newer alert the user may still see, in order, then {"type": "resumed"};
{"type": "ping"} ↔ {"type": "pong"}. Bad frames get {"type": "error", ...}; the socket stays open.
When the channel layer lost Redis (pushes made meanwhile never came), the socket is sent, unasked,
every alert after the client's last `resume` point that it was not sent yet (no `resumed` frame);
a socket whose client never resumed is closed with 1012 (service restart) so that it reconnects
and resumes (decision 0024).
Access is re-checked at every delivery; a user deactivated or without a case role is closed.

Signed in with a ticket (`?ticket=`, from `POST /api/v1/alerts/ticket/`) or, for the pages,
with the session cookie (channels' AuthMiddleware, config/asgi.py). The socket lasts as long as
the sign-in it was opened with: a session socket (the cookie, or a ticket asked with the session)
re-checks at every delivery, resume and ping that its session still holds the same sign-in; a
socket whose ticket was asked with an API token closes when the token expires (checked at every
delivery, resume and ping) or is revoked (a `token.revoked` push, and the token read again at
every ping). Signed out, expired or revoked → closed with 4401.
"""

from __future__ import annotations

import json
from collections import deque
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from alerts import push, selectors, services
from alerts.serializers import alerts_json
from cases import access

MAX_FRAME = 4096
CLOSE_UNAUTHORISED = 4401
CLOSE_REVOKED = 4403
CLOSE_SERVICE_RESTART = 1012


@database_sync_to_async
def _ticket_redeem(key: str):
    return services.ticket_redeem(key=key)


def _session_signed_in_as(session_key: str, user_id: int) -> tuple[bool, str | None]:
    """(whether the session is still there, unexpired, signed in as `user_id`; its sign-in's
    hash). Signing out deletes the session."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY

    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    return str(data.get(SESSION_KEY)) == str(user_id), data.get(HASH_SESSION_KEY)


@database_sync_to_async
def _session_hash_of(session_key: str, user_id: int) -> str | None:
    """The sign-in hash of the session a ticket was asked with, while it is signed in as that
    user; else None."""
    signed_in, session_hash = _session_signed_in_as(session_key, user_id)
    return session_hash if signed_in else None


_token_holds = database_sync_to_async(services.token_holds, thread_sensitive=False)


def _session_sign_in(session) -> tuple[str | None, str | None]:
    """(session key, the sign-in's hash) of a session channels resolved for the socket."""
    from django.contrib.auth import HASH_SESSION_KEY

    return session.session_key, session.get(HASH_SESSION_KEY)


def _session_holds_sync(session_key: str, user_id: int, session_hash: str | None) -> bool:
    """The session is still there, unexpired, signed in as the same user with the same hash
    (signing out deletes it; a password change elsewhere ends it at its next request)."""
    signed_in, now_hash = _session_signed_in_as(session_key, user_id)
    return signed_in and now_hash == session_hash


_session_holds = database_sync_to_async(_session_holds_sync, thread_sensitive=False)


@database_sync_to_async
def _still_allowed(user_id: int) -> bool:
    """User and role read fresh (`access.case_staff`), in one query."""
    return access.visible_family_ids_among(user_id=user_id, family_ids=()) is not None


def _deliverable_sync(user_id: int, ids=None, after=None) -> list[dict] | None:
    """The alerts to send (by pushed ids, or after an id), or None when the user may no longer
    see case data: user, role and grants read fresh, in one thread hop.

    Pushed ids (the hot path): two plain queries (`selectors.alerts_deliverable`). Resume: the
    alerts selector, paged by id."""
    if ids is not None:
        return selectors.alerts_deliverable(user_id=user_id, ids=ids)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(id=user_id).first()
    if user is None or access.case_staff(user) is None:
        return None
    alerts = selectors.alerts_after(user=user, after_id=after)
    return alerts_json(alerts)


# Not thread-sensitive: deliveries for different sockets run in parallel in the executor's
# threads instead of queueing behind each other on the one thread that every consumer of a
# process would otherwise share; each socket still handles its own messages in order.
# Measured with bench/alerts_latency.py (`make bench`).
_deliverable = database_sync_to_async(_deliverable_sync, thread_sensitive=False)


class AlertConsumer(AsyncWebsocketConsumer):
    user = None
    session_key = None  # set for a socket signed in with a session (cookie, or its ticket)
    session_hash = None
    token_id = None  # set for a socket whose ticket was asked with an API token
    token_expiry = None

    async def connect(self):
        user = await self._authenticate()
        if user is None or not await _still_allowed(user.id):
            await self.close(code=CLOSE_UNAUTHORISED)  # before accept: handshake refused
            return
        self.user = user
        self.group = push.user_group(user.id)
        self.sent = deque(maxlen=5000)
        self.sent_set: set[int] = set()
        self.resume_after: int | None = None  # the client's last resume point
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def _authenticate(self):
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        if "ticket" in query:
            ticket = await _ticket_redeem(query["ticket"][0])
            if ticket is None:
                return None
            if ticket.token_id is not None:
                self.token_id, self.token_expiry = ticket.token_id, ticket.token.expiry
            elif ticket.session_key:
                self.session_key = ticket.session_key
                self.session_hash = await _session_hash_of(ticket.session_key, ticket.user_id)
                if self.session_hash is None:
                    return None
            return ticket.user
        user = self.scope.get("user")
        if user is not None and user.is_authenticated and self.scope.get("session") is not None:
            self.session_key, self.session_hash = await database_sync_to_async(_session_sign_in)(
                self.scope["session"]
            )
            return user if self.session_key else None
        return None

    async def _signed_in(self, *, token_read: bool = False) -> bool:
        """While the sign-in the socket was opened with holds (else it is closed, 4401): a
        session, while it holds; an API token, until it expires (and, with `token_read`, while
        its row is there: a revoke also pushes `token.revoked`); a ticket asked otherwise: yes."""
        if self.session_key is not None:
            holds = await _session_holds(self.session_key, self.user.id, self.session_hash)
        elif self.token_id is not None:
            holds = timezone.now() < self.token_expiry and (
                not token_read or await _token_holds(token_id=self.token_id)
            )
        else:
            holds = True
        if not holds:
            await self.close(code=CLOSE_UNAUTHORISED)
        return holds

    async def disconnect(self, code):
        if self.user is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None or len(text_data) > MAX_FRAME:
            return await self._error("bad_frame", "Send JSON text frames under 4 KB.")
        try:
            message = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
            return await self._error("bad_json", "That frame is not JSON.")
        if not isinstance(message, dict):
            return await self._error("bad_frame", "Send a JSON object.")
        kind = message.get("type")
        if kind == "ping":
            if not await self._signed_in(token_read=True):
                return None
            if not await _still_allowed(self.user.id):
                return await self.close(code=CLOSE_REVOKED)
            return await self._send({"type": "pong"})
        if kind == "resume":
            after = message.get("after")
            if isinstance(after, bool) or not isinstance(after, int) or after < 0:
                return await self._error("bad_resume", "'after' must be a whole number ≥ 0.")
            return await self._resume(after)
        return await self._error("unknown_type", "Known types: resume, ping.")

    async def _resume(self, after: int, *, asked: bool = True):
        if not await self._signed_in():
            return None
        if asked:
            self.resume_after = after
        while True:
            batch = await _deliverable(self.user.id, after=after)
            if batch is None:
                return await self.close(code=CLOSE_REVOKED)
            for alert in batch:
                await self._deliver(alert)
            if len(batch) < 1000:
                break
            after = batch[-1]["id"]
        if asked:
            await self._send({"type": "resumed"})

    async def layer_reconnected(self, event):
        """The channel layer subscribed to Redis again (core/channel_layer.py): alerts pushed
        while it was away never arrived. Send what the client is owed since its resume point
        (`_deliver` skips what this socket already sent)."""
        if self.user is None:
            return None
        if self.resume_after is None:
            return await self.close(code=CLOSE_SERVICE_RESTART)
        return await self._resume(self.resume_after, asked=False)

    async def alert_ids(self, event):
        if not await self._signed_in():
            return None
        batch = await _deliverable(self.user.id, ids=event["ids"])
        if batch is None:
            return await self.close(code=CLOSE_REVOKED)
        for alert in batch:
            await self._deliver(alert)

    async def token_revoked(self, event):
        """An API token of this user was revoked: the socket opened with it closes (4401)."""
        if self.token_id is not None and self.token_id == event.get("token"):
            await self.close(code=CLOSE_UNAUTHORISED)

    async def user_revoked(self, event):
        if not await _still_allowed(self.user.id):
            await self.close(code=CLOSE_REVOKED)

    async def _deliver(self, alert: dict):
        if alert["id"] in self.sent_set:
            return
        if len(self.sent) == self.sent.maxlen:
            self.sent_set.discard(self.sent[0])
        self.sent.append(alert["id"])
        self.sent_set.add(alert["id"])
        await self._send({"type": "alert", "alert": alert})

    async def _error(self, code: str, detail: str):
        await self._send({"type": "error", "code": code, "detail": detail})

    async def _send(self, message: dict):
        await self.send(text_data=json.dumps(message, default=str))
