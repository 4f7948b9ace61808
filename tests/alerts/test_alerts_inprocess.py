"""Alerts through the real consumer in process (every leg): REST, ticket, live push, resume."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing.websocket import WebsocketCommunicator

from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def record_intervention(client, family_id, **extra):
    body = {"kind": "parenting", "title": "Parenting course", "started_on": "2026-01-05"}
    body.update(extra)
    response = client.post(f"/api/v1/families/{family_id}/interventions/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def ticket(client):
    response = client.post("/api/v1/alerts/ticket/")
    assert response.status_code == 201
    return response.json()["ticket"]


async def _connect(path):
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"origin", b"http://localhost")]
    )
    connected, code = await communicator.connect()
    return communicator, connected, code


def test_alert_rows_and_rest(borough, client_for):
    partner = client_for(borough.partner.user)
    kw = client_for(borough.key_worker.user)
    outsider = client_for(borough.outsider.user)
    # Setting up the team alerted its members; start from a clean inbox.
    kw.post("/api/v1/alerts/read-all/")
    partner.post("/api/v1/alerts/read-all/")
    record_intervention(partner, borough.family.id)
    alerts = kw.get("/api/v1/alerts/?unread=true").json()["results"]
    assert [a["kind"] for a in alerts] == ["intervention.recorded"]
    assert alerts[0]["family"] == borough.family.id and alerts[0]["read_at"] is None
    assert partner.get("/api/v1/alerts/?unread=true").json()["results"] == []  # the author
    assert outsider.get("/api/v1/alerts/").json()["results"] == []
    assert kw.get("/api/v1/alerts/?unread=true").json()["results"][0]["id"] == alerts[0]["id"]
    assert outsider.post(f"/api/v1/alerts/{alerts[0]['id']}/read/").status_code == 404
    assert kw.post(f"/api/v1/alerts/{alerts[0]['id']}/read/").status_code == 200
    assert kw.get("/api/v1/alerts/?unread=true").json()["results"] == []
    record_intervention(partner, borough.family.id)
    assert kw.post("/api/v1/alerts/read-all/").json() == {"marked": 1}


def test_restricted_alert_reaches_only_allowed(borough, client_for):
    kw = client_for(borough.key_worker.user)
    manager = client_for(borough.manager.user)
    partner = client_for(borough.partner.user)
    partner.post("/api/v1/alerts/read-all/")
    record_intervention(kw, borough.family.id, visibility="restricted", title="Secret detail")
    assert partner.get("/api/v1/alerts/?unread=true").json()["results"] == []
    # The partner's own restricted work alerts the key worker, without its content.
    record_intervention(partner, borough.family.id, visibility="restricted", title="Secret detail")
    alerts = kw.get("/api/v1/alerts/?unread=true").json()["results"]
    assert [a["kind"] for a in alerts] == ["intervention.recorded"]
    assert "Secret" not in alerts[0]["summary"]
    assert manager.get("/api/v1/alerts/").json()["results"] == []  # not a named team member


def test_live_push_resume_and_bad_frames(borough, client_for):
    partner = client_for(borough.partner.user)
    kw = client_for(borough.key_worker.user)

    async def scenario():
        sock, connected, _ = await _connect(f"/ws/alerts/?ticket={await _ticket(kw)}")
        assert connected
        await _record(partner, borough.family.id)
        frame = await sock.receive_json_from(timeout=5)
        assert frame["type"] == "alert" and frame["alert"]["kind"] == "intervention.recorded"
        first_id = frame["alert"]["id"]
        await sock.send_to(text_data="not json")
        assert (await sock.receive_json_from())["code"] == "bad_json"
        await sock.send_json_to({"type": "nope"})
        assert (await sock.receive_json_from())["code"] == "unknown_type"
        await sock.send_json_to({"type": "resume", "after": "x"})
        assert (await sock.receive_json_from())["code"] == "bad_resume"
        await sock.send_json_to({"type": "ping"})
        assert await sock.receive_json_from() == {"type": "pong"}
        await sock.disconnect()

        for _ in range(3):
            await _record(partner, borough.family.id)
        sock, connected, _ = await _connect(f"/ws/alerts/?ticket={await _ticket(kw)}")
        assert connected
        await sock.send_json_to({"type": "resume", "after": first_id})
        frames = [await sock.receive_json_from(timeout=5) for _ in range(4)]
        assert [f["type"] for f in frames] == ["alert", "alert", "alert", "resumed"]
        ids = [f["alert"]["id"] for f in frames[:3]]
        assert ids == sorted(ids) and len(set(ids)) == 3 and ids[0] > first_id
        assert await sock.receive_nothing(timeout=0.2)
        await sock.disconnect()

    async_to_sync(scenario)()


def test_handshake_refused_without_valid_ticket(borough, client_for):
    kw = client_for(borough.key_worker.user)

    async def scenario():
        _, connected, _ = await _connect("/ws/alerts/")
        assert not connected
        _, connected, _ = await _connect("/ws/alerts/?ticket=forged")
        assert not connected
        key = await _ticket(kw)
        sock, connected, _ = await _connect(f"/ws/alerts/?ticket={key}")
        assert connected
        await sock.disconnect()
        _, connected, _ = await _connect(f"/ws/alerts/?ticket={key}")  # single use
        assert not connected

    async_to_sync(scenario)()


async def _ticket(client):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(ticket)(client)


async def _record(client, family_id):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(record_intervention)(client, family_id)
