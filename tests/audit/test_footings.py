"""The footing the access log records is the access rule's: `FamilyPerms.footing` / `basis_id`
(one family) and `access.family_footings` (a list's families) agree with each other, and the
basis they name is the one `access.current_bases_by_agency` (the rule's ORM reading) names,
whatever the state of the family's bases: consent, a decision without consent before and after
its manager confirmed it, several bases, a basis for another purpose, one expired, one
withdrawn."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agencies.models import AgencyKind
from agencies.roles import Role
from cases import access
from consent import services as consent_services
from consent.models import SharingBasis
from tests import factories as f


@pytest.fixture
def bases(borough):
    """Families led by the borough's early help, the school and health on each team, under
    bases in every state the rule knows."""
    b = borough
    kw = b.key_worker
    health = f.agency_make(kind=AgencyKind.HEALTH, name="Health Visiting")
    nurse = f.staff_make(agency=health, role=Role.PRACTITIONER)
    today = timezone.localdate()
    families = {}

    def family(name: str):
        made = f.family_make(by=kw, name=f"{name} household")
        for agency in (b.school, health):
            f.involvement_make(family=made, by=kw, agency=agency)
        families[name] = made
        return made

    f.consent_make(family=family("Consent"), by=kw, agencies=[b.school, health])
    two = family("Two")
    f.consent_make(family=two, by=kw, agencies=[health])
    f.consent_make(family=two, by=kw, agencies=[b.school, health])
    other = family("Referral only")
    consent_services.sharing_basis_create(
        family=other,
        by=kw,
        basis="consent",
        agencies=[b.school],
        purposes=["referral"],
        given_by=[f.parent_make(family=other, by=kw)],
        method="written",
    )
    undecided = family("Undecided")
    consent_services.sharing_basis_create(
        family=undecided,
        by=kw,
        basis="safeguarding",
        agencies=[b.school],
        justification="Risk of harm.",
        decided_by_id=b.manager.user_id,
    )
    confirmed = family("Confirmed")
    decision = consent_services.sharing_basis_create(
        family=confirmed,
        by=kw,
        basis="safeguarding",
        agencies=[b.school, health],
        justification="Risk of harm.",
        decided_by_id=b.manager.user_id,
    )
    consent_services.sharing_basis_confirm(basis_id=decision.id, by=b.manager)
    expired = family("Expired")
    old = f.consent_make(family=expired, by=kw, agencies=[b.school])
    SharingBasis.objects.filter(id=old.id).update(expires_on=today - timedelta(days=1))
    access.family_access_sync(family=expired)  # what the sweep does within the minute
    withdrawn = family("Withdrawn")
    gone = f.consent_make(family=withdrawn, by=kw, agencies=[b.school, health])
    f.consent_make(family=withdrawn, by=kw, agencies=[health])
    consent_services.sharing_basis_withdraw(basis=gone, by=kw, reason="Withdrawn by phone.")
    # The health visitor also has emergency access to the undecided family.
    consent_services.emergency_access_grant(
        family_id=undecided.id, by=nurse, reason="Urgent referral out of hours."
    )
    return b, families, {"school": b.partner, "health": nurse}


def test_the_sql_basis_is_the_rules(bases):
    b, families, people = bases
    today = timezone.localdate()
    for family in families.values():
        covered = access.current_bases_by_agency(family=family, today=today)
        for staff in people.values():
            found = access.covering_basis_ids(
                family_ids=[family.id], agency_id=staff.agency_id, today=today
            )
            assert found.get(family.id) == covered.get(staff.agency_id), family.name


@pytest.mark.parametrize("who", ["school", "health"])
def test_one_familys_footing_and_a_lists_agree(bases, who):
    b, families, people = bases
    staff = people[who]
    user = staff.user
    today = timezone.localdate()
    visible = list(access.families_visible_to(user))
    assert visible, who
    listed = access.family_footings(user, visible)
    for family in visible:
        _, perms = access.family_with_permissions(user, family.id)
        again = access.family_permissions(user, family)  # the basis read lazily
        covered = access.current_bases_by_agency(family=family, today=today)
        assert (perms.footing, perms.basis_id) == listed[family.id], family.name
        assert (again.footing, again.basis_id) == listed[family.id], family.name
        if perms.footing == "team":
            assert perms.basis_id == covered[staff.agency_id]
            assert not perms.emergency
        else:
            assert (perms.footing, perms.basis_id, perms.emergency) == ("emergency", None, True)
    names = {f.name: listed[f.id][0] for f in visible}
    if who == "health":
        assert names["Undecided household"] == "emergency"
        assert "Expired household" not in names


def test_the_lead_agency_and_the_key_worker(bases):
    b, families, _ = bases
    for user, footing in ((b.key_worker.user, "key_worker"), (b.manager.user, "lead_agency")):
        listed = access.family_footings(user, families.values())
        for family in families.values():
            _, perms = access.family_with_permissions(user, family.id)
            assert (perms.footing, perms.basis_id) == (footing, None)
            assert listed[family.id] == (footing, None)
    _, nothing = access.family_with_permissions(b.outsider.user, b.family.id)
    assert (nothing.footing, nothing.basis_id, nothing.emergency) == ("", None, False)
