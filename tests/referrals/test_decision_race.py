"""Two people at the front door decide the same referral at the same instant: one 200, one 409,
one family opened, one alert to the referrer. PostgreSQL only (real concurrent transactions,
each thread its own connection, through the real HTTP endpoint with token auth): the referral's
row lock decides."""

from __future__ import annotations

import os
import threading

import pytest
from django.db import connection

from agencies.models import AgencyKind
from agencies.roles import Role
from alerts.models import Alert
from cases.models import Family
from referrals import services
from referrals.models import Referral
from tests import factories as f


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (real concurrent transactions)",
)
@pytest.mark.django_db(transaction=True)
def test_racing_decisions_give_one_decision_and_a_409(client_for):
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help")
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Hill Primary")
    kw = f.staff_make(agency=early_help, role=Role.KEY_WORKER)
    deciders = [f.staff_make(agency=early_help, role=Role.MANAGER) for _ in range(2)]
    teacher = f.staff_make(agency=school)
    referral = services.referral_create(
        by=teacher,
        household={"name": "Smith household", "postcode": "SW1A 1AA"},
        people=[{"given_name": "Amy", "family_name": "Smith", "relationship": "child"}],
        concerns=[{"outcome": "education", "descriptor": "Attendance at 80%"}],
        consent=None,
        no_consent_reason="Parent not reachable.",
        urgency="urgent",
    )
    clients = [client_for(d.user) for d in deciders]
    start = threading.Barrier(2)
    answers, errors, lock = [], [], threading.Lock()

    def decide(client) -> None:
        try:
            start.wait(timeout=30)
            response = client.post(
                f"/api/v1/referrals/{referral.id}/decision/",
                {"decision": "accept", "reason": "Early help.", "key_worker": kw.user_id},
                format="json",
            )
            with lock:
                answers.append(response.status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(answers) == [200, 409]
    assert Referral.objects.get(id=referral.id).status == "accepted"
    assert Family.objects.count() == 1
    assert Alert.objects.filter(kind="referral.decided", recipient=teacher.user).count() == 1
