"""The unread-alerts digest asks the access rule, and its e-mails carry no case content.

A family on a team of two partner agencies under consent; each side records a contact about
what the mother disclosed; then the consent is withdrawn. The digest must not tell the partners
anything of that family any more, and no e-mail (to anyone) may carry what was recorded: only a
count, the references of families the recipient still sees, and where to sign in.

The setup and the checks are shared by two entry points: Django's test client with real tokens
and the digest function (every leg), and the real uvicorn server and Celery worker writing
e-mails to files (the real-services leg only, using the stack of test_e2e_services).
"""

from __future__ import annotations

import email
import os
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from agencies.models import StaffMember
from agencies.roles import Role
from alerts import digest
from alerts.models import Alert
from alerts.tasks import alerts_digest_send
from cases.models import Family, Person
from consent.models import SharingBasis
from tests import factories as f

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
SERVICES = bool(DATABASE_URL.startswith("postgres") and REDIS_URL)
if SERVICES:  # the stack of uvicorn and a Celery worker; on other legs its module skips itself
    from tests.alerts.test_e2e_services import QUEUE, Http, stack  # noqa: F401

API = "/api/v1/"
KEY_WORKER = "key.worker@council.example"
MANAGER = "manager@council.example"
SCHOOL = "partner@school.example"
HOUSING = "officer@housing.example"
FROM_SCHOOL = "Mother disclosed at the school gate that the rent is three months behind"
FROM_KEY_WORKER = "Mother disclosed that her former partner has moved back in"


@dataclass
class Scenario:
    family: Family  # school and housing were on its team until consent was withdrawn
    still_seen: Family  # the borough's family: the school still sees it


@dataclass
class Sent:
    """One digest as it left: its address, the alert count it gives, and all of its text."""

    to: str
    count: int
    text: str


COUNT = re.compile(r"You have (\d+) unread alert\(s\)")


def sent_from_email(to: list[str], subject: str, body: str) -> Sent:
    assert len(to) == 1 and subject == "Team Around: unread alerts", (to, subject)
    found = COUNT.search(body)
    assert found, body
    return Sent(to[0], int(found.group(1)), f"{subject}\n{body}")


def sent_from_notify(request: dict) -> Sent:
    """A GOV.UK Notify request: personalisation is the count, the references and the link."""
    values = request["personalisation"]
    assert set(values) == {"count", "references", "link"}, values
    return Sent(request["email_address"], int(values["count"]), "\n".join(values.values()))


def _set_email(user, address: str) -> None:
    get_user_model().objects.filter(id=user.id).update(email=address)


def scenario_build(b, post) -> Scenario:
    """`post(user, path, body)` → a response with `status_code` and `json()`, sent with the
    user's real token."""
    for staff, address in (
        (b.key_worker, KEY_WORKER),
        (b.manager, MANAGER),
        (b.partner, SCHOOL),
        (b.outsider, HOUSING),
    ):
        _set_email(staff.user, address)
    family = f.family_make(by=b.key_worker, name="Okafor household")
    f.involvement_make(family=family, by=b.key_worker, agency=b.school, practitioner=b.partner.user)
    f.involvement_make(
        family=family, by=b.key_worker, agency=b.housing, practitioner=b.outsider.user
    )
    f.consent_make(family=family, by=b.key_worker, agencies=[b.school, b.housing])
    basis = SharingBasis.objects.get(family=family)

    contacts = f"{API}families/{family.id}/contacts/"
    occurred = (timezone.now() - timedelta(minutes=10)).isoformat()
    for staff, text in ((b.partner, FROM_SCHOOL), (b.key_worker, FROM_KEY_WORKER)):
        body = {"occurred_at": occurred, "method": "home_visit", "summary": text}
        response = post(staff.user, contacts, body)
        assert response.status_code == 201, response.json()
    # The recorded text reached the other side's alerts, as it should inside the service.
    for staff, text in ((b.key_worker, FROM_SCHOOL), (b.partner, FROM_KEY_WORKER)):
        assert Alert.objects.filter(recipient=staff.user, summary__contains=text).exists()
    assert Alert.objects.filter(
        recipient=b.outsider.user, summary__contains=FROM_KEY_WORKER
    ).exists()

    withdraw = f"{API}families/{family.id}/sharing/{basis.id}/withdraw/"
    response = post(b.manager.user, withdraw, {"reason": "Mother withdrew consent by phone."})
    assert response.status_code == 200, response.json()
    b.family.refresh_from_db()
    return Scenario(family=family, still_seen=b.family)


