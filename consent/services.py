"""Writes for lawful bases, withdrawal, the expiry sweep and emergency access.

Each write that changes an input of the access rule recomputes the grants in its own transaction
(`access.family_access_sync`), so withdrawal takes effect in the same request.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agencies.models import Agency, Role, StaffMember
from alerts import services as alert_services
from cases import access
from cases.models import Family, Person
from consent.models import BasisKind, EmergencyAccess, Purpose, SharingBasis

CONSENT_DEFAULT_MONTHS = 12
NON_CONSENT_MAX_REVIEW_DAYS = 90
COMPETENCE_AGE = 12
ADULT_AGE = 18
EXPIRY_WARNING_DAYS = 14
EMERGENCY_WINDOW = timedelta(hours=4)


def _age_on(born: date | None, on: date) -> int | None:
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def _givers_check(*, givers: list[Person], today: date) -> None:
    if not givers:
        raise ValidationError({"given_by": ["Consent needs the family member(s) who gave it."]})
    for person in givers:
        age = _age_on(person.date_of_birth, today)
        name = f"{person.given_name} {person.family_name}"
        if age is None:
            raise ValidationError(
                {"given_by": [f"{name} has no date of birth: record it to take their consent."]}
            )
        if age >= ADULT_AGE and person.parental_responsibility:
            continue
        if age >= COMPETENCE_AGE and person.competent_to_consent:
            continue
        if age < COMPETENCE_AGE:
            raise ValidationError(
                {"given_by": [f"{name} is under {COMPETENCE_AGE} and cannot give consent."]}
            )
        if age < ADULT_AGE:
            raise ValidationError(
                {"given_by": [f"{name} is {age}: record them as competent to consent first."]}
            )
        raise ValidationError(
            {"given_by": [f"{name} does not hold parental responsibility for the family."]}
        )


@transaction.atomic
def sharing_basis_create(
    *,
    family: Family,
    by: StaffMember,
    basis: str,
    agencies: list[Agency],
    purposes: list[str] | None = None,
    given_by: list[Person] = (),
    method: str = "",
    expires_on: date | None = None,
    review_on: date | None = None,
    justification: str = "",
    decided_by_id: int | None = None,
    special_category_condition: str = "",
    agrees_to_early_help: bool | None = None,
) -> SharingBasis:
    family = Family.objects.select_for_update().get(id=family.id)
    access.family_write_check(user=by.user, family=family, permission=access.SHARING)
    today = timezone.localdate()
    purposes = list(dict.fromkeys(purposes or [Purpose.TEAM_SHARING]))
    if not agencies:
        raise ValidationError({"agencies": ["Name the agencies this basis covers."]})
    on_team = set(
        family.involvements.filter(ended_on__isnull=True).values_list("agency_id", flat=True)
    )
    strangers = [a.name for a in agencies if a.id not in on_team]
    if strangers:
        raise ValidationError(
            {"agencies": [f"Not on the team: {', '.join(strangers)}. Add them to the team first."]}
        )
    if expires_on is not None and expires_on < today:
        raise ValidationError({"expires_on": ["The expiry date is in the past."]})
    if basis == BasisKind.CONSENT:
        _givers_check(givers=list(given_by), today=today)
        if not method:
            raise ValidationError(
                {"method": ["Say how consent was given: written, verbal or electronic."]}
            )
        expires_on = expires_on or _add_months(today, CONSENT_DEFAULT_MONTHS)
        decided_by = None
    else:
        errors = {}
        if not justification.strip():
            errors["justification"] = ["Record why the information is shared without consent."]
        decided_by = (
            StaffMember.objects.filter(
                user_id=decided_by_id, role=Role.MANAGER, agency_id=family.lead_agency_id
            ).first()
            if decided_by_id
            else None
        )
        if decided_by is None:
            errors["decided_by"] = ["Name the lead-agency manager who decided."]
        if review_on is None:
            review_on = today + timedelta(days=NON_CONSENT_MAX_REVIEW_DAYS)
        elif review_on < today or review_on > today + timedelta(days=NON_CONSENT_MAX_REVIEW_DAYS):
            errors["review_on"] = [
                f"A review date is needed within {NON_CONSENT_MAX_REVIEW_DAYS} days."
            ]
        if given_by:
            errors["given_by"] = ["Only a consent basis names who gave it."]
        if errors:
            raise ValidationError(errors)
    record = SharingBasis.objects.create(
        family=family,
        basis=basis,
        purposes=purposes,
        method=method if basis == BasisKind.CONSENT else "",
        special_category_condition=special_category_condition,
        agrees_to_early_help=agrees_to_early_help,
        justification=justification,
        decided_by_id=decided_by.user_id if decided_by else None,
        given_on=today,
        expires_on=expires_on,
        review_on=review_on if basis != BasisKind.CONSENT else None,
        recorded_by=by.user,
    )
    record.agencies.set(agencies)
    record.given_by.set(given_by)
    change = access.family_access_sync(family=family)
    named = set(
        family.involvements.filter(
            agency_id__in=change.gained_agency_ids, ended_on__isnull=True
        ).values_list("practitioner_id", flat=True)
    )
    alert_services.alerts_for_event(
        family=family,
        kind="access.granted",
        agency_id=by.agency_id,
        author_id=by.user_id,
        summary=f"{family.reference}: you can now see this family's record "
        f"({record.get_basis_display().lower()})",
        source_type="sharing_basis",
        source_id=record.id,
        recipients=named,
    )
    return record


class AlreadyWithdrawn(Exception):
    pass


@transaction.atomic
def sharing_basis_withdraw(*, basis: SharingBasis, by: StaffMember, reason: str) -> SharingBasis:
    """Record the withdrawal and end the access it gave, in this transaction."""
    family = Family.objects.select_for_update().get(id=basis.family_id)
    basis = SharingBasis.objects.select_for_update().get(id=basis.id)
    access.family_write_check(user=by.user, family=family, permission=access.SHARING)
    if basis.withdrawn_at is not None:
        raise AlreadyWithdrawn("This basis was already withdrawn.")
    if not reason.strip():
        raise ValidationError({"reason": ["Record the reason for the withdrawal."]})
    basis.withdrawn_at = timezone.now()
    basis.withdrawn_by = by.user
    basis.withdrawal_reason = reason
    basis.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawal_reason"])
    change = access.family_access_sync(family=family)
    alert_services.alerts_for_event(
        family=family,
        kind="sharing.withdrawn",
        agency_id=by.agency_id,
        author_id=by.user_id,
        summary=f"{family.reference}: {basis.get_basis_display().lower()} basis withdrawn",
        source_type="sharing_basis",
        source_id=basis.id,
        recipients={family.key_worker_id},
    )
    alert_services.alerts_access_lost(family=family, change=change, reason="sharing was withdrawn")
    return basis


def sharing_sweep(*, now=None) -> dict[str, int]:
    """Expire bases and emergency accesses whose time ended; warn of consents expiring soon.

    Idempotent: each basis or emergency access is processed once (`expiry_swept_at`), and a
    second run finds nothing to do. Runs every 30 s under Celery beat.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    counts = {"bases_expired": 0, "emergency_expired": 0, "expiry_warnings": 0}
    for basis_id in SharingBasis.objects.filter(
        withdrawn_at__isnull=True, expiry_swept_at__isnull=True, expires_on__lt=today
    ).values_list("id", flat=True)[:500]:
        counts["bases_expired"] += _basis_expire(basis_id=basis_id, now=now)
    for grant_id in EmergencyAccess.objects.filter(
        expiry_swept_at__isnull=True, expires_at__lte=now
    ).values_list("id", flat=True)[:500]:
        counts["emergency_expired"] += _emergency_expire(grant_id=grant_id, now=now)
    for basis_id in SharingBasis.objects.filter(
        basis=BasisKind.CONSENT,
        withdrawn_at__isnull=True,
        expiring_alerted_at__isnull=True,
        expires_on__gte=today,
        expires_on__lte=today + timedelta(days=EXPIRY_WARNING_DAYS),
    ).values_list("id", flat=True)[:500]:
        counts["expiry_warnings"] += _basis_warn(basis_id=basis_id, now=now)
    return counts


