"""One lock order for a family and its children: every write row-locks the family before any
sharing basis or emergency grant of it, so two writes on the same family queue on the family row
instead of deadlocking.

PostgreSQL only (SQLite takes no row locks: `select_for_update` emits nothing there).

1. The SQL each locking write sends (through the HTTP API where it has an endpoint, else the
   sweep): its first `FOR UPDATE` locks the family row alone, and each later `FOR UPDATE` on a
   consent table comes straight after a family lock.
2. A withdrawal racing the expiry sweep in two real threads, each on its own connection, round
   after round: no deadlock, exactly one of them ends the access, and the record agrees.
3. The race harness tells the orders apart: with `_locked_family_then` patched, for the test run
   only, to lock the child row before the family, the same race deadlocks every round.
"""

from __future__ import annotations

import os
import re
import threading
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from agencies.models import AgencyKind
from agencies.roles import Role
from alerts.models import Alert
from cases.grants import FamilyGroupObjectPermission
from cases.models import Family
from consent import services
from consent.models import AccessPeriod, EmergencyAccess, SharingBasis
from tests import factories as f

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (row locks)",
)

API = "/api/v1/"
FAMILY = Family._meta.db_table
BASIS = SharingBasis._meta.db_table
GRANT = EmergencyAccess._meta.db_table
CONSENT_TABLES = {BASIS, GRANT}
REASON = "Police call-out at 02:00; need to know who is involved."

_LOCK = re.compile(r"\bFOR (?:NO KEY )?UPDATE(?: OF (?P<of>[^;]+?))?(?: NOWAIT| SKIP LOCKED)?\s*$")
_TABLE = re.compile(r'\b(?:FROM|JOIN)\s+"(\w+)"')


def _row_locks(queries) -> list[set[str]]:
    """The tables each `FOR UPDATE` statement locks rows of, in the order sent."""
    locks = []
    for query in queries:
        sql = (query["sql"] or "").strip()
        match = _LOCK.search(sql)
        if match is None:
            continue
        if match["of"]:
            locks.append(set(re.findall(r'"(\w+)"', match["of"])))
        else:
            locks.append(set(_TABLE.findall(sql[: match.start()])))
    return locks


def _lock_order_problems(locks: list[set[str]], child: str | None) -> list[str]:
    problems = []
    if not locks:
        return ["no FOR UPDATE statement at all"]
    if locks[0] != {FAMILY}:
        problems.append(f"the first row lock is on {sorted(locks[0])}, not the family alone")
    for n, tables in enumerate(locks):
        if tables & CONSENT_TABLES and (n == 0 or locks[n - 1] != {FAMILY}):
            problems.append(f"row lock {n} on {sorted(tables)} does not follow a family lock")
    if child is not None and not any(child in tables for tables in locks):
        problems.append(f"no row lock on {child}")
    return problems


def _detail(family) -> str:
    return f"{API}families/{family.id}/"


# --- 1. the SQL of each locking write -------------------------------------------------------------


def _emergency_grant_id(borough, client_for) -> int:
    response = client_for(borough.outsider.user).post(
        _detail(borough.family) + "emergency-access/", {"reason": REASON}, format="json"
    )
    assert response.status_code == 201, response.content[:300]
    return response.json()["id"]


def _without_consent(borough, client_for, *, by) -> int:
    response = client_for(by.user).post(
        _detail(borough.family) + "sharing/",
        {
            "basis": "safeguarding",
            "agencies": [borough.school.id],
            "justification": "Risk of significant harm.",
            "decided_by": borough.manager.user.id,
        },
        format="json",
    )
    assert response.status_code == 201, response.content[:300]
    return response.json()["id"]


def _http(client, url: str, body=None):
    def act():
        response = client.post(url, body or {}, format="json")
        assert response.status_code in (200, 201, 202), response.content[:300]

    return act


def _sweep(expected: str, **kwargs):
    def act():
        assert services.sharing_sweep(**kwargs)[expected] == 1

    return act


def _withdraw(borough, client_for):
    basis = SharingBasis.objects.get(family=borough.family)
    url = _detail(borough.family) + f"sharing/{basis.id}/withdraw/"
    return _http(client_for(borough.key_worker.user), url, {"reason": "Withdrawn."}), BASIS


def _basis_expiry(borough, client_for):
    SharingBasis.objects.filter(family=borough.family).update(
        expires_on=timezone.localdate() - timedelta(days=1)
    )
    return _sweep("bases_expired"), BASIS


