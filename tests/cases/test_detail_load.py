"""The family detail's raw-SQL loader (selectors.family_detail_prefetch) shows what the ORM would.

For every family of the seeded demo borough (members, ended and active team members with and
without a named practitioner, needs, consent, safeguarding, expiring and withdrawn bases), the
detail JSON from the loader equals the JSON from the same serializer over an ORM load
(prefetch_related / select_related), on both CI legs' databases.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db.models import Prefetch

from cases import selectors, serializers
from cases.models import Family, Involvement, Need
from tests.factories import kept_db

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def borough(django_db_setup, django_db_blocker):
    with kept_db(django_db_blocker):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        yield


def _orm_loaded(family_id: int) -> Family:
    family = (
        Family.objects.select_related("key_worker", "lead_agency")
        .prefetch_related(
            "members",
            Prefetch(
                "involvements",
                queryset=Involvement.objects.select_related("agency", "practitioner").filter(
                    ended_on__isnull=True
                ),
                to_attr="active_team",
            ),
            Prefetch("needs", queryset=Need.objects.select_related("outcome")),
            "sharing_bases",
        )
        .get(id=family_id)
    )
    family.detail_members = list(family.members.all())
    family.detail_needs = list(family.needs.all())
    family.detail_sharing_bases = list(family.sharing_bases.all())
    return family


def test_raw_loader_shows_what_the_orm_would(borough):
    families = list(Family.objects.order_by("id").values_list("id", flat=True))
    assert len(families) >= 18
    shown = {"members": 0, "team": 0, "needs": 0, "practitioner_name": 0}
    statuses = set()
    for family_id in families:
        raw = selectors.family_detail_prefetch(Family.objects.get(id=family_id))
        expected = serializers.FamilyDetailSerializer(_orm_loaded(family_id)).data
        got = serializers.FamilyDetailSerializer(raw).data
        assert got == expected, family_id
        shown["members"] += len(got["members"])
        shown["team"] += len(got["team"])
        shown["needs"] += len(got["needs"])
        shown["practitioner_name"] += sum(1 for m in got["team"] if m["practitioner_name"])
        statuses.add(got["sharing"]["status"])
    assert all(shown.values()), shown  # every part of the detail was compared on real rows
    assert "active" in statuses, statuses
