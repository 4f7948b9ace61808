"""`access.families_visible_to` has two SQL forms (few / many families per agency): same rows.

The form is a plan hint chosen per agency (`access.MANY_FAMILIES`); here each is forced in turn
for every account of the seeded demo borough, plus a break-glass grant (a user grant held by
someone whose agency is not on the team), and the answers compared: ids, first page by
reference, count, and with the list's filters.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from agencies.models import AgencyKind, StaffMember
from cases import access, selectors
from cases.models import Family
from consent import services as consent_services
from tests.factories import kept_db

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def borough(django_db_setup, django_db_blocker):
    with kept_db(django_db_blocker):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        police = StaffMember.objects.filter(agency__kind=AgencyKind.POLICE).first()
        unseen = Family.objects.exclude(
            id__in=access.families_visible_to(police.user).values("id")
        ).first()
        consent_services.emergency_access_grant(
            family_id=unseen.id, by=police, reason="Missing child; need the contacts now."
        )
        yield


def _answers(user, many: bool, monkeypatch) -> dict:
    monkeypatch.setattr(access, "MANY_FAMILIES", -1 if many else 10**9)
    monkeypatch.setattr(access, "_grant_counts", {})
    visible = access.families_visible_to(user)
    return {
        "ids": sorted(visible.values_list("id", flat=True)),
        "page": list(visible.order_by("reference").values_list("id", flat=True)[:5]),
        "count": visible.count(),
        "open, key worker me": sorted(
            selectors.family_list(user=user, status="open", key_worker_me=True).values_list(
                "id", flat=True
            )
        ),
        "search": sorted(selectors.family_list(user=user, q="a").values_list("id", flat=True)),
    }


def test_both_forms_give_the_same_families(borough, monkeypatch):
    users = get_user_model().objects.filter(is_active=True).order_by("id")
    seen_some = 0
    for user in users:
        few = _answers(user, many=False, monkeypatch=monkeypatch)
        many = _answers(user, many=True, monkeypatch=monkeypatch)
        assert few == many, user.username
        seen_some += bool(few["ids"])
    assert seen_some >= 8  # the comparison covered real answers, not only empty ones


def test_the_form_follows_the_agencys_grant_count(borough, monkeypatch):
    """The hint counts view grants per agency group once, then reuses the count."""
    police = StaffMember.objects.filter(agency__kind=AgencyKind.POLICE).first()
    monkeypatch.setattr(access, "_grant_counts", {})
    seen = access.families_visible_to(police.user).count()
    group_count = access._grant_counts[police.agency.group_id][1]
    assert 0 < group_count <= seen
    monkeypatch.setattr(access, "MANY_FAMILIES", group_count - 1)
    assert " OR " in str(access.families_visible_to(police.user).query)
    monkeypatch.setattr(access, "MANY_FAMILIES", group_count)
    assert "UNION ALL" in str(access.families_visible_to(police.user).query)
