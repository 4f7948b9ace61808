"""A lost authenticator app: the agency admin resets it on the staff pages
(`/staff/{id}/authenticator-reset/`), recorded as a staff event and alerted like other staff
changes; setting up an app is a staff event too.

Through the staff pages with real sessions (Django's test Client, `force_login`); the person's
own sign-in through the sign-in page and the token endpoint, under production settings (the
second factor required), before and after the reset.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from agencies.models import ApiToken
from agencies.roles import Role
from alerts.models import Alert, AlertKind
from audit.models import StaffAction, StaffEvent
from tests import factories as f
from tests.agencies.test_second_factor import code_for, with_app

pytestmark = pytest.mark.django_db


def reset_path(member) -> str:
    return f"/staff/{member.id}/authenticator-reset/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def office(borough):
    admin = f.staff_make(agency=borough.early_help, role=Role.AGENCY_ADMIN)
    return admin


def test_setting_up_an_app_is_a_staff_event(borough):
    user = borough.key_worker.user
    with_app(user)
    [event] = StaffEvent.objects.filter(subject=user, action=StaffAction.AUTHENTICATOR_SET_UP)
    assert (event.actor_id, event.agency_id, event.new_role) == (
        user.id,
        borough.early_help.id,
        Role.KEY_WORKER,
    )


def test_an_agency_admin_resets_a_lost_app(borough, office, settings):
    member = borough.key_worker
    user = member.user
    device = with_app(user)
    token = APIClient().post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": f.PASSWORD, "otp": code_for(device)},
        format="json",
    )
    assert token.status_code == 200
    their_session = Client()
    their_session.force_login(user)

    admin = signed_in(office.user)
    change = admin.get(f"/staff/{member.id}/")
    assert reset_path(member) in change.text  # the link, for someone with an app
    confirm = admin.get(reset_path(member))
    assert confirm.status_code == 200 and "govuk-warning-text" in confirm.text
    done = admin.post(reset_path(member))
    assert done.status_code == 302 and done["Location"] == f"/staff/{member.id}/"

    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not ApiToken.objects.filter(user=user).exists()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert api.get("/api/v1/me/").status_code == 401
    sessions = [s.get_decoded().get(SESSION_KEY) for s in Session.objects.all()]
    assert str(user.id) not in sessions
    [event] = StaffEvent.objects.filter(subject=user, action=StaffAction.AUTHENTICATOR_RESET)
    assert (event.actor_id, event.agency_id) == (office.user.id, borough.early_help.id)
    # The agency's manager hears of it, as of other staff changes.
    assert Alert.objects.filter(
        recipient=borough.manager.user,
        kind=AlertKind.STAFF_CHANGED,
        summary__startswith="Authenticator app reset",
    ).exists()

    # Nothing more to reset: the page says so, and a second reset records nothing.
    assert reset_path(member) not in admin.get(f"/staff/{member.id}/").text
    refused = admin.post(reset_path(member))
    assert refused.status_code == 400 and "no authenticator app" in refused.text
    assert StaffEvent.objects.filter(action=StaffAction.AUTHENTICATOR_RESET).count() == 1

    # Their next sign-in under production settings: the password, then on to set up a new app.
    settings.SECOND_FACTOR_REQUIRED = True
    again = Client()
    answer = again.post("/sign-in/", {"username": user.username, "password": f.PASSWORD})
    assert answer["Location"].startswith("/sign-in/code/")
    assert again.get(answer["Location"])["Location"].startswith("/account/authenticator-app/")


def test_only_their_agencys_admins_reset_it(borough, office):
    with_app(borough.key_worker.user)
    school_admin = f.staff_make(agency=borough.school, role=Role.AGENCY_ADMIN)
    path = reset_path(borough.key_worker)
    for other, status in ((school_admin, 404), (borough.manager, 403), (borough.partner, 403)):
        client = signed_in(other.user)
        assert client.get(path).status_code == status, other
        assert client.post(path).status_code == status, other
    assert TOTPDevice.objects.filter(user=borough.key_worker.user).exists()
    # Nor their own, here: they set up a new app on its own page.
    own_client = signed_in(office.user)  # signed in before they had an app: no code due
    with_app(office.user)
    own = own_client.post(reset_path(office))
    assert own.status_code == 400
    assert TOTPDevice.objects.filter(user=office.user).exists()
    assert not StaffEvent.objects.filter(action=StaffAction.AUTHENTICATOR_RESET).exists()
