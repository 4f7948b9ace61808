"""Root fixtures: real clients with real token auth, and a small borough to test against."""

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from agencies.models import AgencyKind
from agencies.roles import Role
from tests import factories as f


@pytest.fixture(autouse=True)
def database_pool_fresh(request):
    """PostgreSQL: after a test that left pool connections checked out, the pool is closed, and
    the next test opens a new one. A test that runs the real consumer in process (async_to_sync)
    gets a new event loop, whose executor threads may end still holding a connection of the
    process's pool; ten such tests in one process would leave none (10 s waits, then errors). A
    server's loop and threads live on, so this is the tests' concern only."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction", False)
    )
    yield
    from django.db import connection

    if (
        not transactional
        or connection.vendor != "postgresql"
        or not connection.settings_dict["OPTIONS"].get("pool")
        or connection.in_atomic_block  # a module's kept data: its transaction stays open
    ):
        return
    connection.close()  # the test's own connection back to the pool
    pool = connection.pool
    stats = pool.get_stats()
    if stats.get("pool_size", 0) > stats.get("pool_available", 0):
        connection.close_pool()


@pytest.fixture(autouse=True)
def reference_data(request):
    """Every test with a database finds the data migrations' rows (tests/factories.py
    `reference_data_ensure`), whichever test ran before it in its process."""
    marker = request.node.get_closest_marker("django_db")
    names = request.fixturenames
    if marker is None and "db" not in names and "transactional_db" not in names:
        return
    request.getfixturevalue("transactional_db" if "transactional_db" in names else "db")
    f.reference_data_ensure()


@pytest.fixture
def client_for():
    """`client_for(user)` → an APIClient sending that user's real token; `None` → anonymous."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {f.token_for(user)}")
        return client

    return make


@dataclass
class Borough:
    """One family and the people around it, in every relationship the access rule knows."""

    early_help: object
    school: object
    police: object
    housing: object
    key_worker: object  # lead-agency key worker, the family's key worker
    manager: object  # lead-agency manager
    lead_practitioner: object  # lead-agency practitioner
    partner: object  # school practitioner, on the team
    ended_partner: object  # police practitioner, whose involvement ended
    outsider: object  # housing practitioner, never on the team
    family: object


@pytest.fixture
def borough(db) -> Borough:
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help")
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Hill Primary")
    police = f.agency_make(kind=AgencyKind.POLICE, name="Police")
    housing = f.agency_make(kind=AgencyKind.HOUSING, name="Housing")
    key_worker = f.staff_make(agency=early_help, role=Role.KEY_WORKER)
    manager = f.staff_make(agency=early_help, role=Role.MANAGER)
    lead_practitioner = f.staff_make(agency=early_help, role=Role.PRACTITIONER)
    partner = f.staff_make(agency=school, role=Role.PRACTITIONER)
    ended_partner = f.staff_make(agency=police, role=Role.PRACTITIONER)
    outsider = f.staff_make(agency=housing, role=Role.PRACTITIONER)
    family = f.family_make(by=key_worker)
    f.involvement_make(family=family, by=key_worker, agency=school, practitioner=partner.user)
    ended = f.involvement_make(family=family, by=key_worker, agency=police)
    # The family's consent to share with the team: school and police see the record while on it.
    f.consent_make(family=family, by=key_worker, agencies=[school, police])
    from cases import services

    services.involvement_end(involvement=ended, by=key_worker)
    return Borough(
        early_help=early_help,
        school=school,
        police=police,
        housing=housing,
        key_worker=key_worker,
        manager=manager,
        lead_practitioner=lead_practitioner,
        partner=partner,
        ended_partner=ended_partner,
        outsider=outsider,
        family=family,
    )
