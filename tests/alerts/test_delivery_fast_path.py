"""Delivery by pushed ids: the cheap path gives what the alerts selector and serializer give."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agencies.roles import Role
from alerts import selectors, services
from alerts.models import Alert
from alerts.serializers import AlertSerializer
from cases import access
from tests import factories as f

pytestmark = pytest.mark.django_db


def _slow(user, ids):
    """The reference: user and role fresh, `alert_list` by ids, AlertSerializer."""
    if access.case_staff(user) is None:
        return None
    return list(AlertSerializer(selectors.alerts_by_ids(user=user, ids=ids), many=True).data)


def _everyone(borough):
    return [
        borough.key_worker,
        borough.manager,
        borough.lead_practitioner,
        borough.partner,
        borough.ended_partner,
        borough.outsider,
    ]


def test_same_alerts_and_fields_as_the_selector_and_serializer(borough):
    other = f.family_make(by=borough.key_worker, name="Other household")
    ids = []
    for staff in _everyone(borough):
        for family in (borough.family, other, None):
            for kind in ("intervention.recorded", "access.lost"):
                alert = Alert.objects.create(
                    recipient=staff.user,
                    family=family,
                    agency=borough.school if family else None,
                    kind=kind,
                    summary=f"{kind} {family}",
                )
                ids.append(alert.id)
    Alert.objects.filter(id=ids[0]).update(read_at=timezone.now() - timedelta(days=200))
    for staff in _everyone(borough):
        user = type(staff.user).objects.get(id=staff.user_id)
        assert selectors.alerts_deliverable(user_id=user.id, ids=ids) == _slow(user, ids)
        assert selectors.alerts_deliverable(user_id=user.id, ids=ids) is not None
    # Another user's ids are never theirs.
    assert selectors.alerts_deliverable(user_id=borough.outsider.user_id, ids=ids[:6]) == []
    assert selectors.alerts_deliverable(user_id=borough.key_worker.user_id, ids=[]) == []


def test_none_when_the_user_may_no_longer_see_case_data(borough):
    alerts = services.alerts_to_users(
        user_ids=[borough.partner.user_id], kind="access.lost", summary="x"
    )
    ids = [a.id for a in alerts]
    assert selectors.alerts_deliverable(user_id=borough.partner.user_id, ids=ids) != []
    borough.partner.role = Role.AGENCY_ADMIN
    borough.partner.save()
    assert selectors.alerts_deliverable(user_id=borough.partner.user_id, ids=ids) is None
    borough.partner.role = Role.PRACTITIONER
    borough.partner.save()
    borough.partner.user.is_active = False
    borough.partner.user.save()
    assert selectors.alerts_deliverable(user_id=borough.partner.user_id, ids=ids) is None
    assert access.visible_family_ids_among(user_id=10**9, family_ids=[1]) is None


def test_visible_family_ids_among_is_families_visible_to(borough, django_user_model):
    families = [borough.family]
    for i in range(3):
        family = f.family_make(by=borough.key_worker, name=f"Household {i}")
        f.involvement_make(family=family, by=borough.key_worker, agency=borough.school)
        f.consent_make(family=family, by=borough.key_worker, agencies=[borough.school])
        families.append(family)
    families.append(f.family_make(by=borough.manager, name="Managed"))
    ids = [fam.id for fam in families] + [10**9]
    admin = f.staff_make(agency=borough.early_help, role=Role.AGENCY_ADMIN)
    plain = django_user_model.objects.create_user("plain", "plain@example.org", f.PASSWORD)
    for user in [s.user for s in _everyone(borough)] + [admin.user, plain]:
        user = django_user_model.objects.get(id=user.id)
        got = access.visible_family_ids_among(user_id=user.id, family_ids=ids)
        if access.case_staff(user) is None:
            assert got is None, user
            continue
        want = set(access.families_visible_to(user).values_list("id", flat=True)) & set(ids)
        assert got == want, user
        assert access.visible_family_ids_among(user_id=user.id, family_ids=[]) == set()


def test_family_viewers_among_one_query(borough, django_assert_num_queries):
    users = [s.user_id for s in _everyone(borough)]
    with django_assert_num_queries(1):
        team = access.family_viewers_among(family=borough.family, user_ids=users)
    assert team == {
        s.user_id
        for s in _everyone(borough)
        if borough.family.id in set(access.families_visible_to(s.user).values_list("id", flat=True))
    }
    restricted = access.family_viewers_among(
        family=borough.family,
        user_ids=users,
        visibility="restricted",
        recording_agency_id=borough.school.id,
    )
    assert restricted == {
        borough.key_worker.user_id,
        borough.manager.user_id,
        borough.partner.user_id,
    }


def test_family_viewers_among_the_team(borough, django_assert_num_queries):
    """`user_ids=TEAM`: the key worker and active named practitioners who may see the family,
    read in the same one statement; an ended practitioner or an outsider never."""
    from cases.models import Involvement

    team = {borough.family.key_worker_id} | set(
        Involvement.objects.filter(
            family=borough.family, ended_on__isnull=True, practitioner__isnull=False
        ).values_list("practitioner_id", flat=True)
    )
    with django_assert_num_queries(1):
        got = access.family_viewers_among(family=borough.family, user_ids=access.TEAM)
    assert got == access.family_viewers_among(family=borough.family, user_ids=team)
    assert got == {borough.key_worker.user_id, borough.partner.user_id}
    restricted = access.family_viewers_among(
        family=borough.family,
        user_ids=access.TEAM,
        visibility="restricted",
        recording_agency_id=borough.school.id,
    )
    assert restricted == {borough.key_worker.user_id, borough.partner.user_id}
