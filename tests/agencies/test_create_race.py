"""Two platform administrators create the same agency at the same instant: one 201, one 400.

The service checks the name first; when two requests pass that check together, the database's
unique indexes decide (agency name in any case, its group) and the loser gets the same 400 as a
sequential duplicate, never a 500. PostgreSQL only: real concurrent transactions, each thread its
own connection, through the real HTTP endpoint with token auth. The case rule also holds on both
databases without a race.
"""

from __future__ import annotations

import os
import threading

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from agencies import services
from agencies.models import Agency, AgencyKind
from tests import factories as f

API = "/api/v1/agencies/"


def _admin_client(username: str) -> APIClient:
    admin = get_user_model().objects.create_user(username, is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {f.token_for(admin)}")
    return client


@pytest.mark.django_db
def test_names_are_unique_whatever_their_case():
    services.agency_create(name="Riverside Police", kind=AgencyKind.POLICE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Agency.objects.create(
            name="RIVERSIDE POLICE",
            kind=AgencyKind.POLICE,
            group=Group.objects.create(name="agency:RIVERSIDE POLICE"),
        )
    with pytest.raises(ValidationError):
        services.agency_create(name="riverside police", kind=AgencyKind.POLICE)


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (real concurrent transactions)",
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "names", [("Hill Primary", "Hill Primary"), ("Hill Primary", "HILL primary")]
)
def test_racing_creations_give_one_agency_and_a_400(names):
    clients = [_admin_client(f"admin-{i}") for i in range(len(names))]
    start = threading.Barrier(len(names))
    answers: list[tuple[int, dict]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def create(client: APIClient, name: str) -> None:
        try:
            start.wait(timeout=30)
            response = client.post(API, {"name": name, "kind": "school"}, format="json")
            with lock:
                answers.append((response.status_code, response.json()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=create, args=(c, n)) for c, n in zip(clients, names, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(status for status, _ in answers) == [201, 400], answers
    refused = next(body for status, body in answers if status == 400)
    assert "name" in refused
    assert Agency.objects.filter(name__iexact="hill primary").count() == 1
