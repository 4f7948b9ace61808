"""Staff accounts created and roles changed are audited and alerted, whoever does it.

Through the API (`POST /api/v1/agencies/{id}/staff/`, real token auth) and the Django admin's
StaffMember pages (Django's test Client, a superuser signed in with a password): each creation and
each role change leaves one audit row (audit.StaffEvent) and a "staff.changed" alert to every
active admin and manager of that agency except the person who did it; the alert carries staff
names only, and reaches them through the alerts API.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agencies.models import Agency, StaffMember
from agencies.roles import Role
from alerts.models import Alert
from audit.models import StaffEvent
from tests import factories as f

User = get_user_model()
NEW_PASSWORD = "river-otter-lantern-2026"
ADMIN_STAFF = "/admin/agencies/staffmember/"


@dataclass
class Agency_:
    agency: Agency
    admin: StaffMember
    other_admin: StaffMember
    manager: StaffMember
    practitioner: StaffMember
    elsewhere: StaffMember  # a manager of another agency


@pytest.fixture
def eh(db) -> Agency_:
    agency = f.agency_make(name="Riverside Early Help")
    people = Agency_(
        agency=agency,
        admin=f.staff_make(agency=agency, role=Role.AGENCY_ADMIN, username="eh.admin"),
        other_admin=f.staff_make(agency=agency, role=Role.AGENCY_ADMIN),
        manager=f.staff_make(agency=agency, role=Role.MANAGER),
        practitioner=f.staff_make(agency=agency, role=Role.PRACTITIONER, username="pat"),
        elsewhere=f.staff_make(role=Role.MANAGER),
    )
    departed = f.staff_make(agency=agency, role=Role.MANAGER)  # deactivated: not alerted
    departed.user.is_active = False
    departed.user.save()
    return people


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.test", f.PASSWORD)


@pytest.fixture
def admin_client(root) -> Client:
    client = Client()
    client.force_login(root)  # Client.login has no request for the lockout's backend (axes)
    return client


def staff_alerts() -> dict[int, str]:
    """Recipient id → summary of every staff.changed alert."""
    alerts = Alert.objects.filter(kind="staff.changed")
    assert all(a.family_id is None for a in alerts)
    summaries = {a.recipient_id: a.summary for a in alerts}
    assert len(summaries) == len(alerts)  # one each
    return summaries


def event_of(user) -> tuple:
    event = StaffEvent.objects.exclude(actor=None).get(subject=user)
    return (event.actor, event.agency_id, event.action, event.old_role, event.new_role)


def test_an_agency_admin_creating_staff_through_the_api(eh, client_for):
    answer = client_for(eh.admin.user).post(
        f"/api/v1/agencies/{eh.agency.id}/staff/",
        {"username": "jsmith", "password": NEW_PASSWORD, "role": Role.PRACTITIONER},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    jsmith = User.objects.get(username="jsmith")
    assert event_of(jsmith) == (eh.admin.user, eh.agency.id, "created", "", "practitioner")
    summary = "Staff account created: jsmith (practitioner) by eh.admin"
    assert staff_alerts() == {
        eh.other_admin.user.id: summary,
        eh.manager.user.id: summary,
    }
    for reader in (eh.manager, eh.other_admin):
        listed = client_for(reader.user).get("/api/v1/alerts/").json()["results"]
        assert [(a["kind"], a["summary"]) for a in listed] == [("staff.changed", summary)]


def test_a_platform_admin_creating_staff_through_the_api(eh, client_for):
    platform = User.objects.create_user("platform", is_staff=True)
    answer = client_for(platform).post(
        f"/api/v1/agencies/{eh.agency.id}/staff/",
        {"username": "kim", "password": NEW_PASSWORD, "role": Role.AGENCY_ADMIN},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    kim = User.objects.get(username="kim")
    assert event_of(kim) == (platform, eh.agency.id, "created", "", "agency_admin")
    summary = "Staff account created: kim (agency_admin) by platform"
    # The platform admin is no member: every admin and manager hears, the new admin too.
    assert staff_alerts() == {
        kim.id: summary,
        eh.admin.user.id: summary,
        eh.other_admin.user.id: summary,
        eh.manager.user.id: summary,
    }


def test_creating_staff_in_the_django_admin(eh, root, admin_client):
    form = {
        "username": "jsmith",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "email": "jsmith@example.test",
        "first_name": "Jo",
        "last_name": "Smith",
        "agency": eh.agency.id,
        "role": Role.KEY_WORKER,
    }
    assert admin_client.get(f"{ADMIN_STAFF}add/").status_code == 200
    answer = admin_client.post(f"{ADMIN_STAFF}add/", form)
    assert answer.status_code == 302, answer.context["adminform"].form.errors
    assert admin_client.get(ADMIN_STAFF).status_code == 200
    staff = StaffMember.objects.select_related("user").get(user__username="jsmith")
    assert (staff.agency_id, staff.role) == (eh.agency.id, "key_worker")
    # Made by the service: in the agency's group (its grants), with a usable password.
    assert list(staff.user.groups.all()) == [eh.agency.group]
    assert staff.user.check_password(NEW_PASSWORD)
    assert (staff.user.email, staff.user.first_name, staff.user.last_name) == (
        "jsmith@example.test",
        "Jo",
        "Smith",
    )
    assert event_of(staff.user) == (root, eh.agency.id, "created", "", "key_worker")
    summary = "Staff account created: jsmith (key_worker) by root"
    assert staff_alerts() == {
        eh.admin.user.id: summary,
        eh.other_admin.user.id: summary,
        eh.manager.user.id: summary,
    }


@pytest.mark.parametrize(
    "change, field",
    [
        ({"username": "EH.ADMIN"}, "username"),
        ({"password2": "something-else-2026"}, "password2"),
        ({"password1": "password", "password2": "password"}, "password1"),
        ({"role": "overlord"}, "role"),
    ],
)
def test_a_refused_django_admin_creation_records_nothing(eh, admin_client, change, field):
    form = {"username": "jsmith", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    form.update(agency=eh.agency.id, role=Role.PRACTITIONER)
    form.update(change)
    before = (User.objects.count(), StaffEvent.objects.count())
    answer = admin_client.post(f"{ADMIN_STAFF}add/", form)
    assert answer.status_code == 200
    assert list(answer.context["adminform"].form.errors) == [field]  # refused for that alone
    assert (User.objects.count(), StaffEvent.objects.count()) == before
    assert staff_alerts() == {}


def test_changing_a_role_in_the_django_admin(eh, root, admin_client):
    other_agency = f.agency_make()
    url = f"{ADMIN_STAFF}{eh.practitioner.pk}/change/"
    assert admin_client.get(url).status_code == 200
    # The agency is not editable here: what is posted for it is ignored.
    answer = admin_client.post(url, {"role": Role.MANAGER, "agency": other_agency.id})
    assert answer.status_code == 302
    eh.practitioner.refresh_from_db()
    assert (eh.practitioner.role, eh.practitioner.agency_id) == ("manager", eh.agency.id)
    assert event_of(eh.practitioner.user) == (
        root,
        eh.agency.id,
        "role_changed",
        "practitioner",
        "manager",
    )
    summary = "Staff role changed: pat from practitioner to manager by root"
    # Every admin and manager of the agency as it now is, the new manager too.
    assert staff_alerts() == {
        eh.admin.user.id: summary,
        eh.other_admin.user.id: summary,
        eh.manager.user.id: summary,
        eh.practitioner.user.id: summary,
    }


def test_saving_an_unchanged_role_records_nothing(eh, admin_client):
    answer = admin_client.post(f"{ADMIN_STAFF}{eh.manager.pk}/change/", {"role": Role.MANAGER})
    assert answer.status_code == 302
    assert not StaffEvent.objects.exclude(actor=None).exists()
    assert staff_alerts() == {}


def test_the_django_admin_does_not_delete_memberships(eh, admin_client):
    assert admin_client.get(f"{ADMIN_STAFF}{eh.manager.pk}/delete/").status_code == 403
    assert admin_client.post(f"{ADMIN_STAFF}{eh.manager.pk}/delete/").status_code == 403
    answer = admin_client.post(
        ADMIN_STAFF, {"action": "delete_selected", "_selected_action": [eh.manager.pk]}
    )
    assert StaffMember.objects.filter(pk=eh.manager.pk).exists()
    assert answer.status_code in {200, 302}
