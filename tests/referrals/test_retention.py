"""Retention of referrals never joined to a family: signposted, stepped up or closed with no
further action, decided longer than RETENTION_REFERRAL_YEARS (6) ago, they lose their personal
details (referrals/services.py, decision 0026); a referral joined to a family goes with the
family's own rule (tests/cases/test_retention.py), and one still waiting for its decision is
never touched. Time moves by the date the run is given; the referral's decision is dated back.
What the referrer reads comes through the API with a real token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone

from agencies.models import AgencyKind
from agencies.roles import Role
from alerts.models import Alert
from referrals import services, tasks
from referrals.models import Referral, ReferralPerson
from tests import factories as f

pytestmark = pytest.mark.django_db

SURNAME, CHILD, NOTE, POSTCODE = "Abernethy", "Thaddeus", "Quillon", "SE15 4AB"
PERSONAL = [SURNAME, CHILD, NOTE, POSTCODE, "Larch Road", "9434765919"]
YEARS = 6


@pytest.fixture
def world(client_for):
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help")
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Hill Primary")
    door = f.staff_make(agency=early_help, role=Role.MANAGER)
    key_worker = f.staff_make(agency=early_help, role=Role.KEY_WORKER)
    teacher = f.staff_make(agency=school)

    def referral(decision: str | None, *, decided_days_ago: int = 0) -> Referral:
        made = services.referral_create(
            by=teacher,
            household={
                "name": f"{SURNAME} household",
                "postcode": POSTCODE,
                "address": "12 Larch Road",
            },
            people=[
                {
                    "given_name": CHILD,
                    "family_name": SURNAME,
                    "date_of_birth": "2015-04-03",
                    "relationship": "child",
                    "nhs_number": "9434765919",
                }
            ],
            concerns=[{"outcome": "education", "descriptor": f"{CHILD} absent ({NOTE})"}],
            consent=None,
            no_consent_reason=f"{SURNAME} parents not reachable ({NOTE})",
            urgency="routine",
        )
        if decision is not None:
            extra = {"key_worker_id": key_worker.user_id} if decision == "accept" else {}
            services.referral_decide(
                referral_id=made.id,
                by=door,
                decision=decision,
                reason=f"{NOTE}: {SURNAME} family told of the parenting group",
                **extra,
            )
            Referral.objects.filter(id=made.id).update(
                decided_at=timezone.now() - timedelta(days=decided_days_ago)
            )
        return Referral.objects.get(id=made.id)

    f.outcome("education")
    return {"referral": referral, "school_api": client_for(teacher.user), "teacher": teacher}


def _texts_of(referral: Referral) -> str:
    """Every text of the referral, its people, concerns and the alerts about it, as one string."""
    texts = []
    for model in apps.get_models():
        if model is Referral:
            rows = model.objects.filter(id=referral.id)
        elif model._meta.app_label == "referrals":
            rows = model.objects.filter(referral_id=referral.id)
        elif model is Alert:
            rows = model.objects.filter(source_type="referral", source_id=referral.id)
        else:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField | models.JSONField):
                texts += [str(v) for v in rows.values_list(field.attname, flat=True)]
    return " ".join(texts)


def _holds_personal(referral: Referral) -> list[str]:
    text = _texts_of(referral).lower()
    return [word for word in PERSONAL if word.lower() in text]


def test_only_an_unjoined_referral_decided_longer_ago_than_the_period_is_done(world):
    years_ago = (
        timezone.localdate() - services.referral_retention_cutoff(timezone.localdate())
    ).days
    due = {
        kind: world["referral"](kind, decided_days_ago=years_ago + 1)
        for kind in ("signpost", "step_up", "no_further_action")
    }
    recent = world["referral"]("signpost", decided_days_ago=years_ago - 1)
    waiting = world["referral"](None)
    Referral.objects.filter(id=waiting.id).update(
        submitted_at=timezone.now() - timedelta(days=years_ago + 400)
    )
    joined = world["referral"]("accept", decided_days_ago=years_ago + 1)
    assert joined.family_id is not None
    for referral in [*due.values(), recent, waiting, joined]:
        assert _holds_personal(referral) == PERSONAL  # the check sees the data where it is

    assert tasks.referrals_unjoined_pseudonymise_due() == 3  # the beat's task, on today

    for kind, referral in due.items():
        assert _holds_personal(referral) == [], kind
        now = Referral.objects.get(id=referral.id)
        # Kept: who referred, when, how urgent, the outcomes, the decision and its dates.
        assert (now.status, now.agency_id, now.referred_by_id, now.urgency) == (
            referral.status,
            referral.agency_id,
            referral.referred_by_id,
            referral.urgency,
        )
        assert (now.decided_at, now.decided_by_id, now.submitted_at) == (
            referral.decided_at,
            referral.decided_by_id,
            referral.submitted_at,
        )
        assert now.pseudonymised_at is not None
        assert [c.outcome.code for c in now.concerns.all()] == ["education"]
        person = ReferralPerson.objects.get(referral=now)
        assert (person.date_of_birth, person.relationship) == (None, "child")
    for referral in (recent, waiting, joined):
        assert _holds_personal(referral) == PERSONAL
        assert Referral.objects.get(id=referral.id).pseudonymised_at is None

    # A second run changes nothing.
    before = [_texts_of(r) for r in due.values()]
    assert services.referrals_unjoined_pseudonymise_due() == 0
    assert [_texts_of(r) for r in due.values()] == before
    # The re-check under the row lock: a referral no longer (or never) due is left as it is.
    for referral in (*due.values(), recent, waiting, joined):
        assert not services.referral_unjoined_pseudonymise(referral_id=referral.id)
    for referral in (recent, waiting, joined):
        assert _holds_personal(referral) == PERSONAL


def test_the_referrer_reads_the_decision_without_the_details(world):
    years_ago = (
        timezone.localdate() - services.referral_retention_cutoff(timezone.localdate())
    ).days
    referral = world["referral"]("signpost", decided_days_ago=years_ago + 1)
    api = world["school_api"]
    assert services.referrals_unjoined_pseudonymise_due() == 1
    seen = api.get(f"/api/v1/referrals/{referral.id}/")
    assert seen.status_code == 200
    body = str(seen.json())
    assert seen.json()["status"] == "signposted"
    assert [word for word in PERSONAL if word.lower() in body.lower()] == []
    listed = str(api.get("/api/v1/referrals/").json())
    assert [word for word in PERSONAL if word.lower() in listed.lower()] == []
    alerts = str(api.get("/api/v1/alerts/").json())
    assert [word for word in PERSONAL if word.lower() in alerts.lower()] == []


def test_the_period_is_a_setting(world, settings):
    referral = world["referral"]("no_further_action", decided_days_ago=400)
    assert services.referrals_unjoined_pseudonymise_due() == 0
    settings.RETENTION_REFERRAL_YEARS = 1
    assert services.referrals_unjoined_pseudonymise_due() == 1
    assert _holds_personal(referral) == []


def test_the_task_is_on_beat(settings):
    tasks_on_beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "referrals.tasks.referrals_unjoined_pseudonymise_due" in tasks_on_beat
