"""The unread-alerts digest (every leg): GOV.UK Notify against a fake server on loopback, and
Django's e-mail backend. Either way it carries no case content: a count, family references and
a sign-in link.

The Notify path runs the real `notifications-python-client` against a local HTTP server that
checks what GOV.UK Notify would check (the JWT signed with the key's secret, issued by the key's
service id) and records each `POST /v2/notifications/email`.
"""

import json
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from notifications_python_client.errors import HTTPError

from alerts.models import Alert
from alerts.tasks import alerts_digest_send
from cases import services as case_services
from tests.alerts.test_digest_access import (
    digest_check,
    scenario_build,
    sent_from_email,
    sent_from_notify,
)

pytestmark = pytest.mark.django_db

SERVICE_ID = str(uuid.uuid4())
SECRET = str(uuid.uuid4())
API_KEY = f"teamaround_test-{SERVICE_ID}-{SECRET}"
TEMPLATE_ID = str(uuid.uuid4())


class FakeNotify:
    """GOV.UK Notify's email endpoint on 127.0.0.1: records requests, answers like Notify."""

    def __init__(self):
        self.requests: list[dict] = []
        self.fail_next = 0  # answer this many requests with 500 first
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": body}
                )
                if self.path != "/v2/notifications/email":
                    return self._answer(404, {"errors": [{"error": "NotFound"}]})
                auth = self.headers.get("Authorization", "")
                try:
                    claims = jwt.decode(auth.removeprefix("Bearer "), SECRET, algorithms=["HS256"])
                except jwt.PyJWTError:
                    return self._answer(403, {"errors": [{"error": "AuthError"}]})
                if claims.get("iss") != SERVICE_ID:
                    return self._answer(403, {"errors": [{"error": "AuthError"}]})
                if fake.fail_next:
                    fake.fail_next -= 1
                    return self._answer(500, {"errors": [{"error": "Exception"}]})
                notification_id = str(uuid.uuid4())
                base = f"http://{self.headers['Host']}"
                return self._answer(
                    201,
                    {
                        "id": notification_id,
                        "reference": body.get("reference"),
                        "content": {
                            "subject": "Team Around: unread alerts",
                            "body": body.get("personalisation", {}).get("body", ""),
                            "from_email": "team.around@notifications.service.gov.uk",
                            "one_click_unsubscribe_url": None,
                        },
                        "uri": f"{base}/v2/notifications/{notification_id}",
                        "template": {
                            "id": body.get("template_id"),
                            "version": 1,
                            "uri": f"{base}/services/{SERVICE_ID}/templates/"
                            f"{body.get('template_id')}",
                        },
                        "scheduled_for": None,
                    },
                )

            def _answer(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def emails(self) -> list[dict]:
        return [r["json"] for r in self.requests if r["path"] == "/v2/notifications/email"]


@pytest.fixture
def fake_notify():
    fake = FakeNotify()
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        fake.thread.join(timeout=5)


@pytest.fixture
def notify_settings(settings, fake_notify):
    settings.NOTIFY_API_KEY = API_KEY
    settings.NOTIFY_BASE_URL = fake_notify.url
    settings.NOTIFY_DIGEST_TEMPLATE_ID = TEMPLATE_ID
    return settings


def _set_email(user, email: str):
    get_user_model().objects.filter(id=user.id).update(email=email)


def _intervention(by, family, title: str):
    return case_services.intervention_create(
        family=family,
        by=by,
        kind="parenting",
        title=title,
        started_on=timezone.localdate(),
    )


def _age_all(hours: float = 2):
    Alert.objects.update(created_at=timezone.now() - timedelta(hours=hours))


def _digest() -> int:
    """The Celery task, run here in process on every leg."""
    return alerts_digest_send.apply().get()


def _link(settings) -> str:
    return f"{settings.SITE_URL}/"


def _no_summaries(text: str) -> None:
    for summary in Alert.objects.values_list("summary", flat=True):
        assert summary not in text, (summary, text)


def test_notify_digest_sends_each_user_once(borough, notify_settings, fake_notify, mailoutbox):
    _set_email(borough.key_worker.user, "key.worker@council.example")
    _set_email(borough.partner.user, "partner@school.example")
    _intervention(borough.partner, borough.family, "Attendance plan agreed")
    _intervention(borough.partner, borough.family, "Home visit")
    _age_all()
    fresh = _intervention(borough.partner, borough.family, "Too new to digest")
    read = Alert.objects.filter(recipient=borough.key_worker.user).order_by("id").first()
    Alert.objects.filter(id=read.id).update(read_at=timezone.now())

    assert _digest() == 2

    assert mailoutbox == []  # Notify, not Django e-mail
    by_address = {e["email_address"]: e for e in fake_notify.emails}
    assert set(by_address) == {"key.worker@council.example", "partner@school.example"}
    kw_email = by_address["key.worker@council.example"]
    assert kw_email["template_id"] == TEMPLATE_ID
    reference = borough.family.reference
    # One aged, unread alert (the other was read, the third is too new); nothing of its text.
    assert kw_email["personalisation"] == {
        "count": "1",
        "references": reference,
        "link": _link(notify_settings),
    }
    partner = sent_from_notify(by_address["partner@school.example"])
    assert (partner.count, reference in partner.text) == (1, True)
    for sent in map(sent_from_notify, fake_notify.emails):
        _no_summaries(sent.text)
    headers = fake_notify.requests[0]["headers"]
    assert headers["Authorization"].startswith("Bearer ")
    assert headers["User-agent"].startswith("NOTIFY-API-PYTHON-CLIENT/")

    aged = Alert.objects.filter(read_at__isnull=True).exclude(
        source_type="intervention", source_id=fresh.id
    )
    assert aged.exists() and not aged.filter(digested_at__isnull=True).exists()
    assert Alert.objects.get(id=read.id).digested_at is None
    assert Alert.objects.get(source_type="intervention", source_id=fresh.id).digested_at is None

    # Digested once: the second run finds nothing new to send.
    assert _digest() == 0
    assert len(fake_notify.emails) == 2

    # The fresh alert comes due an hour later and goes out alone.
    _age_all()
    assert _digest() == 1
    assert fake_notify.emails[-1]["email_address"] == "key.worker@council.example"
    last = sent_from_notify(fake_notify.emails[-1])
    assert last.count == 1 and reference in last.text
    _no_summaries(last.text)


def test_notify_failure_keeps_alerts_for_the_next_run(borough, notify_settings, fake_notify):
    _set_email(borough.key_worker.user, "key.worker@council.example")
    Alert.objects.all().delete()
    _intervention(borough.partner, borough.family, "Attendance plan agreed")
    _age_all()
    fake_notify.fail_next = 1

    with pytest.raises(HTTPError):  # the run fails as a whole; the next run retries it
        _digest()
    assert Alert.objects.filter(digested_at__isnull=True).count() == 1

    assert _digest() == 1
    assert [e["email_address"] for e in fake_notify.emails] == ["key.worker@council.example"] * 2
    assert not Alert.objects.filter(digested_at__isnull=True).exists()


def test_users_without_email_or_inactive_get_no_digest(borough, notify_settings, fake_notify):
    _set_email(borough.partner.user, "partner@school.example")
    get_user_model().objects.filter(id=borough.partner.user.id).update(is_active=False)
    _intervention(borough.partner, borough.family, "Attendance plan agreed")  # alerts key worker
    _age_all()
    assert _digest() == 0  # key worker has no address; partner is deactivated
    assert fake_notify.emails == []


def test_notify_digest_after_withdrawal(borough, client_for, notify_settings, fake_notify):
    """Consent withdrawn over HTTP: the partners hear nothing of the family through Notify."""

    def post(user, path, body):
        return client_for(user).post(path, body, format="json")

    scenario = scenario_build(borough, post)
    _age_all()

    assert _digest() == 2

    sent = [sent_from_notify(e) for e in fake_notify.emails]
    digest_check(borough, scenario, sent, _link(notify_settings))


def test_django_email_digest(borough, settings, mailoutbox):
    settings.NOTIFY_API_KEY = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _set_email(borough.key_worker.user, "key.worker@council.example")
    _intervention(borough.partner, borough.family, "Attendance plan agreed")
    _intervention(borough.partner, borough.family, "Home visit")
    _age_all()

    assert _digest() == 1  # the partner (team.joined alert) has no e-mail address

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["key.worker@council.example"]
    assert message.subject == "Team Around: unread alerts"
    sent = sent_from_email(message.to, message.subject, message.body)
    assert sent.count == 2
    assert borough.family.reference in message.body and _link(settings) in message.body
    assert "Attendance plan agreed" not in message.body and "Home visit" not in message.body
    _no_summaries(message.body)
    assert not Alert.objects.filter(
        recipient=borough.key_worker.user, digested_at__isnull=True
    ).exists()

    assert _digest() == 0
    assert len(mailoutbox) == 1