@transaction.atomic
def _basis_expire(*, basis_id: int, now) -> int:
    basis = SharingBasis.objects.select_for_update().get(id=basis_id)
    if basis.expiry_swept_at is not None:
        return 0
    family = Family.objects.select_for_update().get(id=basis.family_id)
    basis.expiry_swept_at = now
    basis.save(update_fields=["expiry_swept_at"])
    change = access.family_access_sync(family=family, now=now)
    alert_services.alerts_access_lost(
        family=family, change=change, reason="the sharing basis expired"
    )
    return 1


@transaction.atomic
def _emergency_expire(*, grant_id: int, now) -> int:
    grant = EmergencyAccess.objects.select_for_update().get(id=grant_id)
    if grant.expiry_swept_at is not None:
        return 0
    family = Family.objects.select_for_update().get(id=grant.family_id)
    grant.expiry_swept_at = now
    grant.save(update_fields=["expiry_swept_at"])
    access.family_access_sync(family=family, now=now)
    return 1


@transaction.atomic
def _basis_warn(*, basis_id: int, now) -> int:
    basis = SharingBasis.objects.select_for_update().select_related("family").get(id=basis_id)
    if basis.expiring_alerted_at is not None:
        return 0
    basis.expiring_alerted_at = now
    basis.save(update_fields=["expiring_alerted_at"])
    family = basis.family
    if family.key_worker_id:
        alert_services.alerts_for_event(
            family=family,
            kind="sharing.expiring",
            agency_id=None,
            author_id=None,
            summary=f"{family.reference}: consent to share expires on {basis.expires_on:%d %b %Y}",
            source_type="sharing_basis",
            source_id=basis.id,
            recipients={family.key_worker_id},
        )
    return 1


