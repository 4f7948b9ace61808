"""Writes for lawful bases, withdrawal, the expiry sweep and emergency access.

Each write that changes an input of the access rule recomputes the grants in its own transaction
(`access.family_access_sync`), so withdrawal takes effect in the same request.

A basis keeps a field history (django-simple-history, decision 0018): each write saves the
instance with its author named (`case_services.history_by`); the sweep's bookkeeping columns are
not tracked, and their saves write no history row (`save_without_historical_record`).
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from agencies.models import Agency, StaffMember
from alerts import services as alert_services
from alerts.models import AlertKind
from cases import access
from cases import services as case_services
from cases.models import Family, Person
from cases.retention import REMOVED
from consent.models import BasisKind, EmergencyAccess, Purpose, SharingBasis

CONSENT_DEFAULT_MONTHS = 12
NON_CONSENT_MAX_REVIEW_DAYS = 90
COMPETENCE_AGE = 12
ADULT_AGE = 18
EXPIRY_WARNING_DAYS = 14
REVIEW_WARNING_DAYS = 14
CONSENT_MAX_MONTHS = 24
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
    family = case_services.family_for_write(family_id=family.id, by=by, permission=access.SHARING)
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
    if expires_on is not None and expires_on > _add_months(today, CONSENT_MAX_MONTHS):
        raise ValidationError(
            {"expires_on": [f"Sharing is agreed for {CONSENT_MAX_MONTHS} months at most."]}
        )
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
            StaffMember.objects.filter(user_id=decided_by_id, user__is_active=True).first()
            if decided_by_id
            else None
        )
        if not access.is_lead_manager(decided_by, family):
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
    # Without consent, the basis grants nothing until the manager it names confirms it: at once
    # when that manager records it.
    confirmed = basis != BasisKind.CONSENT and decided_by.user_id == by.user_id
    record = case_services.history_by(
        SharingBasis(
            family=family,
            confirmed_at=timezone.now() if confirmed else None,
            confirmed_by=by.user if confirmed else None,
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
        ),
        by=by,
    )
    record.save(force_insert=True)
    record.agencies.set(agencies)
    record.given_by.set(given_by)
    if basis != BasisKind.CONSENT and not confirmed:
        _basis_alert(
            basis=record,
            family=family,
            user_ids={decided_by.user_id},
            kind=AlertKind.SHARING_CONFIRMATION_NEEDED,
            agency_id=by.agency_id,
            text=f"confirm or reject sharing without consent "
            f"({record.get_basis_display().lower()}) recorded by {_name(by.user)}",
        )
    _access_granted_tell(family=family, by=by, basis=record)
    return record


def _name(user) -> str:
    return user.get_full_name() or user.username


def _basis_alert(
    *, basis: SharingBasis, family: Family, user_ids, kind: str, text: str, agency_id=None
) -> None:
    """An alert about a sharing decision to named people (the summary leads with the family's
    reference and carries nothing else of the record)."""
    alert_services.alerts_to_users(
        user_ids=set(user_ids) - {None},
        kind=kind,
        family=family,
        agency_id=agency_id,
        summary=f"{family.reference}: {text}",
        source_type="sharing_basis",
        source_id=basis.id,
    )


def _access_granted_tell(*, family: Family, by: StaffMember, basis: SharingBasis) -> None:
    """Recompute the grants and tell the named practitioners of agencies that gained sight."""
    change = access.family_access_sync(family=family)
    named = set(
        family.involvements.filter(
            agency_id__in=change.gained_agency_ids, ended_on__isnull=True
        ).values_list("practitioner_id", flat=True)
    )
    alert_services.alerts_for_event(
        family=family,
        kind=AlertKind.ACCESS_GRANTED,
        agency_id=by.agency_id,
        author_id=by.user_id,
        summary=f"{family.reference}: you can now see this family's record "
        f"({basis.get_basis_display().lower()})",
        source_type="sharing_basis",
        source_id=basis.id,
        recipients=named,
    )


def _basis_for_decision(*, basis_id: int, by: StaffMember, allowed) -> tuple[Family, SharingBasis]:
    """The family row-locked, then the basis (one lock order everywhere: the family first), once
    `allowed(staff=, family=, basis=)` (an access predicate) holds: else `access.Forbidden`."""
    family_id = SharingBasis.objects.values_list("family_id", flat=True).get(id=basis_id)
    family = case_services.family_for_write(
        family_id=family_id, by=by, permission=access.VIEW, open_only=False
    )
    basis = SharingBasis.objects.select_for_update().get(id=basis_id)
    if not allowed(staff=by, family=family, basis=basis):
        raise access.Forbidden("Only the lead-agency manager named in the decision.")
    if basis.basis == BasisKind.CONSENT:
        raise access.StateConflict("Consent is in force once recorded: nothing to decide.")
    if basis.withdrawn_at is not None or basis.expiry_swept_at is not None:
        raise access.StateConflict("This basis has ended.")
    if basis.review_on is not None and basis.review_on < timezone.localdate():
        raise access.StateConflict("This decision lapsed at its review date: record a new one.")
    return family, basis


@transaction.atomic
def sharing_basis_confirm(*, basis_id: int, by: StaffMember) -> SharingBasis:
    """The manager named in a basis without consent confirms it: from now it grants access (the
    family's key worker is alerted, and the agencies that gain sight)."""
    family, basis = _basis_for_decision(
        basis_id=basis_id, by=by, allowed=access.may_confirm_sharing_basis
    )
    if basis.confirmed_at is not None:
        raise access.StateConflict("This decision is already confirmed.")
    basis.confirmed_at = timezone.now()
    basis.confirmed_by = by.user
    case_services.history_by(basis, by=by).save(update_fields=["confirmed_at", "confirmed_by"])
    _basis_alert(
        basis=basis,
        family=family,
        user_ids={family.key_worker_id} - {by.user_id},
        kind=AlertKind.SHARING_CONFIRMED,
        agency_id=by.agency_id,
        text=f"{basis.get_basis_display().lower()} confirmed by {_name(by.user)};"
        f" review by {basis.review_on:%d %b %Y}",
    )
    _access_granted_tell(family=family, by=by, basis=basis)
    return basis


@transaction.atomic
def sharing_basis_review(
    *, basis_id: int, by: StaffMember, review_on: date, notes: str = ""
) -> SharingBasis:
    """A lead-agency manager reviews a confirmed basis without consent: it stays in force until
    the next review date (within NON_CONSENT_MAX_REVIEW_DAYS), or lapses at its current one."""
    family, basis = _basis_for_decision(
        basis_id=basis_id,
        by=by,
        allowed=lambda staff, family, basis: access.may_review_sharing_basis(
            staff=staff, family=family
        ),
    )
    if basis.confirmed_at is None:
        raise access.StateConflict("Confirm this decision before reviewing it.")
    today = timezone.localdate()
    if review_on <= today or review_on > today + timedelta(days=NON_CONSENT_MAX_REVIEW_DAYS):
        raise ValidationError(
            {"review_on": [f"The next review is within {NON_CONSENT_MAX_REVIEW_DAYS} days."]}
        )
    basis.review_on = review_on
    basis.reviewed_at = timezone.now()
    basis.reviewed_by = by.user
    basis.expiring_alerted_at = None  # warn again ahead of the new date
    if notes:
        basis.justification = f"{basis.justification}\n\nReview {today:%d %b %Y}: {notes}"
    case_services.history_by(basis, by=by).save(
        update_fields=[
            "review_on",
            "reviewed_at",
            "reviewed_by",
            "expiring_alerted_at",
            "justification",
        ]
    )
    return basis


class AlreadyWithdrawn(access.StateConflict):
    pass


@transaction.atomic
def sharing_basis_withdraw(*, basis: SharingBasis, by: StaffMember, reason: str) -> SharingBasis:
    """Record the withdrawal and end the access it gave, in this transaction."""
    family = case_services.family_for_write(
        family_id=basis.family_id, by=by, permission=access.SHARING, open_only=False
    )
    basis = SharingBasis.objects.select_for_update().get(id=basis.id)
    if basis.withdrawn_at is not None:
        raise AlreadyWithdrawn("This basis was already withdrawn.")
    if not reason.strip():
        raise ValidationError({"reason": ["Record the reason for the withdrawal."]})
    basis.withdrawn_at = timezone.now()
    basis.withdrawn_by = by.user
    basis.withdrawal_reason = reason
    case_services.history_by(basis, by=by).save(
        update_fields=["withdrawn_at", "withdrawn_by", "withdrawal_reason"]
    )
    change = access.family_access_sync(family=family)
    alert_services.alerts_for_event(
        family=family,
        kind=AlertKind.SHARING_WITHDRAWN,
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
    """Expire bases and emergency accesses whose time ended, lapse bases without consent whose
    review date passed unreviewed; warn of consents expiring and of reviews due soon.

    Idempotent: each basis or emergency access is processed once (`expiry_swept_at`), and a
    second run finds nothing to do. Runs every 30 s under Celery beat.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    counts = {
        "bases_expired": 0,
        "bases_lapsed": 0,
        "emergency_expired": 0,
        "expiry_warnings": 0,
        "review_warnings": 0,
    }
    for basis_id in SharingBasis.objects.filter(
        withdrawn_at__isnull=True, expiry_swept_at__isnull=True, expires_on__lt=today
    ).values_list("id", flat=True)[:500]:
        counts["bases_expired"] += _basis_expire(basis_id=basis_id, now=now)
    for basis_id in (
        SharingBasis.objects.filter(
            withdrawn_at__isnull=True, expiry_swept_at__isnull=True, review_on__lt=today
        )
        .exclude(basis=BasisKind.CONSENT)
        .values_list("id", flat=True)[:500]
    ):
        counts["bases_lapsed"] += _basis_expire(basis_id=basis_id, now=now, lapsed=True)
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
    for basis_id in (
        SharingBasis.objects.filter(
            withdrawn_at__isnull=True,
            expiry_swept_at__isnull=True,
            expiring_alerted_at__isnull=True,
            confirmed_at__isnull=False,
            review_on__gte=today,
            review_on__lte=today + timedelta(days=REVIEW_WARNING_DAYS),
        )
        .exclude(basis=BasisKind.CONSENT)
        .values_list("id", flat=True)[:500]
    ):
        counts["review_warnings"] += _basis_review_warn(basis_id=basis_id, now=now)
    return counts


def _locked_family_then(model, row_id: int) -> tuple[Family, object]:
    """The family row-locked first, then the child row (a basis or an emergency grant): the one
    lock order that every write of the family and its children takes."""
    family_id = model.objects.values_list("family_id", flat=True).get(id=row_id)
    family = Family.objects.select_for_update().get(id=family_id)
    return family, model.objects.select_for_update().get(id=row_id)


@transaction.atomic
def _basis_expire(*, basis_id: int, now, lapsed: bool = False) -> int:
    family, basis = _locked_family_then(SharingBasis, basis_id)
    if basis.expiry_swept_at is not None or basis.withdrawn_at is not None:
        return 0
    basis.expiry_swept_at = now
    basis.save_without_historical_record(update_fields=["expiry_swept_at"])  # not tracked
    change = access.family_access_sync(family=family, now=now)
    if lapsed and basis.confirmed_at is not None:
        _basis_alert(
            basis=basis,
            family=family,
            user_ids={family.key_worker_id, basis.decided_by_id},
            kind=AlertKind.SHARING_LAPSED,
            text=f"{basis.get_basis_display().lower()} lapsed unreviewed"
            f" on {basis.review_on:%d %b %Y}",
        )
    alert_services.alerts_access_lost(
        family=family,
        change=change,
        reason="the sharing decision lapsed unreviewed" if lapsed else "the sharing basis expired",
    )
    return 1


@transaction.atomic
def _emergency_expire(*, grant_id: int, now) -> int:
    family, grant = _locked_family_then(EmergencyAccess, grant_id)
    if grant.expiry_swept_at is not None:
        return 0
    grant.expiry_swept_at = now
    grant.save(update_fields=["expiry_swept_at"])
    access.family_access_sync(family=family, now=now)
    return 1


@transaction.atomic
def _basis_warn(*, basis_id: int, now) -> int:
    family, basis = _locked_family_then(SharingBasis, basis_id)
    if basis.expiring_alerted_at is not None:
        return 0
    basis.expiring_alerted_at = now
    basis.save_without_historical_record(update_fields=["expiring_alerted_at"])  # not tracked
    if family.key_worker_id:
        alert_services.alerts_for_event(
            family=family,
            kind=AlertKind.SHARING_EXPIRING,
            agency_id=None,
            author_id=None,
            summary=f"{family.reference}: consent to share expires on {basis.expires_on:%d %b %Y}",
            source_type="sharing_basis",
            source_id=basis.id,
            recipients={family.key_worker_id},
        )
    return 1


@transaction.atomic
def _basis_review_warn(*, basis_id: int, now) -> int:
    family, basis = _locked_family_then(SharingBasis, basis_id)
    if basis.expiring_alerted_at is not None:
        return 0
    basis.expiring_alerted_at = now
    basis.save_without_historical_record(update_fields=["expiring_alerted_at"])  # not tracked
    _basis_alert(
        basis=basis,
        family=family,
        user_ids={family.key_worker_id, basis.decided_by_id},
        kind=AlertKind.SHARING_REVIEW_DUE,
        text=f"{basis.get_basis_display().lower()} is due for review by"
        f" {basis.review_on:%d %b %Y}, or it lapses",
    )
    return 1


@transaction.atomic
def emergency_access_grant(*, family_id: int, by: StaffMember, reason: str) -> EmergencyAccess:
    """Grant `by` view access to the family at once for four hours and tell the leads live, as
    `access.emergency_access_allowance` allows: one live grant per person per family; after a
    "not justified" review, or past the daily limit, a request waits for a lead-agency
    manager's approval (`emergency_access_approve`)."""
    family = Family.objects.select_for_update().filter(id=family_id).first()
    if family is None:
        raise Family.DoesNotExist
    # Then the requester's row (after the family: the one lock order): one person's requests
    # for different families are counted against the daily limit one at a time.
    StaffMember.objects.select_for_update(no_key=True).get(user_id=by.user_id)
    now = timezone.now()
    allowance = access.emergency_access_allowance(user_id=by.user_id, family=family, now=now)
    if allowance == access.EMERGENCY_LIVE:
        raise access.StateConflict("You already have emergency access to this family.")
    if allowance == access.EMERGENCY_WAITING:
        raise access.StateConflict("Your request for this family is waiting for a manager.")
    overrides = access.emergency_access_overrides_withdrawal(
        agency_id=by.agency_id, family=family, today=timezone.localdate(now)
    )
    pending = allowance == access.EMERGENCY_NEEDS_APPROVAL
    grant = EmergencyAccess.objects.create(
        family=family,
        user=by.user,
        agency=by.agency,
        reason=reason,
        requested_at=now,
        granted_at=None if pending else now,
        expires_at=None if pending else now + EMERGENCY_WINDOW,
        approval_required=pending,
        overrides_withdrawal=overrides,
    )
    if pending:
        alert_services.alerts_to_users(
            user_ids=access.lead_manager_ids(family=family),
            kind=AlertKind.EMERGENCY_ACCESS_REQUESTED,
            family=family,
            agency_id=by.agency_id,
            summary=f"{family.reference}: {_name(by.user)} ({by.agency.name}) asks for emergency"
            f" access; a manager's approval is needed{_OVERRIDES if overrides else ''}",
            source_type="emergency_access",
            source_id=grant.id,
        )
        return grant
    _emergency_granted_tell(family=family, grant=grant, by=by)
    return grant


_OVERRIDES = " (it overrides the family's withdrawal of sharing)"


def _emergency_granted_tell(*, family: Family, grant: EmergencyAccess, by: StaffMember) -> None:
    access.family_access_sync(family=family)
    alert_services.alerts_for_event(
        family=family,
        kind=AlertKind.EMERGENCY_ACCESS_GRANTED,
        agency_id=grant.agency_id,
        author_id=by.user_id,
        summary=(
            f"{family.reference}: emergency access granted to {_name(grant.user)}"
            f" ({grant.agency.name}) until {timezone.localtime(grant.expires_at):%H:%M}"
            f"{_OVERRIDES if grant.overrides_withdrawal else ''}"
        ),
        source_type="emergency_access",
        source_id=grant.id,
        recipients={family.key_worker_id, grant.user_id} | access.lead_manager_ids(family=family),
    )


@transaction.atomic
def emergency_access_approve(
    *, grant_id: int, by: StaffMember, approve: bool, notes: str = ""
) -> EmergencyAccess:
    """A lead-agency manager approves (the grant starts now, for the usual window) or refuses a
    request that needed approval."""
    family, grant = _locked_family_then(EmergencyAccess, grant_id)
    if not access.may_review_emergency_access(staff=by, family=family):
        raise access.Forbidden("Only a lead-agency manager approves emergency access.")
    if not grant.approval_required or grant.approved_at or grant.refused_at:
        raise access.StateConflict("This request is not waiting for approval.")
    now = timezone.now()
    grant.review_notes = notes
    if not approve:
        grant.refused_at = now
        grant.approved_by = by.user
        grant.save(update_fields=["refused_at", "approved_by", "review_notes"])
        return grant
    grant.approved_at, grant.approved_by = now, by.user
    grant.granted_at, grant.expires_at = now, now + EMERGENCY_WINDOW
    grant.overrides_withdrawal = access.emergency_access_overrides_withdrawal(
        agency_id=grant.agency_id, family=family, today=timezone.localdate(now)
    )
    grant.save(
        update_fields=[
            "approved_at",
            "approved_by",
            "granted_at",
            "expires_at",
            "review_notes",
            "overrides_withdrawal",
        ]
    )
    _emergency_granted_tell(family=family, grant=grant, by=by)
    return grant


class AlreadyReviewed(access.StateConflict):
    pass


@transaction.atomic
def emergency_access_review(
    *, grant_id: int, by: StaffMember, decision: str, notes: str = ""
) -> EmergencyAccess:
    """A lead-agency manager's review of a grant: upheld, or not justified (the access ends now,
    and the same person needs a manager's approval for this family from then on)."""
    family, grant = _locked_family_then(EmergencyAccess, grant_id)
    if not access.may_review_emergency_access(staff=by, family=family):
        raise access.Forbidden("Only a lead-agency manager reviews emergency access.")
    if grant.granted_at is None:
        raise access.StateConflict("This request was never granted: approve or refuse it.")
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
        access.family_access_sync(family=family)
    return grant


def _removed_unless_empty(field: str) -> Case:
    return Case(When(**{field: ""}, then=Value("")), default=Value(REMOVED))


def family_consent_pseudonymise(*, family: Family) -> None:
    """A family pseudonymised under the retention rule (decision 0022): the free text of its
    sharing bases (the justification, the reason for a withdrawal), in the bases and in their
    field history, and of its emergency access (the reason, the review's notes) is replaced. The
    kinds, purposes, dates, givers (members, pseudonymised themselves) and deciders stay: they
    are the record of what was lawful when."""
    texts = {f: _removed_unless_empty(f) for f in ("justification", "withdrawal_reason")}
    SharingBasis.objects.filter(family_id=family.id).update(**texts)
    SharingBasis.history.model.objects.filter(family_id=family.id).update(**texts)
    EmergencyAccess.objects.filter(family_id=family.id).update(
        reason=REMOVED, review_notes=_removed_unless_empty("review_notes")
    )
