"""The accountability tests' fixtures: subject access exports are built in process into a
temporary folder (as tests/reports does), and `accountable`: the root conftest's borough with a
data protection officer of the lead agency, a household member and the consent's basis."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agencies.roles import Role
from consent.models import SharingBasis
from tests import factories as f
from tests.reports.conftest import Reports, tasks_in_process


@pytest.fixture(autouse=True)
def reports_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "reports")},
        },
    }
    return tmp_path / "reports"


@pytest.fixture(autouse=True)
def reports_in_process():
    with tasks_in_process():
        yield


@pytest.fixture
def reports_as(client_for, django_capture_on_commit_callbacks):
    def make(user) -> Reports:
        return Reports(client_for(user), django_capture_on_commit_callbacks)

    return make


@dataclass
class Accountable:
    borough: object
    dpo: object  # the lead agency's data protection officer (a StaffMember)
    member: object  # a child of the family
    consent: SharingBasis  # the consent covering the school (and the police)


@pytest.fixture
def accountable(borough) -> Accountable:
    b = borough
    dpo = f.staff_make(agency=b.early_help, role=Role.DPO)
    member = f.PersonFactory(
        family=b.family,
        given_name="Amelia",
        family_name="Smith",
        nhs_number="9434765919",
        upn="A123456789012",
    )
    consent = SharingBasis.objects.get(family=b.family, basis="consent")
    return Accountable(borough=b, dpo=dpo, member=member, consent=consent)


def basis_words(basis: SharingBasis) -> str:
    """A basis as the access log names it (the API's `basis_label`), written independently."""
    kinds = {"consent": "Consent", "safeguarding": "Safeguarding without consent"}
    return f"{kinds[basis.basis]} recorded {basis.given_on.day} {basis.given_on:%b %Y}"
