"""The agency admin's staff pages, the error pages, and the sign-in page's throttle.

Through Django's test Client with real sessions (the sign-in page, or `force_login`), DEBUG off as
the project runs:

- only the admins of an agency manage its staff here (`access.may_manage_staff` on their own
  agency): other roles and platform admins get the 403 page, anonymous people the sign-in page,
  and a staff member of another agency is the 404 page, like one that does not exist;
- adding, changing a role and deactivating go through agencies/services.py: one audit row each,
  an alert to the agency's other admins and managers; deactivation also ends the person's API
  tokens, sessions and alert sockets, and nobody deactivates their own account;
- a refused submission answers 400 with the error summary (each error a link to its field), the
  messages by the fields, and what was typed kept (never a password); CSRF is enforced;
- the 403, 404 and 500 pages are the service's own, and the 404 page is the same whether the
  thing asked for does not exist or is not the person's to see;
- the sign-in page counts attempts in the same budget as the API's token endpoint and the
  Django admin's login, and beyond it answers 429 with the reason, checking no password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.test import Client, RequestFactory, override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from agencies import services
from agencies.models import ApiToken, StaffMember
from agencies.roles import Role
from alerts.models import Alert, AlertTicket
from audit.models import StaffEvent
from cases import access
from tests import factories as f

User = get_user_model()
NEW_PASSWORD = "river-otter-lantern-2026"


@dataclass
class Office:
    agency: object
    admin: StaffMember
    other_admin: StaffMember
    manager: StaffMember
    key_worker: StaffMember
    practitioner: StaffMember
    elsewhere_admin: StaffMember  # admin of another agency
    elsewhere: StaffMember  # practitioner of that other agency


@pytest.fixture
def office(db) -> Office:
    agency = f.agency_make(name="Riverside Early Help")
    other = f.agency_make(name="Riverside Housing")
    return Office(
        agency=agency,
        admin=f.staff_make(agency=agency, role=Role.AGENCY_ADMIN, username="eh.admin"),
        other_admin=f.staff_make(agency=agency, role=Role.AGENCY_ADMIN),
        manager=f.staff_make(agency=agency, role=Role.MANAGER),
        key_worker=f.staff_make(agency=agency, role=Role.KEY_WORKER),
        practitioner=f.staff_make(agency=agency, role=Role.PRACTITIONER, username="pat"),
        elsewhere_admin=f.staff_make(agency=other, role=Role.AGENCY_ADMIN),
        elsewhere=f.staff_make(agency=other, role=Role.PRACTITIONER, username="hugo"),
    )


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def staff_alerts() -> dict[int, str]:
    return dict(Alert.objects.filter(kind="staff.changed").values_list("recipient_id", "summary"))


def error_links(html: str) -> list[str]:
    """The error summary's links, in order."""
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', html, re.S)
    assert summary, "no error summary"
    assert 'role="alert"' in summary.group(0)
    return re.findall(r'<a href="#([\w-]+)">', summary.group(0))