class NotAllowed(Exception):
    pass


@transaction.atomic
def emergency_access_grant(*, family_id: int, by: StaffMember, reason: str) -> EmergencyAccess:
    """Grant `by` view access to the family at once for four hours, and tell the leads live."""
    family = Family.objects.select_for_update().filter(id=family_id).first()
    if family is None:
        raise Family.DoesNotExist
    now = timezone.now()
    grant = EmergencyAccess.objects.create(
        family=family,
        user=by.user,
        agency=by.agency,
        reason=reason,
        granted_at=now,
        expires_at=now + EMERGENCY_WINDOW,
    )
    access.family_access_sync(family=family)
    managers = set(
        StaffMember.objects.filter(
            agency_id=family.lead_agency_id, role=Role.MANAGER, user__is_active=True
        ).values_list("user_id", flat=True)
    )
    alert_services.alerts_for_event(
        family=family,
        kind="emergency_access.granted",
        agency_id=by.agency_id,
        author_id=by.user_id,
        summary=(
            f"{family.reference}: emergency access granted to {by.user.get_full_name() or by.user}"
            f" ({by.agency.name}) until {timezone.localtime(grant.expires_at):%H:%M}"
        ),
        source_type="emergency_access",
        source_id=grant.id,
        recipients={family.key_worker_id} | managers,
    )
    return grant


class AlreadyReviewed(Exception):
    pass


@transaction.atomic
def emergency_access_review(
    *, grant: EmergencyAccess, by: StaffMember, decision: str, notes: str = ""
) -> EmergencyAccess:
    grant = EmergencyAccess.objects.select_for_update().get(id=grant.id)
    if grant.reviewed_at is not None:
        raise AlreadyReviewed("This emergency access has already been reviewed.")
    grant.decision = decision
    grant.review_notes = notes
    grant.reviewed_by = by.user
    grant.reviewed_at = timezone.now()
    grant.save(update_fields=["decision", "review_notes", "reviewed_by", "reviewed_at"])
    if decision == EmergencyAccess.Decision.NOT_JUSTIFIED and grant.expires_at > grant.reviewed_at:
        # Not justified: the access ends now rather than at the end of its window.
        grant.expires_at = grant.reviewed_at
        grant.save(update_fields=["expires_at"])
        access.family_access_sync(family=Family.objects.select_for_update().get(id=grant.family_id))
    return grant
