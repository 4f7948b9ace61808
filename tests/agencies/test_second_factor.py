"""The second factor: an authenticator app's code after the password (agencies/second_factor.py,
decision 0020).

Under production settings (`SECOND_FACTOR_REQUIRED`, which TEAMAROUND_ENV=production sets; here
set with pytest-django's `settings`) a password alone gets nowhere: every page sends the person
to the code page (which sends someone with no app to set one up), the API answers 401 to the
session, the token endpoint refuses without a valid code, and the alerts WebSocket refuses the
session. With the app's current code everything works. Setting up an app is a page (its key as
text) confirmed with the app's first code; a person who has an app cannot add another without
giving its code. Under development settings the factor is offered, not required: a password signs
in, until the person sets up an app.

Codes are made as the app would (`django_otp.oath.TOTP` with the device's key).
"""

from __future__ import annotations

import gc
import re
import time

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from agencies import services
from agencies.roles import Role
from tests import factories as f

CODE_PAGE = "/sign-in/code/"
SETUP_PAGE = "/account/authenticator-app/"
TOKEN = "/api/v1/auth/token/"


@pytest.fixture
def production(settings):
    settings.SECOND_FACTOR_REQUIRED = True
    return settings


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code the app shows now (or `steps_ahead` 30-second steps later, which the service
    accepts within its tolerance of one step: a second code in the same test)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def with_app(user) -> TOTPDevice:
    """`user` with an authenticator app set up, as the setup page does it, a while ago (no code
    of it used yet: the test may give the current one, then the next)."""
    pending = services.authenticator_start(user=user)
    device = services.authenticator_confirm(user=user, code=code_for(pending))
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    device.refresh_from_db()
    return device


def password_only(user, next_path: str = "") -> tuple[Client, object]:
    client = Client()
    response = client.post(
        "/sign-in/" + (f"?next={next_path}" if next_path else ""),
        {"username": user.username, "password": f.PASSWORD},
    )
    return client, response


# Pages of every kind a signed-in person opens: all must lead to the code page until it is given.
PAGES = (
    "/home/",
    "/caseload/",
    "/families/",
    "/manager/",
    "/alerts/",
    "/staff/",
    "/reports/",
    "/api/v1/docs/",
    "/admin/",
    "/sign-in/",
)


