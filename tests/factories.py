"""Factories that build through the services, so test data obeys the same rules as real data."""

import importlib
import itertools
from contextlib import contextmanager
from datetime import date

import factory
from django.db import transaction
from django.utils import timezone
from knox.crypto import hash_token

from agencies import services as agency_services
from agencies.models import Agency, AgencyKind, ApiToken, StaffMember
from agencies.roles import Role
from cases import services as case_services
from cases.models import Family, HeadlineOutcome, Involvement, Person

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery-staple"


def agency_make(*, kind: str = AgencyKind.EARLY_HELP, name: str | None = None) -> Agency:
    return agency_services.agency_create(name=name or f"{kind} agency {next(_seq)}", kind=kind)


def staff_make(
    *, agency: Agency | None = None, role: str = Role.PRACTITIONER, username: str | None = None
) -> StaffMember:
    agency = agency or agency_make()
    n = next(_seq)
    return agency_services.staff_create(
        agency=agency,
        username=username or f"{role}{n}",
        password=PASSWORD,
        role=role,
        first_name=role.replace("_", " ").title(),
        last_name=f"No{n}",
        validate=False,
    )


_secrets: dict[int, str] = {}  # user id → the secret of the last token issued here


def token_for(user) -> str:
    """A working API token of `user`, issued through the service (its secret exists only when
    issued, so the one issued here is remembered and reused while its row, found by the
    secret's digest, is there: ids are reused after a test's rollback)."""
    known = _secrets.get(user.pk)
    if (
        known is not None
        and ApiToken.objects.filter(
            digest=hash_token(known), user_id=user.pk, expiry__gt=timezone.now()
        ).exists()
    ):
        return known
    _secrets[user.pk] = agency_services.token_issue(user=user)[1]
    return _secrets[user.pk]


def family_make(
    *, by: StaffMember, name: str = "Smith household", postcode: str = "SW1A 1AA", key_worker=None
) -> Family:
    return case_services.family_create(
        by=by,
        name=name,
        postcode=postcode,
        key_worker_id=key_worker.id if key_worker is not None else None,
    )


def involvement_make(
    *, family: Family, by: StaffMember, agency: Agency, practitioner=None
) -> Involvement:
    return case_services.involvement_create(
        family=family,
        by=by,
        agency=agency,
        practitioner_id=practitioner.id if practitioner else None,
    )


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    given_name = factory.Faker("first_name")
    family_name = "Smith"
    date_of_birth = date(2012, 5, 1)
    relationship = "child"


def outcome(code: str = "education") -> HeadlineOutcome:
    reference_data_ensure()
    return HeadlineOutcome.objects.get(framework_version="2022", code=code)


def parent_make(*, family: Family, by: StaffMember, given_name: str = "Dana") -> Person:
    """An adult member with parental responsibility (who can give consent)."""
    return case_services.person_create(
        family=family,
        by=by,
        given_name=given_name,
        family_name="Smith",
        date_of_birth=date(1985, 3, 14),
        relationship="parent",
        parental_responsibility=True,
    )


def consent_make(*, family: Family, by: StaffMember, agencies, giver: Person | None = None):
    from consent import services as consent_services

    giver = giver or parent_make(family=family, by=by)
    return consent_services.sharing_basis_create(
        family=family,
        by=by,
        basis="consent",
        agencies=list(agencies),
        given_by=[giver],
        method="written",
    )


def reference_data_ensure() -> None:
    """The rows the data migrations load (the 2022 headline outcomes, the 2022 claim framework,
    identification's 2022 indicator framework) are there. A transactional test flushes every
    table when it ends; pytest-django runs those tests last in a process, but with the tests
    shared among processes (`make test`, pytest-xdist) a process may run one before others: each
    test with a database, and each module's kept data, asks for them first (the root conftest's
    `reference_data`, `kept_db`)."""
    from django.apps import apps

    from identification.models import IndicatorFramework
    from reports.models import ClaimFramework

    if not HeadlineOutcome.objects.filter(framework_version="2022").exists():
        importlib.import_module("cases.migrations.0002_outcomes_2022").load(apps, None)
    if not ClaimFramework.objects.filter(version="2022").exists():
        importlib.import_module("reports.migrations.0002_claim_framework_2022").load(apps, None)
    if not IndicatorFramework.objects.filter(version="2022").exists():
        importlib.import_module("identification.migrations.0002_framework_2022").load(apps, None)


@contextmanager
def kept_db(django_db_blocker):
    """Build data once for a module: everything inside is rolled back when the block ends.

    Each test's own `db` transaction nests inside as a savepoint, so a test's writes are undone
    before the next test while the module's data stays.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        reference_data_ensure()
        yield
        transaction.set_rollback(True)
