"""A withdrawal racing 20 concurrent contact creations by the withdrawn agency.

PostgreSQL only: real concurrent transactions, each thread its own connection, through the real
HTTP endpoints (APIClient, token auth). Every write takes the family's row lock and re-checks
access under it (cases.services.family_for_write), and the withdrawal commits under the same
lock, so no contact may be recorded after the withdrawal took effect.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from cases.models import Contact
from consent.models import SharingBasis
from tests import factories as f

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="needs PostgreSQL (row locks between real concurrent transactions)",
    ),
    pytest.mark.django_db(transaction=True),
]

API = "/api/v1/"
WRITERS = 20
STAGGER_S = 0.01
ANSWERED_BEFORE_WITHDRAWAL = 3


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {f.token_for(user)}")
    return client


def test_no_contact_is_recorded_after_the_withdrawal_committed(borough):
    assert connection.vendor == "postgresql"
    family, school = borough.family, borough.school
    basis = SharingBasis.objects.get(family=family)
    partner_token = f.token_for(borough.partner.user)
    manager_token = f.token_for(borough.manager.user)
    contacts_url = f"{API}families/{family.id}/contacts/"
    withdraw_url = f"{API}families/{family.id}/sharing/{basis.id}/withdraw/"
    start = threading.Barrier(WRITERS + 1)
    # Writers start staggered by STAGGER_S; the withdrawal goes in once a few contacts are
    # answered, while the others are in flight or queued on the family's row lock: a real
    # interleaving rather than "all before" or "all after".
    some_answered = threading.Event()
    statuses: list[int] = []
    withdrawal: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def write(n: int) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {partner_token}")
            start.wait(timeout=30)
            time.sleep(n * STAGGER_S)
            response = client.post(
                contacts_url,
                {
                    "occurred_at": "2025-10-06T09:30:00+01:00",
                    "method": "phone",
                    "summary": f"Race contact {n}",
                },
                format="json",
            )
            with lock:
                statuses.append(response.status_code)
                if len(statuses) >= ANSWERED_BEFORE_WITHDRAWAL:
                    some_answered.set()
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    def withdraw() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {manager_token}")
            start.wait(timeout=30)
            some_answered.wait(timeout=30)
            response = client.post(withdraw_url, {"reason": "Consent withdrawn."}, format="json")
            withdrawal.append(response.status_code)
        except BaseException as exc:  # noqa: BLE001
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=withdraw)]
    threads += [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors

    assert withdrawal == [200]
    assert len(statuses) == WRITERS
    assert set(statuses) <= {201, 404}, statuses  # never 500, never a write after withdrawal
    assert 201 in statuses  # some answers came before the withdrawal was sent
    basis.refresh_from_db()
    withdrawn_at = basis.withdrawn_at
    assert withdrawn_at is not None
    recorded = list(Contact.objects.filter(family=family, agency=school).order_by("created_at"))
    assert len(recorded) == statuses.count(201)
    late = [c for c in recorded if c.created_at > withdrawn_at]
    assert late == [], f"contacts recorded after the withdrawal at {withdrawn_at}: {late}"
    # And the partner is out for good.
    assert _client(borough.partner.user).get(contacts_url).status_code == 404