def digest_check(b, scenario: Scenario, sent: list[Sent], link: str) -> None:
    """What the digest run must have sent for `scenario_build`'s data."""
    by_address: dict[str, list[Sent]] = {}
    for one in sent:
        by_address.setdefault(one.to, []).append(one)
    ref, seen_ref = scenario.family.reference, scenario.still_seen.reference

    # No case content in any digest: no alert's text, no recorded text, no names.
    summaries = set(Alert.objects.values_list("summary", flat=True))
    names = set(Family.objects.values_list("name", flat=True))
    names |= {p.given_name for p in Person.objects.all()} | {"Okafor", "Smith"}
    for one in sent:
        assert "disclosed" not in one.text.lower(), one.text
        for leaked in summaries | names:
            assert leaked not in one.text, (leaked, one.text)

    # Housing sees no family now: nothing at all, though its alerts were about the family.
    assert HOUSING not in by_address
    # The school still sees the borough's family, and hears of that one only.
    [school] = by_address[SCHOOL]
    assert ref not in school.text
    assert seen_ref in school.text and link in school.text
    seen = Alert.objects.filter(recipient=b.partner.user, family=scenario.still_seen)
    assert school.count == seen.count() >= 1
    # The key worker still sees the family: the count, its reference and the link.
    [key_worker] = by_address[KEY_WORKER]
    mine = Alert.objects.filter(recipient=b.key_worker.user, family=scenario.family)
    assert key_worker.count == mine.count() >= 2
    assert mine.filter(summary__contains=FROM_SCHOOL).exists()  # what must not be e-mailed
    assert ref in key_worker.text and link in key_worker.text
    assert set(by_address) == {SCHOOL, KEY_WORKER}

    # Every alert was claimed, those left unsaid too: none is retried.
    assert not Alert.objects.filter(digested_at__isnull=True).exists()


# --- every leg: the test client with real tokens, and the digest function ---------------------


@pytest.mark.django_db
def test_digest_after_withdrawal_tells_partners_nothing(borough, client_for, settings, mailoutbox):
    settings.NOTIFY_API_KEY = ""
    settings.SITE_URL = "https://teamaround.council.example"

    def post(user, path, body):
        return client_for(user).post(path, body, format="json")

    scenario = scenario_build(borough, post)
    later = timezone.now() + digest.DIGEST_AFTER + timedelta(minutes=1)

    sent = digest.digest_send(now=later)

    mails = [sent_from_email(m.to, m.subject, m.body) for m in mailoutbox]
    digest_check(borough, scenario, mails, "https://teamaround.council.example/")
    assert sent == len(mails) == 2
    assert digest.digest_send(now=later + timedelta(hours=2)) == 0
    assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_user_without_case_role_gets_no_digest(borough, settings, mailoutbox):
    """A partner made agency admin (a role that sees no family) is told nothing."""
    settings.NOTIFY_API_KEY = ""
    _set_email(borough.partner.user, SCHOOL)
    assert Alert.objects.filter(recipient=borough.partner.user, family=borough.family).exists()
    StaffMember.objects.filter(id=borough.partner.id).update(role=Role.AGENCY_ADMIN)

    assert digest.digest_send(now=timezone.now() + timedelta(hours=2)) == 0

    assert mailoutbox == []
    assert not Alert.objects.filter(
        recipient=borough.partner.user, digested_at__isnull=True
    ).exists()


# --- the real-services leg: uvicorn over HTTP, the digest in the real Celery worker ------------


def _mail_files_read(mail_dir: Path) -> list[Sent]:
    """The file e-mail backend's messages (one file per connection, messages separated by a
    line of dashes)."""
    mails = []
    for path in sorted(mail_dir.iterdir()):
        for chunk in path.read_text().split("-" * 79):
            if not chunk.strip():
                continue
            message = email.message_from_string(chunk.lstrip("\n"))
            body = message.get_payload(decode=True).decode(message.get_content_charset() or "utf-8")
            mails.append(sent_from_email([message["To"]], message["Subject"], body))
    return mails


@pytest.mark.services
@pytest.mark.skipif(
    not SERVICES,
    reason="needs the real-services leg: DATABASE_URL=postgres://… and REDIS_URL=redis://…",
)
@pytest.mark.django_db(transaction=True)
def test_digest_in_the_real_worker_after_withdrawal(stack, borough):
    def post(user, path, body):
        return Http(stack.port, user).post(path.removeprefix(API.rstrip("/")), body)

    scenario = scenario_build(borough, post)
    Alert.objects.update(created_at=timezone.now() - digest.DIGEST_AFTER - timedelta(minutes=1))
    for old in stack.mail_dir.iterdir():
        old.unlink()

    # As `.delay()` does, through the REDIS_URL broker; on the stack's own queue.
    alerts_digest_send.apply_async(queue=QUEUE)

    deadline = time.monotonic() + 30
    while Alert.objects.filter(digested_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"digest not run within 30 s\n{stack.worker.log_tail()}")
        stack.worker.check_alive()
        time.sleep(0.2)
    mails = _mail_files_read(stack.mail_dir)
    digest_check(borough, scenario, mails, f"{django_settings.SITE_URL}/")  # the worker's too
    assert "alerts.tasks.alerts_digest_send" in stack.worker.log_tail(100_000)
