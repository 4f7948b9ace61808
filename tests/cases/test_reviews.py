"""Team Around the Family reviews through the API, and the periodic sweep that reminds the key
worker a week before a review and once it is overdue (time moved forward by `now=`, on whichever
database the leg runs; the Celery task is the same function)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert
from cases import services, tasks
from cases.models import ChronologyEntry, Family, FamilyReview, ReviewReminder

API = "/api/v1/families/{}/reviews/"


def review_body(b, **changes) -> dict:
    today = timezone.localdate()
    data = {
        "held_on": str(today - timedelta(days=1)),
        "attendees": [b.early_help.id, b.school.id],
        "decisions": "Attendance plan continues; parenting course offered.",
        "plan_changes": "New action for school: daily check-in.",
        "next_review_on": str(today + timedelta(days=42)),
    }
    data.update(changes)
    return data


def test_a_review_sets_the_next_review_and_tells_the_team(borough, client_for):
    b = borough
    response = client_for(b.key_worker.user).post(
        API.format(b.family.id), review_body(b), format="json"
    )
    assert response.status_code == 201, response.content
    family = Family.objects.get(id=b.family.id)
    assert family.next_review_on == timezone.localdate() + timedelta(days=42)
    review = FamilyReview.objects.get(id=response.json()["id"])
    assert set(review.attendees.values_list("id", flat=True)) == {b.early_help.id, b.school.id}
    assert ChronologyEntry.objects.filter(type="review.recorded", object_id=review.id).exists()
    assert Alert.objects.filter(kind="review.recorded", recipient=b.partner.user).exists()
    listed = client_for(b.partner.user).get(API.format(b.family.id)).json()["results"]
    assert [r["id"] for r in listed] == [review.id]


BAD = {
    "next review before the meeting": (
        lambda b, t: {"next_review_on": str(t - timedelta(days=3))},
        "next_review_on",
    ),
    "meeting in the future": (lambda b, t: {"held_on": str(t + timedelta(days=5))}, "held_on"),
    "no attendees": (lambda b, t: {"attendees": []}, "attendees"),
    "unknown agency": (lambda b, t: {"attendees": [10**9]}, "attendees"),
    "no decisions": (lambda b, t: {"decisions": ""}, "decisions"),
    "next review in two years": (
        lambda b, t: {"next_review_on": str(t + timedelta(days=800))},
        "next_review_on",
    ),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_reviews(name, borough, client_for):
    changes, field = BAD[name]
    b = borough
    response = client_for(b.key_worker.user).post(
        API.format(b.family.id),
        review_body(b, **changes(b, timezone.localdate())),
        format="json",
    )
    assert response.status_code == 400 and field in response.json(), response.content
    assert not FamilyReview.objects.exists()


def test_no_review_of_a_closed_family(borough, client_for):
    b = borough
    services.family_close(
        family_id=b.family.id, by=b.key_worker, reason="moved_away", outcome_summary="Moved."
    )
    response = client_for(b.manager.user).post(
        API.format(b.family.id), review_body(b), format="json"
    )
    assert response.status_code == 409


def reminders(user) -> list[str]:
    return list(
        Alert.objects.filter(recipient=user, kind__in=["review.due", "review.overdue"])
        .order_by("id")
        .values_list("kind", flat=True)
    )


def test_the_sweep_reminds_a_week_before_and_when_overdue(borough):
    b = borough
    now = timezone.now()
    today = timezone.localdate(now)
    services.review_create(
        family_id=b.family.id,
        by=b.manager,
        held_on=today,
        attendees=[b.early_help],
        decisions="Plan agreed.",
        next_review_on=today + timedelta(days=20),
    )
    kw = b.key_worker.user
    assert tasks.review_sweep.run() == {"overdue": 0, "due": 0}  # the task: today, nothing due
    assert services.review_sweep(now=now + timedelta(days=12)) == {"overdue": 0, "due": 0}
    # a week before: reminded once, however often the sweep runs
    assert services.review_sweep(now=now + timedelta(days=13)) == {"overdue": 0, "due": 1}
    assert services.review_sweep(now=now + timedelta(days=15)) == {"overdue": 0, "due": 0}
    assert reminders(kw) == ["review.due"]
    # the day itself is not overdue; the day after is, once
    assert services.review_sweep(now=now + timedelta(days=20))["overdue"] == 0
    assert services.review_sweep(now=now + timedelta(days=21))["overdue"] == 1
    assert services.review_sweep(now=now + timedelta(days=30))["overdue"] == 0
    assert reminders(kw) == ["review.due", "review.overdue"]
    alert = Alert.objects.filter(recipient=kw, kind="review.overdue").get()
    assert alert.family_id == b.family.id and alert.summary.startswith(b.family.reference)
    # nobody else is reminded
    assert not Alert.objects.filter(kind__startswith="review.", recipient=b.partner.user).exclude(
        kind="review.recorded"
    )
    # a new review date has reminders of its own
    services.review_create(
        family_id=b.family.id,
        by=b.manager,
        held_on=today,
        attendees=[b.early_help],
        decisions="Reviewed late.",
        next_review_on=today + timedelta(days=40),
    )
    assert services.review_sweep(now=now + timedelta(days=34)) == {"overdue": 0, "due": 1}
    assert ReviewReminder.objects.count() == 3


def test_closed_families_and_families_without_a_key_worker_are_not_reminded(borough):
    b = borough
    now = timezone.now()
    today = timezone.localdate(now)
    services.review_create(
        family_id=b.family.id,
        by=b.manager,
        held_on=today,
        attendees=[b.early_help],
        decisions="Plan agreed.",
        next_review_on=today + timedelta(days=10),
    )
    services.family_close(
        family_id=b.family.id, by=b.key_worker, reason="outcomes_met", outcome_summary="Done."
    )
    assert services.review_sweep(now=now + timedelta(days=30)) == {"overdue": 0, "due": 0}


def test_overdue_reviews_on_the_manager_page(borough, client):
    """The manager's page lists the family once its review date has passed."""
    b = borough
    today = timezone.localdate()
    services.review_create(
        family_id=b.family.id,
        by=b.key_worker,
        held_on=today - timedelta(days=60),
        attendees=[b.early_help],
        decisions="Plan agreed.",
        next_review_on=today - timedelta(days=2),
    )
    client.force_login(b.manager.user)
    page = client.get("/manager/").content.decode()
    overdue = page.split('id="overdue-reviews"', 1)[1].split("</ul>", 1)[0]
    assert b.family.reference in overdue