def _basis_lapse(borough, client_for):
    basis_id = _without_consent(borough, client_for, by=borough.manager)
    SharingBasis.objects.filter(id=basis_id).update(
        review_on=timezone.localdate() - timedelta(days=1)
    )
    return _sweep("bases_lapsed"), BASIS


def _emergency_expiry(borough, client_for):
    _emergency_grant_id(borough, client_for)
    return _sweep("emergency_expired", now=timezone.now() + timedelta(hours=4, minutes=1)), GRANT


def _emergency_review(borough, client_for):
    grant_id = _emergency_grant_id(borough, client_for)
    url = f"{API}emergency-access/{grant_id}/review/"
    return _http(client_for(borough.manager.user), url, {"decision": "not_justified"}), GRANT


def _emergency_approve(borough, client_for):
    grant_id = _emergency_grant_id(borough, client_for)
    manager = client_for(borough.manager.user)
    _http(manager, f"{API}emergency-access/{grant_id}/review/", {"decision": "not_justified"})()
    waiting = client_for(borough.outsider.user).post(
        _detail(borough.family) + "emergency-access/", {"reason": REASON}, format="json"
    )
    assert waiting.status_code == 202, waiting.content[:300]
    url = f"{API}emergency-access/{waiting.json()['id']}/approve/"
    return _http(manager, url, {"approve": True}), GRANT


def _sharing_confirm(borough, client_for):
    basis_id = _without_consent(borough, client_for, by=borough.key_worker)
    url = _detail(borough.family) + f"sharing/{basis_id}/confirm/"
    return _http(client_for(borough.manager.user), url), BASIS


def _sharing_review(borough, client_for):
    basis_id = _without_consent(borough, client_for, by=borough.manager)
    url = _detail(borough.family) + f"sharing/{basis_id}/review/"
    review_on = (timezone.localdate() + timedelta(days=30)).isoformat()
    return _http(client_for(borough.manager.user), url, {"review_on": review_on}), BASIS


def _review_warning(borough, client_for):
    _without_consent(borough, client_for, by=borough.manager)  # review due in 90 days
    return _sweep("review_warnings", now=timezone.now() + timedelta(days=80)), BASIS


def _expiry_warning(borough, client_for):
    SharingBasis.objects.filter(family=borough.family).update(
        expires_on=timezone.localdate() + timedelta(days=10)
    )
    return _sweep("expiry_warnings"), BASIS


def _emergency_request(borough, client_for):
    url = _detail(borough.family) + "emergency-access/"
    return _http(client_for(borough.outsider.user), url, {"reason": REASON}), None


def _sharing_record(borough, client_for):
    url = _detail(borough.family) + "sharing/"
    body = {
        "basis": "safeguarding",
        "agencies": [borough.school.id],
        "justification": "Risk of significant harm.",
        "decided_by": borough.manager.user.id,
    }
    return _http(client_for(borough.key_worker.user), url, body), None


WRITES = {
    "sharing_basis_withdraw": _withdraw,
    "sweep: basis expiry": _basis_expiry,
    "sweep: basis lapse": _basis_lapse,
    "sweep: emergency expiry": _emergency_expiry,
    "emergency_access_review": _emergency_review,
    "emergency_access_approve": _emergency_approve,
    "sharing_basis_confirm": _sharing_confirm,
    "sharing_basis_review": _sharing_review,
    "sweep: review warning": _review_warning,
    "sweep: expiry warning": _expiry_warning,
    "emergency_access_grant": _emergency_request,
    "sharing_basis_create": _sharing_record,
}


@pytest.mark.parametrize("write", list(WRITES))
def test_each_write_locks_the_family_before_its_children(borough, client_for, write):
    act, child = WRITES[write](borough, client_for)

    with CaptureQueriesContext(connection) as captured:
        act()

    locks = _row_locks(captured.captured_queries)
    assert _lock_order_problems(locks, child) == [], locks


