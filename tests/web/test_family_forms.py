"""The family's forms through Django's test Client, signed in with a session.

Each form: a GET shows it; a valid POST writes through the service (checked in the database or
through the API) and returns to the family page with a success banner; a refused POST answers
400 with the error summary (each error a link to its field), the messages by the fields and what
was typed kept; a stale version answers 409 with the conflict message, keeps the input and changes
nothing; work on a closed family answers 409 with the service's message. Who may: the API's
answer for the same person (outsider → 404 on every form, a partner → 403 on the forms it may
not use). Sharing without consent, withdrawal, confirmation and emergency access (asking,
approving, reviewing) likewise.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cases import services
from cases.models import (
    Assessment,
    Contact,
    Family,
    Intervention,
    Involvement,
    Need,
    Person,
    PlanAction,
)
from consent import services as consent_services
from consent.models import EmergencyAccess, SharingBasis
from tests import factories as f


@pytest.fixture
def world(borough):
    b = borough
    b.need = services.need_create(
        family=b.family, by=b.key_worker, outcome=f.outcome("education"), descriptor="Attendance"
    )
    today = timezone.localdate()
    b.school_action = services.plan_action_create(
        family=b.family,
        by=b.key_worker,
        description="Attendance plan",
        owner_agency=b.school,
        due_on=today + timedelta(days=30),
        needs=[b.need],
    )
    b.lead_action = services.plan_action_create(
        family=b.family,
        by=b.key_worker,
        description="Parenting course referral",
        owner_agency=b.early_help,
        due_on=today + timedelta(days=10),
        needs=[],
    )
    b.parent = Person.objects.get(family=b.family, given_name="Dana")
    b.consent = SharingBasis.objects.get(family=b.family, basis="consent")
    b.involvement = Involvement.objects.get(family=b.family, agency=b.school, ended_on__isnull=True)
    return b


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(b, tail: str = "") -> str:
    return f"/families/{b.family.id}/{tail}"


def day(name: str, value: date) -> dict:
    return {f"{name}-day": value.day, f"{name}-month": value.month, f"{name}-year": value.year}


def summary_links(content: str) -> list[tuple[str, str]]:
    """(href, text) of each linked error in the error summary."""
    start = content.index('class="govuk-error-summary"')
    end = content.index("</ul>", start)
    return [
        (href, html_lib.unescape(text))
        for href, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', content[start:end])
    ]


def field_error(content: str, field: str) -> str:
    match = re.search(
        rf'id="id_{field}-error" class="govuk-error-message">'
        r'<span class="govuk-visually-hidden">Error:</span> ([^<]+)</p>',
        content,
    )
    assert match, f"no error message by {field}"
    return html_lib.unescape(match.group(1))


def banner_after(client, response) -> str:
    """Follow the redirect to the family page; the success banner's text."""
    assert response.status_code == 302, response.status_code
    page = client.get(response["Location"])
    assert page.status_code == 200
    content = page.content.decode()
    match = re.search(
        r'govuk-notification-banner--success".*?govuk-notification-banner__heading">([^<]+)<',
        content,
        flags=re.S,
    )
    assert match, "no success banner"
    return html_lib.unescape(match.group(1))


def close(b) -> None:
    b.family.refresh_from_db()
    services.family_close(
        family_id=b.family.id,
        by=b.key_worker,
        reason="outcomes_met",
        outcome_summary="Plan complete.",
    )


# --- logging a contact: the whole cycle ------------------------------------------------------


