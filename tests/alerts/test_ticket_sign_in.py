"""An alert socket lasts only as long as the sign-in its ticket was asked with: revoking the API
token (through the API) closes the sockets opened with its tickets, and no other; an expired
token's socket closes at its next ping; an unused ticket of a revoked token opens nothing; a
ticket asked with the session cookie gives a socket that closes once the person signs out.
Real tokens, the real consumer in process on each leg's channel layer."""

from __future__ import annotations

import gc
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from agencies import services as agency_services
from agencies.models import ApiToken
from tests.alerts.test_alerts_inprocess import _connect, ticket

pytestmark = pytest.mark.django_db(transaction=True)

CLOSED_UNAUTHORISED = {"type": "websocket.close", "code": 4401}


def _token_client(user) -> tuple[APIClient, ApiToken]:
    token, secret = agency_services.token_issue(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client, token


async def _ping(sock):
    await sock.send_json_to({"type": "ping"})
    return await sock.receive_output(timeout=5)


def test_revoking_a_token_closes_its_sockets_and_no_other(borough):
    user = borough.key_worker.user
    (laptop, laptop_token), (phone, _) = _token_client(user), _token_client(user)

    async def scenario():
        on_laptop, connected, _ = await _connect(
            f"/ws/alerts/?ticket={await database_sync_to_async(ticket)(laptop)}"
        )
        assert connected
        on_phone, connected, _ = await _connect(
            f"/ws/alerts/?ticket={await database_sync_to_async(ticket)(phone)}"
        )
        assert connected
        unused = await database_sync_to_async(ticket)(laptop)
        revoked = await database_sync_to_async(phone.delete)(
            f"/api/v1/auth/tokens/{laptop_token.pk}/"
        )
        assert revoked.status_code == 200
        # Closed by the push, unasked.
        assert await on_laptop.receive_output(timeout=5) == CLOSED_UNAUTHORISED
        await on_laptop.wait()
        frame = await _ping(on_phone)
        assert frame.get("text") == '{"type": "pong"}', frame
        await on_phone.disconnect()
        # The revoked token's unused ticket went with it.
        _, connected, _ = await _connect(f"/ws/alerts/?ticket={unused}")
        assert not connected

    async_to_sync(scenario)()
    gc.collect()


def test_an_expired_tokens_socket_closes_at_its_next_ping(borough):
    client, token = _token_client(borough.key_worker.user)

    async def scenario():
        sock, connected, _ = await _connect(
            f"/ws/alerts/?ticket={await database_sync_to_async(ticket)(client)}"
        )
        assert connected
        assert (await _ping(sock))["text"] == '{"type": "pong"}'
        await database_sync_to_async(ApiToken.objects.filter(pk=token.pk).update)(
            expiry=timezone.now() - timedelta(seconds=1)
        )
        assert await _ping(sock) == CLOSED_UNAUTHORISED
        await sock.wait()

    async_to_sync(scenario)()
    gc.collect()


def test_a_ticket_asked_with_the_session_lasts_as_long_as_the_session(borough):
    browser = Client()
    browser.force_login(borough.key_worker.user)

    async def scenario():
        sock, connected, _ = await _connect(
            f"/ws/alerts/?ticket={await database_sync_to_async(ticket)(browser)}"
        )
        assert connected
        assert (await _ping(sock))["text"] == '{"type": "pong"}'
        await database_sync_to_async(browser.logout)()
        assert await _ping(sock) == CLOSED_UNAUTHORISED
        await sock.wait()
        # A ticket asked with a session that has since ended opens nothing.
        again = Client()
        await database_sync_to_async(again.force_login)(borough.key_worker.user)
        key = await database_sync_to_async(ticket)(again)
        await database_sync_to_async(again.logout)()
        _, connected, _ = await _connect(f"/ws/alerts/?ticket={key}")
        assert not connected

    async_to_sync(scenario)()
    gc.collect()