def _another_waits_for_a_lock(timeout: float = 10.0, *, count: int = 1) -> bool:
    """Wait until another connection to this database (`count` others) is waiting on a lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else fixed for the transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return True
            time.sleep(0.01)
    return False


class _Between:
    """Between a two-step lock's locks: tell the withdrawal to go, then hold on until it waits
    on a lock."""

    def __init__(self):
        self.locked, self.waited = threading.Event(), []

    def __call__(self) -> None:
        self.locked.set()
        self.waited.append(_another_waits_for_a_lock())


def _child_first(model, row_id: int, between=None):
    """`services._locked_family_then` with the locks the other way round: the child row first."""
    row = model.objects.select_for_update().get(id=row_id)
    if between is not None:
        between()
    return Family.objects.select_for_update().get(id=row.family_id), row


def _family_first(model, row_id: int, between=None):
    """`services._locked_family_then` as written, with `between` between its two locks."""
    family_id = model.objects.values_list("family_id", flat=True).get(id=row_id)
    family = Family.objects.select_for_update().get(id=family_id)
    if between is not None:
        between()
    return family, model.objects.select_for_update().get(id=row_id)


def test_the_sql_check_catches_a_child_locked_before_its_family(borough, client_for, monkeypatch):
    act, child = _basis_expiry(borough, client_for)
    monkeypatch.setattr(services, "_locked_family_then", _child_first)

    with CaptureQueriesContext(connection) as captured:
        act()

    problems = _lock_order_problems(_row_locks(captured.captured_queries), child)
    assert problems and "not the family alone" in problems[0], problems


# --- 2. a withdrawal racing the expiry sweep ------------------------------------------------------

ROUNDS = 20
# The HTTP withdrawal needs a few milliseconds (token, access check) before it takes the
# family's lock, the sweep almost none: the sweep starts later each round, so that some rounds
# it goes first, some the withdrawal, and some rounds each waits on the other's lock.
STAGGER_S = 0.001
DEMO_ROUNDS = 3


def _is_deadlock(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) and "deadlock" in str(exc).lower()


def _race(
    *,
    withdraw_url: str,
    token: str,
    sweep_delay: float = 0.0,
    locked: threading.Event | None = None,
):
    """The withdrawal (HTTP) and the sweep, released together from a barrier, each on its own
    connection, the sweep `sweep_delay` s later. With `locked`, the withdrawal goes in once the
    sweep holds its first lock. → (withdrawal status, sweep counts, errors)."""
    start = threading.Barrier(2)
    out: dict = {}
    errors: list[BaseException] = []

    def withdraw() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            start.wait(timeout=30)
            if locked is not None:
                assert locked.wait(timeout=30)
            response = client.post(withdraw_url, {"reason": "Consent withdrawn."}, format="json")
            out["withdraw"] = response.status_code
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)
        finally:
            connection.close()

    def sweep() -> None:
        try:
            start.wait(timeout=30)
            time.sleep(sweep_delay)
            out["sweep"] = services.sharing_sweep()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=withdraw), threading.Thread(target=sweep)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return out.get("withdraw"), out.get("sweep"), errors


def _family_on_consent(borough, *agencies_and_practitioners):
    """A new family of the borough's key worker, with each (agency, practitioner) on the team
    under its own consent. → (family, [basis per agency])."""
    kw = borough.key_worker
    family = f.family_make(by=kw)
    bases = []
    for agency, practitioner in agencies_and_practitioners:
        f.involvement_make(family=family, by=kw, agency=agency, practitioner=practitioner.user)
        bases.append(f.consent_make(family=family, by=kw, agencies=[agency]))
    return family, bases


def _expire(basis) -> None:
    SharingBasis.objects.filter(id=basis.id).update(
        expires_on=timezone.localdate() - timedelta(days=1)
    )


def _lost(practitioner, family) -> list[str]:
    return list(
        Alert.objects.filter(recipient=practitioner.user, family=family, kind="access.lost")
        .order_by("id")
        .values_list("summary", flat=True)
    )


def _sees(agency, family) -> bool:
    return FamilyGroupObjectPermission.objects.filter(
        content_object=family, group_id=agency.group_id
    ).exists()


def _open_periods(agency, family) -> int:
    return AccessPeriod.objects.filter(family=family, agency=agency, ended_at__isnull=True).count()


WITHDRAWN = "sharing was withdrawn."
EXPIRED = "the sharing basis expired."


@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_racing_the_expiry_of_the_same_basis(borough):
    token = f.token_for(borough.key_worker.user)
    partner = APIClient()
    partner.credentials(HTTP_AUTHORIZATION=f"Token {f.token_for(borough.partner.user)}")
    winners = []
    for n in range(ROUNDS):
        family, (basis,) = _family_on_consent(borough, (borough.school, borough.partner))
        _expire(basis)  # past its expiry, not yet swept: the school still sees the family
        assert _sees(borough.school, family)
        url = _detail(family) + f"sharing/{basis.id}/withdraw/"

        withdrawn, counts, errors = _race(
            withdraw_url=url, token=token, sweep_delay=(n % 10) * STAGGER_S
        )

        assert not errors, (n, errors, [_is_deadlock(e) for e in errors])
        assert withdrawn == 200, n
        basis.refresh_from_db()
        assert basis.withdrawn_at is not None
        # Exactly one of them ended the access, and the record says which.
        lost = _lost(borough.partner, family)
        assert len(lost) == 1, (n, lost)
        if counts["bases_expired"] == 1:
            assert basis.expiry_swept_at is not None and basis.expiry_swept_at < basis.withdrawn_at
            assert lost[0].endswith(EXPIRED), (n, lost)
            winners.append("sweep")
        else:
            assert counts["bases_expired"] == 0 and basis.expiry_swept_at is None, (n, counts)
            assert lost[0].endswith(WITHDRAWN), (n, lost)
            winners.append("withdrawal")
        assert not _sees(borough.school, family)
        assert _open_periods(borough.school, family) == 0
        assert AccessPeriod.objects.filter(family=family, agency=borough.school).count() == 1
        assert partner.get(_detail(family)).status_code == 404
    print(
        f"ended the access first: {winners.count('sweep')} sweep, "
        f"{winners.count('withdrawal')} withdrawal"
    )


@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_racing_the_expiry_of_another_basis_of_the_family(borough):
    """Basis A (the school's) is withdrawn while the sweep expires basis B (health's, past its
    expiry date): the school loses sight through the withdrawal; health exactly once, by
    whichever of the two took the family's lock first (the withdrawal recomputes every grant)."""
    health = f.agency_make(kind=AgencyKind.HEALTH, name="Health Visiting")
    health_visitor = f.staff_make(agency=health, role=Role.PRACTITIONER)
    token = f.token_for(borough.key_worker.user)
    winners = []
    for n in range(ROUNDS):
        family, (school_basis, health_basis) = _family_on_consent(
            borough, (borough.school, borough.partner), (health, health_visitor)
        )
        _expire(health_basis)
        assert _sees(borough.school, family) and _sees(health, family)
        url = _detail(family) + f"sharing/{school_basis.id}/withdraw/"

        withdrawn, counts, errors = _race(
            withdraw_url=url, token=token, sweep_delay=(n % 10) * STAGGER_S
        )

        assert not errors, (n, errors, [_is_deadlock(e) for e in errors])
        assert withdrawn == 200, n
        assert counts["bases_expired"] == 1, (n, counts)
        school_basis.refresh_from_db()
        health_basis.refresh_from_db()
        assert school_basis.withdrawn_at is not None and school_basis.expiry_swept_at is None
        assert health_basis.expiry_swept_at is not None and health_basis.withdrawn_at is None
        assert _lost(borough.partner, family) == [
            f"Your access to family {family.reference} has ended: {WITHDRAWN}"
        ]
        health_lost = _lost(health_visitor, family)
        assert len(health_lost) == 1, (n, health_lost)
        winners.append("sweep" if health_lost[0].endswith(EXPIRED) else "withdrawal")
        for agency in (borough.school, health):
            assert not _sees(agency, family)
            assert _open_periods(agency, family) == 0
            assert AccessPeriod.objects.filter(family=family, agency=agency).count() == 1
        # The key worker keeps the family throughout.
        assert services.access.family_permissions(borough.key_worker.user, family)
    print(
        f"ended health's access: {winners.count('sweep')} sweep, "
        f"{winners.count('withdrawal')} withdrawal"
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("lock", "deadlocks"), [(_family_first, False), (_child_first, True)])
def test_the_race_tells_the_lock_orders_apart(borough, monkeypatch, lock, deadlocks):
    """The sweep's two locks patched to hold on, after the first, until the withdrawal waits on
    a lock. Family first, the withdrawal queues on the family row and both finish; child first
    (the order `_basis_expire` once took), the two wait on each other and PostgreSQL breaks a
    deadlock: the race test above sees it."""
    token = f.token_for(borough.key_worker.user)
    seen = []
    for _ in range(DEMO_ROUNDS):
        family, (basis,) = _family_on_consent(borough, (borough.school, borough.partner))
        _expire(basis)
        between = _Between()
        monkeypatch.setattr(
            services,
            "_locked_family_then",
            lambda model, row_id, between=between: lock(model, row_id, between=between),
        )
        url = _detail(family) + f"sharing/{basis.id}/withdraw/"

        withdrawn, counts, errors = _race(withdraw_url=url, token=token, locked=between.locked)

        assert between.waited == [True], "the withdrawal never waited on a lock"
        assert all(_is_deadlock(e) for e in errors), errors
        seen.append(bool(errors))
        if not errors:
            assert (withdrawn, counts["bases_expired"]) == (200, 1)
            assert len(_lost(borough.partner, family)) == 1
    assert seen == [deadlocks] * DEMO_ROUNDS