def test_log_a_contact(world):
    b = world
    client = signed_in(b.partner.user)
    form = client.get(url(b, "contacts/new/"))
    assert form.status_code == 200
    content = form.content.decode()
    for name in ("occurred_on-day", "occurred_on-month", "occurred_on-year", "occurred_time"):
        assert f'name="{name}"' in content
    assert 'class="govuk-date-input"' in content and 'name="csrfmiddlewaretoken"' in content
    today = timezone.localdate()
    response = client.post(
        url(b, "contacts/new/"),
        {
            **day("occurred_on", today),
            "occurred_time": "00:05",
            "method": "home_visit",
            "summary": "Visited the family at home",
            "persons": [b.parent.id],
            "visibility": "team",
        },
    )
    assert response["Location"] == url(b) + "#chronology"
    assert banner_after(client, response) == "Contact recorded"
    made = Contact.objects.get(summary="Visited the family at home")
    assert made.agency_id == b.school.id and made.recorded_by_id == b.partner.user_id
    local = timezone.localtime(made.occurred_at)
    assert (local.date(), local.hour, local.minute) == (today, 0, 5)
    assert list(made.persons.values_list("id", flat=True)) == [b.parent.id]
    # Through the API, as the key worker: the same record.
    api = f.token_for(b.key_worker.user)
    from rest_framework.test import APIClient

    listed = APIClient(HTTP_AUTHORIZATION=f"Token {api}").get(f"/api/v1{url(b, 'contacts/')}")
    assert "Visited the family at home" in [c["summary"] for c in listed.json()["results"]]


def test_a_refused_contact_shows_the_errors_and_keeps_what_was_typed(world):
    b = world
    client = signed_in(b.partner.user)
    before = Contact.objects.count()
    response = client.post(
        url(b, "contacts/new/"),
        {
            "occurred_on-day": "31",
            "occurred_on-month": "2",
            "occurred_on-year": "2026",
            "occurred_time": "25:00",
            "method": "phone",
            "summary": "",
            "visibility": "restricted",
        },
    )
    assert response.status_code == 400
    content = response.content.decode()
    links = dict(summary_links(content))
    assert links["#id_occurred_on"] == "Date of the contact must be a real date"
    assert links["#id_occurred_time"] == "Enter a real time"
    assert links["#id_summary"] == "Enter what happened"
    assert field_error(content, "occurred_on") == "Date of the contact must be a real date"
    assert 'role="alert"' in content
    assert "govuk-form-group--error" in content
    # What was typed is kept.
    assert 'name="occurred_on-day" type="text" inputmode="numeric" value="31"' in content
    assert 'value="25:00"' in content
    assert re.search(r'value="phone" checked', content)
    assert re.search(r'value="restricted" checked', content)
    assert Contact.objects.count() == before
    # The service's own rule, by its field: a contact cannot be in the future.
    tomorrow = timezone.localdate() + timedelta(days=2)
    response = client.post(
        url(b, "contacts/new/"),
        {
            **day("occurred_on", tomorrow),
            "occurred_time": "10:00",
            "method": "phone",
            "summary": "Planned call",
            "visibility": "team",
        },
    )
    assert response.status_code == 400
    assert dict(summary_links(response.content.decode()))["#id_occurred_on"] == (
        "A contact cannot be in the future."
    )
    assert "Planned call" in response.content.decode()
    assert Contact.objects.count() == before


# --- the other forms' success and refusal -----------------------------------------------------