@pytest.mark.django_db
def test_production_a_password_alone_reaches_no_page_and_no_api(production, borough):
    user = borough.key_worker.user
    client, signed_in = password_only(user, next_path="/caseload/")
    # The password is right: on to the code page, which (no app yet) sends on to set one up.
    assert signed_in.status_code == 302
    assert signed_in["Location"] == f"{CODE_PAGE}?next=%2Fcaseload%2F"
    assert client.get(CODE_PAGE + "?next=/caseload/")["Location"] == (
        f"{SETUP_PAGE}?next=%2Fcaseload%2F"
    )
    family = f"/families/{borough.family.id}/"
    for path in (*PAGES, family, f"{family}contacts/new/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(f"{CODE_PAGE}?next="), (path, response["Location"])
    post = client.post(f"{family}contacts/new/", {"summary": "x"})
    assert post.status_code == 302 and post["Location"].startswith(CODE_PAGE)
    # The API with the session: 401.
    for path in ("/api/v1/me/", f"/api/v1{family}", "/api/v1/families/", "/api/v1/schema/"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json()["code"] == "second_factor_required"
    assert client.post("/api/v1/alerts/ticket/").status_code == 401
    # The token endpoint: the password is not enough.
    refused = APIClient().post(
        TOKEN, {"username": user.username, "password": f.PASSWORD}, format="json"
    )
    assert refused.status_code == 400 and "otp" in refused.json()
    # Signing out still works.
    assert client.post("/sign-out/").status_code == 302
    assert client.get("/home/")["Location"] == "/sign-in/?next=/home/"


@pytest.mark.django_db
def test_production_setting_up_the_app_gives_the_factor(production, borough):
    user = borough.key_worker.user
    client, _ = password_only(user, next_path="/caseload/")
    page = client.get(SETUP_PAGE + "?next=/caseload/")
    assert page.status_code == 200 and "Start" in page.text
    started = client.post(SETUP_PAGE, {"action": "start", "next": "/caseload/"})
    assert started.status_code == 302
    page = client.get(started["Location"])
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    secret = re.search(r'id="authenticator-secret">([A-Z2-7 ]+)<', page.text).group(1)
    from base64 import b32encode

    assert secret.replace(" ", "") == b32encode(device.bin_key).decode()
    assert "otpauth://totp/" in page.text
    # Still pending: the pages are closed.
    assert client.get("/caseload/")["Location"].startswith(CODE_PAGE)
    wrong = client.post(SETUP_PAGE, {"code": "000000", "next": "/caseload/"})
    assert wrong.status_code == 400 and "govuk-error-summary" in wrong.text
    TOTPDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    done = client.post(SETUP_PAGE, {"code": code_for(device), "next": "/caseload/"})
    assert done.status_code == 302 and done["Location"] == "/caseload/"
    assert client.get("/caseload/").status_code == 200
    assert client.get(f"/families/{borough.family.id}/").status_code == 200
    assert client.get("/api/v1/me/").status_code == 200
    assert TOTPDevice.objects.get(user=user).confirmed


@pytest.mark.django_db
def test_production_the_code_opens_everything_and_only_a_right_code(production, borough):
    user = borough.key_worker.user
    device = with_app(user)
    client, signed_in = password_only(user, next_path="/caseload/")
    assert signed_in["Location"] == f"{CODE_PAGE}?next=%2Fcaseload%2F"
    page = client.get(signed_in["Location"])
    assert page.status_code == 200 and "Enter the code from your authenticator app" in page.text
    # A person with an app cannot add another without giving its code.
    assert client.get(SETUP_PAGE)["Location"].startswith(CODE_PAGE)
    assert client.post(SETUP_PAGE, {"action": "start"})["Location"].startswith(CODE_PAGE)
    assert TOTPDevice.objects.filter(user=user).count() == 1
    for bad in ("", "12345", "abcdef", "000000"):
        wrong = client.post(CODE_PAGE, {"code": bad, "next": "/caseload/"})
        assert wrong.status_code == 400 and "govuk-error-summary" in wrong.text, bad
    # Right after a wrong code, even the right one waits (django-otp's throttling).
    throttled = client.post(CODE_PAGE, {"code": code_for(device, 1), "next": "/caseload/"})
    assert throttled.status_code == 400 and "Too many wrong codes" in throttled.text
    TOTPDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    session_key = client.session.session_key
    given = client.post(CODE_PAGE, {"code": code_for(device), "next": "/caseload/"})
    assert given.status_code == 302 and given["Location"] == "/caseload/"
    assert client.session.session_key != session_key  # a new session key once verified
    for path in ("/caseload/", "/alerts/", f"/families/{borough.family.id}/", "/api/v1/docs/"):
        assert client.get(path).status_code == 200, path
    assert client.get("/api/v1/me/").status_code == 200
    # The code page has nothing more to ask: on to `next`.
    assert client.get(f"{CODE_PAGE}?next=/alerts/")["Location"] == "/alerts/"


@pytest.mark.django_db
def test_production_the_code_page_keeps_next_on_this_site(production, borough):
    user = borough.key_worker.user
    device = with_app(user)
    client, _ = password_only(user)
    given = client.post(CODE_PAGE, {"code": code_for(device), "next": "https://evil.example/"})
    assert given.status_code == 302 and given["Location"] == "/home/"


@pytest.mark.django_db
def test_production_the_token_endpoint_needs_the_code(production, borough):
    user = borough.key_worker.user

    def token(**body):
        return APIClient().post(
            TOKEN, {"username": user.username, "password": f.PASSWORD, **body}, format="json"
        )

    no_app = token(otp="123456")
    assert no_app.status_code == 400 and "Set up an authenticator app" in no_app.json()["otp"][0]
    device = with_app(user)
    missing = token()
    assert missing.status_code == 400 and "otp" in missing.json()
    wrong = token(otp="000000")
    assert wrong.status_code == 400 and "otp" in wrong.json()
    TOTPDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    code = code_for(device)
    issued = token(otp=code)
    assert issued.status_code == 200 and issued.json()["token"]
    # Each code once.
    assert token(otp=code).status_code == 400
    key = issued.json()["token"]
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert me.get("/api/v1/me/").status_code == 200
    # A wrong password is still the password's answer, whatever the code.
    bad = APIClient().post(
        TOKEN,
        {"username": user.username, "password": "nope", "otp": code_for(device, 1)},
        format="json",
    )
    assert bad.status_code == 400 and "non_field_errors" in bad.json()


@pytest.mark.django_db(transaction=True)
def test_production_the_alerts_socket_refuses_a_session_without_the_code(production, borough):
    from channels.testing.websocket import WebsocketCommunicator

    from config.asgi import application

    user = borough.key_worker.user
    device = with_app(user)
    client, _ = password_only(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    def connect():
        return WebsocketCommunicator(
            application,
            "/ws/alerts/",
            headers=[(b"origin", b"http://localhost"), (b"cookie", cookie)],
        )

    async def attempt() -> bool:
        sock = connect()
        connected, _ = await sock.connect(timeout=5)
        if connected:
            await sock.disconnect()
        return connected

    assert async_to_sync(attempt)() is False
    given = client.post(CODE_PAGE, {"code": code_for(device)})
    assert given.status_code == 302
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    assert async_to_sync(attempt)() is True
    gc.collect()


@pytest.mark.django_db
def test_development_a_password_signs_in_until_an_app_is_set_up(settings, borough):
    settings.SECOND_FACTOR_REQUIRED = False
    user = borough.key_worker.user
    client, signed_in = password_only(user, next_path="/caseload/")
    assert signed_in["Location"] == "/caseload/"
    assert client.get("/caseload/").status_code == 200
    assert client.get(SETUP_PAGE).status_code == 200  # offered
    token = APIClient().post(
        TOKEN, {"username": user.username, "password": f.PASSWORD}, format="json"
    )
    assert token.status_code == 200
    # Once set up, the app is asked for at the next sign-in.
    device = with_app(user)
    # A session signed in before it was set up cannot replace it without its code.
    assert client.get(SETUP_PAGE)["Location"].startswith(CODE_PAGE)
    assert client.post(SETUP_PAGE, {"action": "start"})["Location"].startswith(CODE_PAGE)
    client, signed_in = password_only(user, next_path="/caseload/")
    assert signed_in["Location"].startswith(CODE_PAGE)
    assert client.get("/caseload/")["Location"].startswith(CODE_PAGE)
    assert client.post(CODE_PAGE, {"code": code_for(device)}).status_code == 302
    assert client.get("/caseload/").status_code == 200


@pytest.mark.django_db
def test_a_new_app_replaces_the_old_once_confirmed(borough, settings):
    settings.SECOND_FACTOR_REQUIRED = True
    user = borough.manager.user
    old = with_app(user)
    client, _ = password_only(user)
    assert client.post(CODE_PAGE, {"code": code_for(old)}).status_code == 302
    page = client.get(SETUP_PAGE)
    assert "Set up a new authenticator app" in page.text
    client.post(SETUP_PAGE, {"action": "start"})
    new = TOTPDevice.objects.get(user=user, confirmed=False)
    # Until the new one is confirmed, the old one stays.
    assert TOTPDevice.objects.filter(user=user, confirmed=True).get() == old
    assert client.post(SETUP_PAGE, {"code": code_for(new)}).status_code == 302
    assert list(TOTPDevice.objects.filter(user=user)) == [new]
    assert TOTPDevice.objects.get(pk=new.pk).confirmed


def test_the_pages_are_routed():
    assert reverse("sign-in-code") == CODE_PAGE
    assert reverse("authenticator-setup") == SETUP_PAGE


@pytest.mark.django_db
def test_every_role_is_asked(production, borough):
    """Everyone who signs in, whatever their role, and platform admins too."""
    from django.contrib.auth import get_user_model

    admin = f.staff_make(agency=borough.early_help, role=Role.AGENCY_ADMIN).user
    root = get_user_model().objects.create_superuser("root", "root@example.test", f.PASSWORD)
    for user in (borough.partner.user, borough.manager.user, admin, root):
        client, signed_in = password_only(user)
        assert signed_in["Location"].startswith(CODE_PAGE), user.username
        assert client.get("/admin/")["Location"].startswith(CODE_PAGE)
