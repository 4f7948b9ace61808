"""The referrer hears of every kind of decision live, on its alert socket (the real consumer in
process, the leg's channel layer), with the decision only: signposting, step-up, no further
action, and accepting as a new family or by reopening a closed one (the accept paths make several
after-commit pushes in one request)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from agencies.models import AgencyKind
from agencies.roles import Role
from cases import services as case_services
from referrals import services
from referrals.models import DECISION_STATUS, ReferralStatus
from tests import factories as f
from tests.alerts.test_alerts_inprocess import _connect, ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "decision", ["signpost", "step_up", "no_further_action", "accept", "reopen"]
)
def test_the_referrer_hears_the_decision_live(client_for, decision):
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help")
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Hill Primary")
    door = client_for(f.staff_make(agency=early_help, role=Role.MANAGER).user)
    key_worker = f.staff_make(agency=early_help, role=Role.KEY_WORKER)
    known = f.family_make(by=key_worker, name="Smith household", postcode="SW1A 1AA")
    case_services.family_close(
        family_id=known.id, by=key_worker, reason="outcomes_met", outcome_summary="Plan met."
    )
    teacher = f.staff_make(agency=school)
    referral = services.referral_create(
        by=teacher,
        household={"name": "Smith household", "postcode": "SW1A 1AA"},
        people=[{"given_name": "Amy", "family_name": "Smith", "relationship": "child"}],
        concerns=[{"outcome": "education", "descriptor": "Attendance at 80%"}],
        consent=None,
        no_consent_reason="Parent not reachable.",
        urgency="routine",
    )
    school_api = client_for(teacher.user)

    async def scenario():
        sock, connected, _ = await _connect(
            f"/ws/alerts/?ticket={await database_sync_to_async(ticket)(school_api)}"
        )
        assert connected
        decided = await database_sync_to_async(door.post)(
            f"/api/v1/referrals/{referral.id}/decision/",
            {
                "signpost": {"decision": "signpost"},
                "step_up": {"decision": "step_up"},
                "no_further_action": {"decision": "no_further_action"},
                "accept": {"decision": "accept", "key_worker": key_worker.user_id},
                "reopen": {
                    "decision": "accept",
                    "key_worker": key_worker.user_id,
                    "family": known.id,
                },
            }[decision]
            | {"reason": "Parenting group offered."},
            format="json",
        )
        assert decided.status_code == 200
        frame = await sock.receive_json_from(timeout=10)
        await sock.disconnect()
        return frame

    frame = async_to_sync(scenario)()
    assert frame["alert"]["kind"] == "referral.decided" and frame["alert"]["family"] is None
    status = {"reopen": ReferralStatus.ACCEPTED}.get(decision) or DECISION_STATUS[decision]
    assert status.label.lower() in frame["alert"]["summary"]