def test_record_an_intervention(world):
    b = world
    client = signed_in(b.partner.user)
    today = timezone.localdate()
    assert client.get(url(b, "interventions/new/")).status_code == 200
    response = client.post(
        url(b, "interventions/new/"),
        {
            "kind": "attendance",
            "title": "Morning routine support",
            **day("started_on", today),
            "needs": [b.need.id],
            "visibility": "team",
        },
    )
    assert banner_after(client, response) == "Intervention recorded"
    made = Intervention.objects.get(title="Morning routine support")
    assert made.agency_id == b.school.id and list(made.needs.all()) == [b.need]
    # The end before the start: the service's error, by the end date.
    response = client.post(
        url(b, "interventions/new/"),
        {
            "kind": "attendance",
            "title": "Backwards",
            **day("started_on", today),
            **day("ended_on", today - timedelta(days=3)),
            "visibility": "team",
        },
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert ("#id_ended_on", "The end cannot be before the start.") in summary_links(content)
    assert 'value="Backwards"' in content
    assert not Intervention.objects.filter(title="Backwards").exists()


def test_add_a_member(world):
    b = world
    client = signed_in(b.key_worker.user)
    response = client.post(
        url(b, "members/new/"),
        {
            "given_name": "Sam",
            "family_name": "Smith",
            **day("date_of_birth", date(2015, 4, 2)),
            "relationship": "child",
        },
    )
    assert banner_after(client, response) == "Sam Smith added to the household"
    assert Person.objects.get(family=b.family, given_name="Sam").date_of_birth == date(2015, 4, 2)
    response = client.post(
        url(b, "members/new/"),
        {
            "given_name": "Alex",
            "family_name": "Smith",
            "relationship": "child",
            "nhs_number": "1234567890",
            "parental_responsibility": "on",
        },
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert field_error(content, "nhs_number") == "This NHS number fails its check digit."
    assert 'value="1234567890"' in content and 'value="Alex"' in content
    assert re.search(r'id="id_parental_responsibility"[^>]*checked', content)
    assert not Person.objects.filter(given_name="Alex").exists()


def test_add_and_remove_a_team_member(world):
    b = world
    client = signed_in(b.key_worker.user)
    first = client.get(url(b, "team/new/")).content.decode()
    assert 'name="agency"' in first and "Housing" in first
    assert ">Hill Primary<" not in first  # already on the team
    second = client.get(url(b, f"team/new/?agency={b.housing.id}")).content.decode()
    assert b.outsider.user.get_full_name() in second
    response = client.post(
        url(b, "team/new/"),
        {"agency": b.housing.id, "practitioner": b.outsider.user_id, "role": "Housing officer"},
    )
    assert banner_after(client, response) == "Housing added to the team"
    joined = Involvement.objects.get(family=b.family, agency=b.housing, ended_on__isnull=True)
    assert joined.practitioner_id == b.outsider.user_id
    # A practitioner of another agency: the service's error, and the agency stays chosen.
    response = client.post(
        url(b, "team/new/"), {"agency": b.police.id, "practitioner": b.partner.user_id}
    )
    assert response.status_code == 400
    assert "not one of the available choices" in response.content.decode()
    # Removing: a confirmation page, then the POST ends it.
    end = url(b, f"team/{joined.id}/end/")
    assert "Remove from the team" in client.get(end).content.decode()
    response = client.post(end, {})
    assert banner_after(client, response) == "Housing left the team"
    joined.refresh_from_db()
    assert joined.ended_on is not None
    # Again: it has already ended (409, the message).
    response = client.post(end, {})
    assert response.status_code == 409
    assert "This involvement has already ended." in response.content.decode()
    # The lead agency stays on the team: the service's conflict.
    lead = Involvement.objects.get(family=b.family, agency=b.early_help, ended_on__isnull=True)
    response = client.post(url(b, f"team/{lead.id}/end/"), {})
    assert response.status_code == 409
    assert "The lead agency stays on the team" in response.content.decode()


def test_add_a_need(world):
    b = world
    client = signed_in(b.partner.user)
    content = client.get(url(b, "needs/new/")).content.decode()
    outcome = f.outcome("health")
    assert f'value="{outcome.id}"' in content
    response = client.post(
        url(b, "needs/new/"),
        {"outcome": outcome.id, "person": b.parent.id, "descriptor": "GP registration"},
    )
    assert banner_after(client, response) == "Need added"
    need = Need.objects.get(descriptor="GP registration")
    assert (need.outcome_id, need.person_id, need.agency_id) == (
        outcome.id,
        b.parent.id,
        b.school.id,
    )
    response = client.post(url(b, "needs/new/"), {"descriptor": "No outcome"})
    assert response.status_code == 400
    assert ("#id_outcome", "Select the headline outcome") in summary_links(
        response.content.decode()
    )
    assert 'value="No outcome"' in response.content.decode()


def test_change_a_need_status_and_a_stale_version(world):
    b = world
    client = signed_in(b.key_worker.user)
    path = url(b, f"needs/{b.need.id}/status/")
    content = client.get(path).content.decode()
    assert 'name="version" value="1"' in content or 'value="1" id="id_version"' in content
    # Someone else changes it meanwhile.
    services.need_update(need_id=b.need.id, by=b.manager, expected_version=1, status="in_progress")
    response = client.post(path, {"version": 1, "status": "achieved"})
    assert response.status_code == 409
    content = response.content.decode()
    assert "This need was changed by someone else since you opened this page" in content
    assert re.search(r'value="achieved" checked', content)  # the input kept
    assert "In progress" in content  # the need as it is now
    b.need.refresh_from_db()
    assert (b.need.status, b.need.version) == ("in_progress", 2)  # nothing changed
    assert re.search(r'name="version" value="2"|value="2"[^>]*name="version"', content)
    # Saving again, deliberately, with the current version.
    response = client.post(path, {"version": 2, "status": "achieved"})
    assert banner_after(client, response) == "Need status changed"
    b.need.refresh_from_db()
    assert (b.need.status, b.need.achieved_on) == ("achieved", timezone.localdate())
    # The partner may not change a need's status: 403, as the API answers.
    partner = signed_in(b.partner.user)
    assert partner.get(path).status_code == 403
    assert partner.post(path, {"version": 3, "status": "closed"}).status_code == 403
    b.need.refresh_from_db()
    assert b.need.status == "achieved"


def test_record_an_assessment(world):
    b = world
    client = signed_in(b.key_worker.user)
    today = timezone.localdate()
    response = client.post(
        url(b, "assessments/new/"),
        {**day("completed_on", today), "summary": "Whole-family assessment done"},
    )
    assert banner_after(client, response) == "Assessment recorded"
    assert Assessment.objects.filter(family=b.family, completed_on=today).exists()
    response = client.post(
        url(b, "assessments/new/"),
        {**day("completed_on", today + timedelta(days=5)), "summary": "Not yet"},
    )
    assert response.status_code == 400
    assert ("#id_completed_on", "The completion date cannot be in the future.") in (
        summary_links(response.content.decode())
    )


def test_add_and_update_a_plan_action_and_a_stale_version(world):
    b = world
    client = signed_in(b.partner.user)
    due = timezone.localdate() + timedelta(days=14)
    response = client.post(
        url(b, "actions/new/"),
        {
            "description": "Daily attendance check",
            "owner_agency": b.school.id,
            **day("due_on", due),
            "status": "open",
        },
    )
    assert banner_after(client, response) == "Plan action added"
    action = PlanAction.objects.get(description="Daily attendance check")
    assert (action.owner_agency_id, action.due_on) == (b.school.id, due)
    # An owner agency not on the team is not offered.
    response = client.post(
        url(b, "actions/new/"),
        {"description": "x", "owner_agency": b.housing.id, **day("due_on", due)},
    )
    assert response.status_code == 400
    assert "#id_owner_agency" in dict(summary_links(response.content.decode()))
    # Updating the school's own action.
    path = url(b, f"actions/{b.school_action.id}/edit/")
    content = client.get(path).content.decode()
    assert "Attendance plan" in content
    body = {
        "version": 1,
        "description": "Attendance plan, weekly review",
        "owner_agency": b.school.id,
        **day("due_on", due),
        "needs": [b.need.id],
        "status": "in_progress",
    }
    response = client.post(path, body)
    assert banner_after(client, response) == "Plan action updated"
    b.school_action.refresh_from_db()
    assert (b.school_action.status, b.school_action.version) == ("in_progress", 2)
    # The same version again: stale, 409, input kept, nothing changed.
    body["description"] = "A second edit"
    response = client.post(path, body)
    assert response.status_code == 409
    content = response.content.decode()
    assert "This plan action was changed by someone else since you opened this page" in content
    assert "A second edit" in content
    b.school_action.refresh_from_db()
    assert (b.school_action.description, b.school_action.version) == (
        "Attendance plan, weekly review",
        2,
    )
    # The lead agency's action is not the partner's to change.
    lead_path = url(b, f"actions/{b.lead_action.id}/edit/")
    assert client.get(lead_path).status_code == 403
    assert client.post(lead_path, {**body, "version": 1}).status_code == 403


def test_edit_the_family_and_a_stale_version(world):
    b = world
    client = signed_in(b.key_worker.user)
    path = url(b, "edit/")
    content = client.get(path).content.decode()
    assert 'value="Smith household"' in content
    # The key worker hands over only to a colleague of their agency: the manager is offered,
    # the lead practitioner is not (not a key worker or manager).
    assert b.manager.user.get_full_name() in content
    assert b.lead_practitioner.user.get_full_name() not in content
    next_review = timezone.localdate() + timedelta(days=60)
    body = {
        "version": 1,
        "name": "Smith-Jones household",
        "address": "1 River Lane",
        "postcode": "sw1a1aa",
        "level_of_need": "3",
        **day("next_review_on", next_review),
        "status": "open",
        "key_worker": b.key_worker.user_id,
    }
    response = client.post(path, body)
    assert banner_after(client, response) == "Family details saved"
    family = Family.objects.get(id=b.family.id)
    assert (family.name, family.level_of_need, family.next_review_on, family.version) == (
        "Smith-Jones household",
        3,
        next_review,
        2,
    )
    assert family.key_worker_id == b.key_worker.user_id
    # Stale: 409, the message, what was typed kept, nothing changed.
    body["name"] = "Stale name"
    response = client.post(path, body)
    assert response.status_code == 409
    content = response.content.decode()
    assert "This family&#x27;s details were changed by someone else" in content
    assert 'value="Stale name"' in content
    assert Family.objects.get(id=b.family.id).name == "Smith-Jones household"
    # A bad postcode: the service's error, by the field.
    body.update(version=2, postcode="NOTAPOST")
    response = client.post(path, body)
    assert response.status_code == 400
    assert field_error(response.content.decode(), "postcode").startswith("Enter a real UK")
    # The manager allocates the key worker.
    manager = signed_in(b.manager.user)
    body.update(version=2, postcode="SW1A 1AA", key_worker=b.manager.user_id)
    response = manager.post(path, body)
    assert banner_after(manager, response) == "Family details saved"
    assert Family.objects.get(id=b.family.id).key_worker_id == b.manager.user_id
    # A partner may not edit the family.
    partner = signed_in(b.partner.user)
    assert partner.get(path).status_code == 403
    assert partner.post(path, {**body, "version": 3}).status_code == 403


# --- sharing --------------------------------------------------------------------------------


def test_record_a_consent_basis(world):
    b = world
    client = signed_in(b.key_worker.user)
    content = client.get(url(b, "sharing/new/")).content.decode()
    assert "Hill Primary" in content and b.manager.user.get_full_name() in content
    response = client.post(
        url(b, "sharing/new/"),
        {
            "basis": "consent",
            "agencies": [b.school.id],
            "purposes": ["team_sharing"],
            "given_by": [b.parent.id],
            "method": "verbal",
            "agrees_to_early_help": "yes",
        },
    )
    assert banner_after(client, response) == "Basis for sharing recorded"
    made = SharingBasis.objects.filter(family=b.family, method="verbal").get()
    assert list(made.agencies.all()) == [b.school] and made.agrees_to_early_help is True


def test_sharing_without_consent_needs_a_justification_and_the_deciding_manager(world):
    b = world
    client = signed_in(b.key_worker.user)
    before = SharingBasis.objects.count()
    response = client.post(
        url(b, "sharing/new/"),
        {"basis": "safeguarding", "agencies": [b.school.id], "purposes": ["team_sharing"]},
    )
    assert response.status_code == 400
    links = dict(summary_links(response.content.decode()))
    assert links["#id_justification"] == "Record why the information is shared without consent."
    assert links["#id_decided_by"] == "Name the lead-agency manager who decided."
    assert SharingBasis.objects.count() == before
    response = client.post(
        url(b, "sharing/new/"),
        {
            "basis": "safeguarding",
            "agencies": [b.school.id],
            "purposes": ["team_sharing"],
            "justification": "Risk of harm reported",
            "decided_by": b.manager.user_id,
        },
    )
    assert response.status_code == 302
    decision = SharingBasis.objects.get(family=b.family, basis="safeguarding")
    assert decision.confirmed_at is None
    # The named manager confirms it; the key worker may not.
    confirm = url(b, f"sharing/{decision.id}/confirm/")
    assert client.get(confirm).status_code == 403
    assert client.post(confirm, {}).status_code == 403
    manager = signed_in(b.manager.user)
    assert "Confirm the decision" in manager.get(confirm).content.decode()
    response = manager.post(confirm, {})
    assert "Decision confirmed" in banner_after(manager, response)
    decision.refresh_from_db()
    assert decision.confirmed_by_id == b.manager.user_id
    # Confirming again: 409 with the message.
    response = manager.post(confirm, {})
    assert response.status_code == 409
    assert "This decision is already confirmed." in response.content.decode()


def test_withdraw_a_basis(world):
    b = world
    client = signed_in(b.key_worker.user)
    path = url(b, f"sharing/{b.consent.id}/withdraw/")
    assert "Withdraw" in client.get(path).content.decode()
    response = client.post(path, {"reason": ""})
    assert response.status_code == 400
    assert "#id_reason" in dict(summary_links(response.content.decode()))
    response = client.post(path, {"reason": "Mum withdrew consent by phone"})
    assert "Sharing withdrawn" in banner_after(client, response)
    b.consent.refresh_from_db()
    assert b.consent.withdrawn_at is not None
    # The school no longer sees the family: the 404 page, as the API answers.
    assert signed_in(b.partner.user).get(url(b)).status_code == 404
    response = client.post(path, {"reason": "Again"})
    assert response.status_code == 409
    assert "already withdrawn" in response.content.decode()


# --- emergency access -------------------------------------------------------------------------


def test_ask_for_emergency_access(world):
    b = world
    client = signed_in(b.outsider.user)
    path = url(b, "emergency-access/")
    form = client.get(path)
    assert form.status_code == 200
    content = form.content.decode()
    assert "govuk-warning-text" in content and "logged" in content
    assert "Smith household" not in content and b.family.reference not in content
    # The same form for a family that does not exist.
    missing = client.get(f"/families/{b.family.id + 999}/emergency-access/")
    assert missing.status_code == 200
    # A reason is required (before anything is looked up).
    response = client.post(path, {"reason": ""})
    assert response.status_code == 400
    assert ("#id_reason", "Enter why you need emergency access") in summary_links(
        response.content.decode()
    )
    assert (
        client.post(
            f"/families/{b.family.id + 999}/emergency-access/", {"reason": "Child at risk now"}
        ).status_code
        == 404
    )
    response = client.post(path, {"reason": "Police called to the address overnight."})
    assert response.status_code == 302 and response["Location"] == url(b)
    assert "Emergency access granted until" in banner_after(client, response)
    grant = EmergencyAccess.objects.get(family=b.family, user=b.outsider.user)
    assert grant.expires_at is not None
    # Asking again while it is live: 409 with the service's message.
    response = client.post(path, {"reason": "Police called again tonight."})
    assert response.status_code == 409
    assert "You already have emergency access to this family." in response.content.decode()
    # An agency admin works with no families: 403, as the API answers.
    admin = f.staff_make(agency=b.early_help, role="agency_admin")
    assert signed_in(admin.user).get(path).status_code == 403


def test_review_and_approve_emergency_access(world):
    b = world
    grant = consent_services.emergency_access_grant(
        family_id=b.family.id, by=b.outsider, reason="Police called to the address overnight."
    )
    path = f"/emergency-access/{grant.id}/review/"
    # Only lead-agency managers: the key worker 403, a practitioner who cannot see it 404.
    assert signed_in(b.key_worker.user).get(path).status_code == 403
    assert signed_in(b.ended_partner.user).get(path).status_code == 404
    manager = signed_in(b.manager.user)
    content = manager.get(path).content.decode()
    assert "Review emergency access" in content and "Police called" in content
    response = manager.post(path, {"stage": "review", "decision": ""})
    assert response.status_code == 400
    assert ("#id_decision", "Choose whether the access was justified") in summary_links(
        response.content.decode()
    )
    response = manager.post(
        path, {"stage": "review", "decision": "not_justified", "notes": "No risk found"}
    )
    assert banner_after(manager, response) == "Review recorded"
    grant.refresh_from_db()
    assert (grant.decision, grant.review_notes) == ("not_justified", "No risk found")
    assert signed_in(b.outsider.user).get(url(b)).status_code == 404  # access ended
    response = manager.post(path, {"stage": "review", "decision": "upheld"})
    assert response.status_code == 409
    assert "already been reviewed" in response.content.decode()
    # After "not justified", the next request waits for approval.
    waiting = consent_services.emergency_access_grant(
        family_id=b.family.id, by=b.outsider, reason="Asked again, urgent risk."
    )
    assert waiting.expires_at is None
    path = f"/emergency-access/{waiting.id}/review/"
    assert "Approve or refuse" in manager.get(path).content.decode()
    response = manager.post(path, {"stage": "approval", "decision": "approve"})
    assert banner_after(manager, response) == "Emergency access approved"
    waiting.refresh_from_db()
    assert waiting.approved_by_id == b.manager.user_id and waiting.expires_at is not None


# --- who may: the API's answers ---------------------------------------------------------------


def form_paths(b) -> dict[str, str]:
    return {
        "family-edit": url(b, "edit/"),
        "contact-new": url(b, "contacts/new/"),
        "intervention-new": url(b, "interventions/new/"),
        "member-new": url(b, "members/new/"),
        "team-new": url(b, "team/new/"),
        "team-end": url(b, f"team/{b.involvement.id}/end/"),
        "need-new": url(b, "needs/new/"),
        "need-status": url(b, f"needs/{b.need.id}/status/"),
        "assessment-new": url(b, "assessments/new/"),
        "action-new": url(b, "actions/new/"),
        "action-edit": url(b, f"actions/{b.lead_action.id}/edit/"),
        "sharing-new": url(b, "sharing/new/"),
        "sharing-withdraw-page": url(b, f"sharing/{b.consent.id}/withdraw/"),
        "sharing-confirm-page": url(b, f"sharing/{b.consent.id}/confirm/"),
    }


PARTNER_MAY = {"contact-new", "intervention-new", "need-new", "action-new"}


def test_an_outsider_gets_404_on_every_form_and_a_partner_403_on_the_others(world):
    b = world
    outsider, partner = signed_in(b.outsider.user), signed_in(b.partner.user)
    for name, path in form_paths(b).items():
        for method in ("get", "post"):
            assert getattr(outsider, method)(path, {}).status_code == 404, (name, method)
            got = getattr(partner, method)(path, {}).status_code
            if name in PARTNER_MAY:
                assert got in (200, 400), (name, method, got)
            else:
                assert got == 403, (name, method, got)
    grant = consent_services.emergency_access_grant(
        family_id=b.family.id, by=b.ended_partner, reason="Police called to the address."
    )
    assert outsider.get(f"/emergency-access/{grant.id}/review/").status_code == 404
    assert partner.get(f"/emergency-access/{grant.id}/review/").status_code == 403
    # Nothing was written by any of it.
    assert not Contact.objects.exists() and not Intervention.objects.exists()


WORK_FORMS = {
    "contact-new": lambda b: {
        **day("occurred_on", timezone.localdate()),
        "occurred_time": "09:00",
        "method": "phone",
        "summary": "Call on a closed family",
        "visibility": "team",
    },
    "intervention-new": lambda b: {
        "kind": "other",
        "title": "Work on a closed family",
        **day("started_on", timezone.localdate()),
        "visibility": "team",
    },
    "member-new": lambda b: {"given_name": "Kit", "family_name": "Smith", "relationship": "child"},
    "team-new": lambda b: {"agency": b.housing.id},
    "need-new": lambda b: {"outcome": f.outcome("health").id, "descriptor": "Closed need"},
    "need-status": lambda b: {"version": 1, "status": "achieved"},
    "assessment-new": lambda b: {
        **day("completed_on", timezone.localdate()),
        "summary": "Closed assessment",
    },
    "action-new": lambda b: {
        "description": "Closed action",
        "owner_agency": b.school.id,
        **day("due_on", timezone.localdate() + timedelta(days=3)),
        "status": "open",
    },
    "action-edit": lambda b: {
        "version": 1,
        "description": "Closed edit",
        "owner_agency": b.early_help.id,
        **day("due_on", timezone.localdate() + timedelta(days=3)),
        "status": "open",
    },
    "sharing-new": lambda b: {
        "basis": "consent",
        "agencies": [b.school.id],
        "purposes": ["team_sharing"],
        "given_by": [b.parent.id],
        "method": "written",
    },
}


def test_work_on_a_closed_family_answers_with_the_conflict(world):
    b = world
    close(b)
    client = signed_in(b.key_worker.user)
    message = f"Family {b.family.reference} is closed: reopen it before recording work."
    counts = (Contact, Intervention, Person, Need, Assessment, PlanAction, SharingBasis)
    before = [m.objects.count() for m in counts]
    paths = form_paths(b)
    for name, body in WORK_FORMS.items():
        response = client.get(paths[name])
        assert response.status_code == 409, (name, "GET", response.status_code)
        assert message in response.content.decode(), name
        response = client.post(paths[name], body(b))
        assert response.status_code == 409, (name, "POST", response.status_code)
        assert message in response.content.decode(), name
    assert [m.objects.count() for m in counts] == before
    # Reopening is an edit of the family, which stays open to the key worker.
    b.family.refresh_from_db()
    assert client.get(url(b, "edit/")).status_code == 200


def test_ids_beyond_64_bits_are_refused_not_a_500(world):
    b = world
    client = signed_in(b.key_worker.user)
    huge = str(2**70)
    response = client.post(
        url(b, "contacts/new/"),
        {
            **day("occurred_on", timezone.localdate()),
            "occurred_time": "09:00",
            "method": "phone",
            "summary": "Hostile ids",
            "persons": [huge],
            "visibility": "team",
        },
    )
    assert response.status_code == 400
    assert "#id_persons" in dict(summary_links(response.content.decode()))
    response = client.post(
        url(b, "sharing/new/"),
        {"basis": "consent", "agencies": [huge], "purposes": ["team_sharing"]},
    )
    assert response.status_code == 400
    for path in (
        url(b, f"needs/{huge}/status/"),
        url(b, f"actions/{huge}/edit/"),
        url(b, f"team/{huge}/end/"),
        url(b, f"sharing/{huge}/withdraw/"),
        f"/emergency-access/{huge}/review/",
        f"/families/{huge}/",
        f"/families/{huge}/edit/",
    ):
        assert client.get(path).status_code == 404, path
    assert client.get(url(b, f"team/new/?agency={huge}")).status_code == 400
    response = client.post(f"/families/{huge}/emergency-access/", {"reason": "Child at risk now"})
    assert response.status_code == 404
    assert not Contact.objects.filter(summary="Hostile ids").exists()