def without_csrf(html: str) -> str:
    """The page without its CSRF token, which is masked afresh on every render."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def input_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert match, f"no input {name}"
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else None


# --- who may ------------------------------------------------------------------------------------


def test_the_list_shows_the_admins_own_agency(office):
    page = signed_in(office.admin.user).get("/staff/")
    assert page.status_code == 200
    html = page.text
    assert '<h1 class="govuk-heading-l">Staff</h1>' in html and "Riverside Early Help" in html
    for member in (office.admin, office.other_admin, office.manager, office.practitioner):
        assert f'data-staff-id="{member.id}"' in html
        assert f'href="/staff/{member.id}/"' in html
    assert f'data-staff-id="{office.elsewhere.id}"' not in html and "hugo" not in html
    # No link to deactivate oneself.
    assert f'href="/staff/{office.admin.id}/deactivate/"' not in html
    assert f'href="/staff/{office.practitioner.id}/deactivate/"' in html
    assert "app-table-scroll" in html


@pytest.mark.parametrize("who", ["manager", "key_worker", "practitioner", "platform"])
def test_others_cannot_manage_staff_here(office, who):
    user = (
        User.objects.create_user("platform", is_staff=True, is_superuser=True)
        if who == "platform"
        else getattr(office, who).user
    )
    client = signed_in(user)
    member = office.practitioner.id
    for method, path in [
        ("get", "/staff/"),
        ("get", "/staff/add/"),
        ("post", "/staff/add/"),
        ("get", f"/staff/{member}/"),
        ("post", f"/staff/{member}/"),
        ("get", f"/staff/{member}/deactivate/"),
        ("post", f"/staff/{member}/deactivate/"),
    ]:
        page = getattr(client, method)(path)
        assert page.status_code == 403, (method, path, page.status_code)
        assert "You cannot do this" in page.text
    assert User.objects.get(pk=office.practitioner.user_id).is_active
    assert not StaffEvent.objects.filter(action__in=["role_changed", "deactivated"]).exists()


def test_anonymous_people_are_sent_to_sign_in(office):
    for path in ["/staff/", "/staff/add/", f"/staff/{office.practitioner.id}/"]:
        for method in ("get", "post"):
            page = getattr(Client(), method)(path)
            assert page.status_code == 302
            assert page["Location"] == f"/sign-in/?next={path}"


def test_another_agencys_staff_is_not_found_like_no_staff_at_all(office):
    client = signed_in(office.admin.user)
    missing = StaffMember.objects.order_by("-id").first().id + 100
    pages = {}
    for staff_id in (office.elsewhere.id, missing, 2**70):
        for suffix in ("", "deactivate/"):
            for method in ("get", "post"):
                page = getattr(client, method)(f"/staff/{staff_id}/{suffix}", {"role": "manager"})
                assert page.status_code == 404, (staff_id, suffix, method)
                pages[(staff_id, suffix, method)] = without_csrf(page.text)
    assert len(set(pages.values())) == 1  # the same page, whichever
    assert "Page not found" in next(iter(pages.values()))
    assert User.objects.get(pk=office.elsewhere.user_id).is_active
    assert StaffMember.objects.get(pk=office.elsewhere.id).role == Role.PRACTITIONER


def test_forms_need_the_csrf_token(office):
    client = signed_in(office.admin.user, enforce_csrf_checks=True)
    member = office.practitioner
    for path, body in [
        ("/staff/add/", {"username": "x"}),
        (f"/staff/{member.id}/", {"role": "manager"}),
        (f"/staff/{member.id}/deactivate/", {}),
    ]:
        assert client.post(path, body).status_code == 403
        form = client.get(path).text
        assert 'name="csrfmiddlewaretoken"' in form
    member.refresh_from_db()
    assert member.role == Role.PRACTITIONER and member.user.is_active


# --- adding -------------------------------------------------------------------------------------


def test_adding_a_staff_member(office):
    client = signed_in(office.admin.user)
    form = client.get("/staff/add/")
    assert form.status_code == 200
    for field in ("first_name", "last_name", "username", "email", "password1", "password2"):
        assert f'<label class="govuk-label" for="id_{field}">' in form.text
    assert 'id="id_role"' in form.text  # the first radio: where the error summary links
    answer = client.post(
        "/staff/add/",
        {
            "first_name": "Jo",
            "last_name": "Smith",
            "username": "jsmith",
            "email": "jo.smith@example.test",
            "role": Role.KEY_WORKER,
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert answer.status_code == 302 and answer["Location"] == "/staff/"
    member = StaffMember.objects.select_related("user").get(user__username="jsmith")
    assert (member.agency_id, member.role) == (office.agency.id, Role.KEY_WORKER)
    assert member.user.check_password(NEW_PASSWORD)
    assert member.user.get_full_name() == "Jo Smith"
    assert list(member.user.groups.all()) == [office.agency.group]
    event = StaffEvent.objects.get(subject=member.user)
    assert (event.actor, event.action) == (office.admin.user, "created")
    assert event.new_role == "key_worker"
    summary = "Staff account created: jsmith (key_worker) by eh.admin"
    assert staff_alerts() == {office.other_admin.user_id: summary, office.manager.user_id: summary}
    listed = client.get("/staff/")
    assert "govuk-notification-banner--success" in listed.text
    assert "Staff account created for Jo Smith." in listed.text
    assert f'data-staff-id="{member.id}"' in listed.text


def test_an_empty_submission_lists_every_missing_field(office):
    answer = signed_in(office.admin.user).post("/staff/add/", {})
    assert answer.status_code == 400
    assert error_links(answer.text) == [
        "id_first_name",
        "id_last_name",
        "id_username",
        "id_role",
        "id_password1",
        "id_password2",
    ]
    assert answer.text.count("govuk-form-group--error") == 6
    assert "<title>Error: Add a staff member" in answer.text
    assert StaffMember.objects.count() == 7  # the office's, no more


def test_refusals_keep_what_was_typed_but_never_a_password(office):
    client = signed_in(office.admin.user)
    typed = {
        "first_name": "Pat",
        "last_name": "O'Neill",
        "username": "PAT",  # taken, whatever its case
        "email": "pat@example.test",
        "role": Role.MANAGER,
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    answer = client.post("/staff/add/", typed)
    assert answer.status_code == 400
    assert error_links(answer.text) == ["id_username"]
    assert "This username is taken." in answer.text
    assert input_value(answer.text, "first_name") == "Pat"
    assert input_value(answer.text, "last_name") == "O&#x27;Neill"
    assert input_value(answer.text, "username") == "PAT"
    assert input_value(answer.text, "email") == "pat@example.test"
    assert re.search(r'value="manager" checked', answer.text)
    assert input_value(answer.text, "password1") is None
    assert NEW_PASSWORD not in answer.text

    # The service's password rules land on the password field.
    weak = client.post("/staff/add/", dict(typed, username="pat2", password1="a", password2="a"))
    assert weak.status_code == 400
    assert set(error_links(weak.text)) == {"id_password1"}
    assert "too short" in weak.text
    mismatch = client.post("/staff/add/", dict(typed, username="pat3", password2="other-pass-1"))
    assert error_links(mismatch.text) == ["id_password2"]
    bad = client.post("/staff/add/", dict(typed, username="pat 4", email="nope", role="boss"))
    assert error_links(bad.text) == ["id_username", "id_email", "id_role"]
    assert not User.objects.filter(username__in=["pat2", "pat3", "pat 4"]).exists()
    assert not StaffEvent.objects.exclude(actor=None).exists()


# --- roles --------------------------------------------------------------------------------------


def test_changing_a_role(office):
    client = signed_in(office.admin.user)
    member = office.practitioner
    form = client.get(f"/staff/{member.id}/")
    assert form.status_code == 200
    assert re.search(r'value="practitioner" checked', form.text)
    assert f'href="/staff/{member.id}/deactivate/"' in form.text
    answer = client.post(f"/staff/{member.id}/", {"role": Role.KEY_WORKER})
    assert answer.status_code == 302 and answer["Location"] == "/staff/"
    member.refresh_from_db()
    assert member.role == Role.KEY_WORKER
    event = StaffEvent.objects.get(subject=member.user, action="role_changed")
    assert (event.actor, event.old_role, event.new_role) == (
        office.admin.user,
        "practitioner",
        "key_worker",
    )
    summary = "Staff role changed: pat from practitioner to key_worker by eh.admin"
    assert staff_alerts() == {office.other_admin.user_id: summary, office.manager.user_id: summary}
    assert "Role saved for" in client.get("/staff/").text
    # The same role again changes and records nothing.
    assert client.post(f"/staff/{member.id}/", {"role": Role.KEY_WORKER}).status_code == 302
    assert StaffEvent.objects.filter(action="role_changed").count() == 1


def test_a_bad_role_is_refused_on_the_form(office):
    client = signed_in(office.admin.user)
    member = office.practitioner
    for body in ({}, {"role": "boss"}):
        answer = client.post(f"/staff/{member.id}/", body)
        assert answer.status_code == 400
        assert error_links(answer.text) == ["id_role"]
    member.refresh_from_db()
    assert member.role == Role.PRACTITIONER


# --- deactivating -------------------------------------------------------------------------------


def test_deactivating_ends_every_way_in(
    office, client_for, django_capture_on_commit_callbacks, monkeypatch
):
    from alerts import push

    revoked = []
    monkeypatch.setattr(push, "user_revoke", revoked.append)
    member = office.practitioner
    theirs = signed_in(member.user)  # a browser session
    assert theirs.get("/alerts/").status_code == 200
    api = client_for(member.user)  # an API token
    assert api.get("/api/v1/me/").status_code == 200
    ticket = api.post("/api/v1/alerts/ticket/")
    assert ticket.status_code == 201
    someone_else = signed_in(office.manager.user)

    client = signed_in(office.admin.user)
    confirm = client.get(f"/staff/{member.id}/deactivate/")
    assert confirm.status_code == 200
    assert "govuk-warning-text" in confirm.text and "govuk-button--warning" in confirm.text
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/staff/{member.id}/deactivate/")
    assert answer.status_code == 302 and answer["Location"] == "/staff/"

    user = User.objects.get(pk=member.user_id)
    assert not user.is_active
    assert not ApiToken.objects.filter(user=user).exists()
    assert not AlertTicket.objects.filter(user=user).exists()
    assert revoked == [user.pk]  # open alert sockets are told to re-check and close
    sessions = [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()]
    assert str(user.pk) not in sessions
    assert theirs.get("/alerts/")["Location"] == "/sign-in/?next=/alerts/"
    assert (
        APIClient()
        .post("/api/v1/auth/token/", {"username": "pat", "password": f.PASSWORD}, format="json")
        .status_code
        == 400
    )
    assert api.get("/api/v1/me/").status_code == 401
    assert someone_else.get("/alerts/").status_code == 200  # nobody else is signed out

    event = StaffEvent.objects.get(subject=user, action="deactivated")
    assert (event.actor, event.agency_id, event.old_role, event.new_role) == (
        office.admin.user,
        office.agency.id,
        "practitioner",
        "practitioner",
    )
    summary = "Staff account deactivated: pat by eh.admin"
    assert staff_alerts() == {office.other_admin.user_id: summary, office.manager.user_id: summary}
    listed = client.get("/staff/").text
    assert "pat&#x27;s account is deactivated." in listed or "account is deactivated." in listed
    assert "Deactivated</strong>" in listed
    assert f'href="/staff/{member.id}/deactivate/"' not in listed

    # Again: the page says so, and nothing more is recorded.
    assert "account is deactivated" in client.get(f"/staff/{member.id}/deactivate/").text
    assert client.post(f"/staff/{member.id}/deactivate/").status_code == 302
    assert StaffEvent.objects.filter(action="deactivated").count() == 1


def test_nobody_deactivates_their_own_account(office):
    client = signed_in(office.admin.user)
    page = client.get(f"/staff/{office.admin.id}/deactivate/")
    assert page.status_code == 200
    assert "You cannot deactivate your own account" in page.text
    assert "govuk-button--warning" not in page.text
    answer = client.post(f"/staff/{office.admin.id}/deactivate/")
    assert answer.status_code == 400
    assert error_links(answer.text) == ["id_confirm"]
    assert User.objects.get(pk=office.admin.user_id).is_active
    # Another admin of the agency may.
    other = signed_in(office.other_admin.user)
    assert other.post(f"/staff/{office.admin.id}/deactivate/").status_code == 302
    assert not User.objects.get(pk=office.admin.user_id).is_active


def test_the_service_checks_who_may(office):
    with pytest.raises(access.Forbidden):
        services.staff_deactivate(staff=office.practitioner, by_user=office.manager.user)
    with pytest.raises(access.Forbidden):
        services.staff_deactivate(staff=office.practitioner, by_user=office.elsewhere_admin.user)
    platform = User.objects.create_user("platform", is_staff=True)
    services.staff_deactivate(staff=office.practitioner, by_user=platform)
    assert not User.objects.get(pk=office.practitioner.user_id).is_active
    event = StaffEvent.objects.get(action="deactivated")
    assert event.actor == platform
    # The platform admin is no member of the agency: all its admins and managers hear.
    assert set(staff_alerts()) == {
        office.admin.user_id,
        office.other_admin.user_id,
        office.manager.user_id,
    }


# --- the error pages ----------------------------------------------------------------------------


def test_the_404_page(office):
    for client in (Client(), signed_in(office.practitioner.user)):
        page = client.get("/no-such-page/")
        assert page.status_code == 404
        assert '<h1 class="govuk-heading-l">Page not found</h1>' in page.text
        assert "govuk-template__body" in page.text and 'id="main-content"' in page.text
        assert "no-such-page" not in page.text  # nothing of what was asked is echoed


def test_the_403_page(office):
    page = signed_in(office.practitioner.user).get("/staff/")
    assert page.status_code == 403
    assert "<title>You cannot do this – Team Around</title>" in page.text
    assert '<h1 class="govuk-heading-l">You cannot do this</h1>' in page.text
    assert "Only your agency&#x27;s admins manage its staff here." in page.text


def test_the_500_page():
    from django.views.defaults import server_error

    assert not settings.DEBUG
    page = server_error(RequestFactory().get("/"))
    assert page.status_code == 500
    html = page.content.decode()
    assert '<h1 class="govuk-heading-l">Sorry, there is a problem with the service</h1>' in html
    assert "govuk-frontend.min.css" in html


# --- the sign-in page's throttle ----------------------------------------------------------------

NOON = 1_800_000_000 + 30.0  # 30 s into a one-minute window


@pytest.fixture
def clock(monkeypatch, db):
    for alias in settings.CACHES:  # Redis keeps counts past the test's transaction
        caches[alias].clear()
    now = [NOON]
    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(lambda: now[0]))
    yield now
    for alias in settings.CACHES:
        caches[alias].clear()


def sign_in(client: Client, username: str, password: str, address: str = "203.0.113.9"):
    return client.post(
        "/sign-in/",
        {"username": username, "password": password, "next": "/alerts/"},
        REMOTE_ADDR=address,
    )


def test_signing_in_through_the_page(office, clock):
    client = Client()
    page = client.get("/sign-in/?next=/alerts/")
    assert page.status_code == 200 and 'name="csrfmiddlewaretoken"' in page.text
    wrong = sign_in(client, "pat", "wrong")
    assert wrong.status_code == 200
    assert error_links(wrong.text) == ["id_username"]
    assert input_value(wrong.text, "username") == "pat"
    right = sign_in(client, "pat", f.PASSWORD)
    assert right.status_code == 302 and right["Location"] == "/alerts/"
    assert client.get("/alerts/").status_code == 200


def test_the_sign_in_page_is_throttled_with_the_api_and_the_admin(office, clock):
    client = Client()
    rates = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"sign_in": "3/min"}}
    with override_settings(REST_FRAMEWORK=rates):
        assert [sign_in(client, "pat", "wrong").status_code for _ in range(2)] == [200, 200]
        token = APIClient().post(
            "/api/v1/auth/token/",
            {"username": "pat", "password": "wrong"},
            format="json",
            REMOTE_ADDR="203.0.113.9",
        )
        assert token.status_code == 400  # the third attempt of the address's budget
        refused = sign_in(client, "pat", f.PASSWORD)  # the right password: not even checked
        assert refused.status_code == 429
        assert refused["Retry-After"] == "30"
        assert error_links(refused.text) == ["id_username"]
        assert "Too many sign-in attempts. Try again in 30 seconds." in refused.text
        assert "_auth_user_id" not in client.session
        admin = Client().post(
            "/admin/login/",
            {"username": "pat", "password": f.PASSWORD, "next": "/admin/"},
            REMOTE_ADDR="203.0.113.9",
        )
        assert "Too many sign-in attempts" in admin.text
        # Another address has its own budget.
        assert sign_in(Client(), "pat", f.PASSWORD, address="198.51.100.4").status_code == 302
        clock[0] += 60  # the next window
        signed = sign_in(client, "pat", f.PASSWORD)
        assert signed.status_code == 302
        assert client.session["_auth_user_id"] == str(office.practitioner.user_id)
