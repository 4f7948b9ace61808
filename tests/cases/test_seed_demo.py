"""`manage.py seed_demo`: the demo borough, built once through the services."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from agencies.models import Agency
from cases.models import Contact, Family, Involvement, Need, Person

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "demo-pass-2026"


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Agency, User, Family, Person, Need, Contact))


def family_ids(client, **params) -> set[int]:
    response = client.get("/api/v1/families/", {"page_size": 200, **params})
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_seed_builds_the_borough_once(client_for):
    real_now = timezone.now
    first = seed()
    assert timezone.now is real_now  # the demo clock is put back
    assert "school.practitioner" in first and PASSWORD in first
    assert 18 <= Family.objects.count() <= 22
    assert Family.objects.filter(status="closed").count() == 1
    assert Contact.objects.filter(visibility="restricted").exists()
    before = counts()

    assert seed().strip() == "demo data already present"
    assert counts() == before


def test_demo_accounts_see_what_their_roles_allow(client_for):
    seed()
    anonymous = client_for()
    login = anonymous.post(
        "/api/v1/auth/token/",
        {"username": "school.practitioner", "password": PASSWORD},
        format="json",
    )
    assert login.status_code == 200, login.json()

    school = User.objects.get(username="school.practitioner")
    on_team = set(
        Involvement.objects.filter(
            agency__name="Riverside Primary School", ended_on__isnull=True
        ).values_list("family_id", flat=True)
    )
    assert 0 < len(on_team) < Family.objects.count()
    assert family_ids(client_for(school)) == on_team

    key_worker = User.objects.get(username="keyworker1")
    mine = client_for(key_worker).get("/api/v1/families/", {"key_worker": "me"}).json()
    assert mine["results"]
    assert {row["key_worker"] for row in mine["results"]} == {key_worker.id}

    manager = User.objects.get(username="eh.manager")
    assert len(family_ids(client_for(manager))) == Family.objects.count()
    for username in ("admin", "eh.admin", "eh.dpo"):  # admins and the DPO see no case data
        assert family_ids(client_for(User.objects.get(username=username))) == set()
    assert User.objects.get(username="admin").is_superuser


def test_seed_refuses_a_database_that_already_has_a_demo_username():
    User.objects.create_user(username="keyworker1", password=None)
    with pytest.raises(CommandError, match="keyworker1"):
        seed()
    assert not Agency.objects.exists() and not Family.objects.exists()
