"""Writes on referrals: made by any practitioner, decided once by the front door (decision 0026).

`referral_create` is the one way a referral is made, from the API, the referral page and other
apps (identification's "refer", with `source=Source.IDENTIFICATION`); it validates everything
itself, so a caller gets the same 400s as the API.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agencies.models import StaffMember
from alerts import services as alert_services
from alerts.models import AlertKind
from cases import access, validators
from cases import services as case_services
from cases.models import HeadlineOutcome
from cases.selectors import CURRENT_FRAMEWORK
from consent.models import ConsentMethod
from referrals.models import (
    DECISION_STATUS,
    URGENCY_RANK,
    Decision,
    Referral,
    ReferralConcern,
    ReferralPerson,
    ReferralStatus,
    Source,
    Urgency,
)

PERSON_FIELDS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "relationship",
    "nhs_number",
    "upn",
)


@transaction.atomic
def referral_create(
    *,
    by: StaffMember,
    household: dict,
    people: list[dict],
    concerns: list[dict],
    consent: dict | None,
    urgency: str,
    no_consent_reason: str = "",
    source: str = Source.PRACTITIONER,
) -> Referral:
    """A referral to the early help front door by `by` (any practitioner: `access.may_refer`).

    - `household`: `{name, postcode, address?}`;
    - `people`: `[{given_name, family_name, date_of_birth?, relationship, nhs_number?, upn?}]`,
      at least one;
    - `concerns`: `[{outcome: a headline outcome code of the current framework (or the
      HeadlineOutcome), descriptor}]`, at least one;
    - `consent`: the family's consent to the referral, `{given_by, method: written|verbal,
      given_on}`, or None with `no_consent_reason` (one of the two, not both);
    - `urgency`: urgent | routine; `source`: `Source` (who made it: a practitioner, or
      data matching).

    Raises `access.Forbidden` (403) for someone who may not refer and `ValidationError` naming
    the field (400) for anything else; nothing is saved then."""
    if not access.may_refer(by):
        raise access.Forbidden("Only practitioners who work with families make referrals.")
    errors: dict[str, list[str]] = {}
    fields = _household_clean(household, errors)
    fields.update(_consent_clean(consent, no_consent_reason, errors))
    if urgency not in Urgency.values:
        errors["urgency"] = ["Choose urgent or routine."]
    if source not in Source.values:
        errors["source"] = ["Unknown source."]
    people = _people_clean(people, errors)
    concerns = _concerns_clean(concerns, errors)
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    referral = Referral.objects.create(
        agency=by.agency,
        referred_by=by.user,
        source=source,
        urgency=urgency,
        submitted_at=now,
        queue_key=f"{URGENCY_RANK[urgency]}{now:%Y%m%d%H%M%S%f}{uuid.uuid4().hex[:12]}",
        **fields,
    )
    ReferralPerson.objects.bulk_create(ReferralPerson(referral=referral, **p) for p in people)
    ReferralConcern.objects.bulk_create(
        ReferralConcern(referral=referral, outcome=outcome, descriptor=descriptor)
        for outcome, descriptor in concerns
    )
    return referral


def _household_clean(household, errors) -> dict:
    if not isinstance(household, dict):
        errors["household"] = ["Give the household's name and postcode."]
        return {}
    name = str(household.get("name") or "").strip()
    out = {"household_name": name[:200], "address": str(household.get("address") or "")[:1000]}
    if not name:
        errors["household"] = ["Give the household's name."]
    try:
        out["postcode"] = validators.postcode_normalise(str(household.get("postcode") or ""))
    except ValidationError as exc:
        errors["household"] = [f"postcode: {m}" for m in exc.messages]
    return out


def _consent_clean(consent, no_consent_reason: str, errors) -> dict:
    no_consent_reason = (no_consent_reason or "").strip()
    if consent and no_consent_reason:
        errors["consent"] = [
            "Give the family's consent or the reason for referring without it, not both."
        ]
        return {}
    if not consent:
        if not no_consent_reason:
            errors["consent"] = [
                "Record the family's consent to the referral, or why you are referring without it."
            ]
        return {"no_consent_reason": no_consent_reason}
    given_by = str(consent.get("given_by") or "").strip()
    method = consent.get("method")
    problems = []
    try:
        given_on = _date(consent.get("given_on"), what="The consent date")
    except ValidationError as exc:
        given_on = None
        problems.extend(exc.messages)
    if not given_by:
        problems.append("Say who consented.")
    if method not in ConsentMethod.values:
        problems.append("Say how: written or verbal.")
    if given_on is None:
        if not problems:
            problems.append("Say when consent was given.")
    else:
        try:
            validators.date_within(given_on, what="The consent date", ahead_days=0)
        except ValidationError as exc:
            problems.extend(exc.messages)
    if problems:
        errors["consent"] = problems
        return {}
    return {
        "consent_given_by": given_by[:200],
        "consent_method": method,
        "consent_given_on": given_on,
    }


def _date(value, *, what: str) -> date | None:
    """A date given as a date or as YYYY-MM-DD (other apps pass text)."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{what} must be a date, YYYY-MM-DD.") from None


def _people_clean(people, errors) -> list[dict]:
    if not people:
        errors["people"] = ["Name at least one person in the household."]
        return []
    out, problems = [], []
    for n, person in enumerate(people, start=1):
        fields = {k: person.get(k) for k in PERSON_FIELDS if person.get(k) not in (None, "")}
        try:
            if "date_of_birth" in fields:
                fields["date_of_birth"] = _date(fields["date_of_birth"], what="A date of birth")
            for field, normalise in (
                ("nhs_number", validators.nhs_number_normalise),
                ("upn", validators.upn_normalise),
            ):
                if fields.get(field):
                    fields[field] = normalise(fields[field])
            validators.date_within(
                fields.get("date_of_birth"),
                what="A date of birth",
                earliest=validators.EARLIEST_BIRTH_DATE,
            )
        except ValidationError as exc:
            problems.extend(f"person {n}: {m}" for m in exc.messages)
        out.append(fields)
    if problems:
        errors["people"] = problems
    return out


def _concerns_clean(concerns, errors) -> list[tuple[HeadlineOutcome, str]]:
    if not concerns:
        errors["concerns"] = ["Give at least one concern, as a headline outcome."]
        return []
    outcomes = {
        o.code: o
        for o in HeadlineOutcome.objects.filter(framework_version=CURRENT_FRAMEWORK, active=True)
    }
    out, problems = [], []
    for n, concern in enumerate(concerns, start=1):
        outcome = concern.get("outcome")
        if not isinstance(outcome, HeadlineOutcome):
            outcome = outcomes.get(outcome)
        descriptor = str(concern.get("descriptor") or "").strip()
        if outcome is None:
            problems.append(f"concern {n}: unknown outcome code {concern.get('outcome')!r}.")
        elif not descriptor:
            problems.append(f"concern {n}: describe the concern.")
        else:
            out.append((outcome, descriptor[:300]))
    if problems:
        errors["concerns"] = problems
    return out


@transaction.atomic
def referral_decide(
    *,
    referral_id: int,
    by: StaffMember,
    decision: str,
    reason: str,
    family_id: int | None = None,
    key_worker_id: int | None = None,
) -> Referral:
    """The front door's decision on a referral, once (a second: `access.StateConflict`, 409),
    with its reason: accept (a new family with `key_worker_id`; or, with `family_id`, reopen a
    closed family with `key_worker_id`, or join an open one), signpost, step up to children's
    social care, or no further action. The referrer is alerted of the decision (not the
    record).

    The referral row is locked first, then (accepting) the family's: no path locks them the
    other way round."""
    if not access.may_decide_referral(by):
        raise access.Forbidden("The early help front door decides referrals.")
    referral = Referral.objects.select_for_update().filter(id=referral_id).first()
    if referral is None:
        raise access.NoAccess
    if referral.status != ReferralStatus.SUBMITTED:
        raise access.StateConflict(
            f"Referral {referral.reference} was already decided: {referral.get_status_display()}."
        )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Give the reason for the decision."]})
    if decision not in Decision.values:
        raise ValidationError({"decision": ["Choose a decision."]})
    if decision != Decision.ACCEPT and (family_id is not None or key_worker_id is not None):
        raise ValidationError({"family": ["Only a decision to accept names a family."]})
    if decision == Decision.ACCEPT:
        referral.family = _accept(
            referral=referral,
            by=by,
            reason=reason,
            family_id=family_id,
            key_worker_id=key_worker_id,
        )
    referral.status = DECISION_STATUS[decision]
    referral.decision_reason = reason
    referral.decided_at = timezone.now()
    referral.decided_by = by.user
    referral.decided_agency = by.agency
    referral.save()
    alert_services.alerts_to_users(
        user_ids={referral.referred_by_id} - {by.user_id},
        kind=AlertKind.REFERRAL_DECIDED,
        summary=(
            f"Your referral {referral.reference} ({referral.household_name}):"
            f" {referral.get_status_display().lower()}."
        ),
        agency_id=by.agency_id,
        source_type="referral",
        source_id=referral.id,
    )
    return referral


def _accept(*, referral: Referral, by: StaffMember, reason, family_id, key_worker_id):
    people = [
        {k: getattr(p, k) for k in PERSON_FIELDS if getattr(p, k) not in (None, "")}
        for p in referral.people.all()
    ]
    concerns = [(c.outcome, c.descriptor) for c in referral.concerns.select_related("outcome")]
    text = f"referral {referral.reference} from {referral.agency.name}"
    if family_id is None:
        return case_services.family_open_on_referral(
            by=by,
            name=referral.household_name,
            postcode=referral.postcode,
            address=referral.address,
            key_worker_id=key_worker_id,
            people=people,
            concerns=concerns,
            referral_text=text,
        )
    from cases.models import Family

    if not Family.objects.filter(id=family_id).exists():
        raise ValidationError({"family": ["No such family."]})
    try:
        return case_services.family_join_referral(
            family_id=family_id,
            by=by,
            people=people,
            concerns=concerns,
            referral_text=text[0].upper() + text[1:],
            reason=reason,
            key_worker_id=key_worker_id,
        )
    except (access.NoAccess, access.Forbidden) as exc:
        raise ValidationError(
            {"family": ["Another agency leads that family: it is theirs to take."]}
        ) from exc


def family_referrals_pseudonymise(*, family) -> None:
    """The family's referrals lose their personal details with the family's own (the retention
    rule, `cases.retention.family_pseudonymise`, decision 0022): the household as the family now
    reads, each person "Person <id>" without identifiers, each concern its outcome's label, the
    texts replaced, and so the alerts about them. Kept: who referred, when, the urgency, the
    outcomes, the decision, its dates, and each person's date of birth and relationship (as the
    family's members keep theirs)."""
    _referrals_pseudonymise(
        Referral.objects.filter(family_id=family.id),
        household={
            "household_name": family.name,
            "postcode": family.postcode,
            "address": family.address,
        },
    )


def _referrals_pseudonymise(referrals, *, household: dict, people: dict | None = None) -> None:
    """`referrals` (a queryset) without their personal details: `household` (the household's
    columns), each person "Person <id>" without identifiers (and `people`, more of their
    columns), each concern its outcome's label, the free texts replaced, the alerts about them
    reduced to what they are. A constant number of UPDATEs."""
    from django.db.models import Case, CharField, OuterRef, Subquery, Value, When
    from django.db.models.functions import Cast, Concat

    from alerts.models import Alert
    from cases.models import HeadlineOutcome
    from cases.retention import REMOVED

    # The alerts about them (received, decided) quoted the household's name: one UPDATE.
    Alert.objects.filter(source_type="referral", source_id__in=referrals.values("id")).update(
        summary="A referral: its household's details removed under the retention rule."
    )
    ReferralPerson.objects.filter(referral__in=referrals).update(
        given_name=Concat(Value("Person "), Cast("id", output_field=CharField())),
        family_name="",
        nhs_number="",
        upn="",
        **(people or {}),
    )
    ReferralConcern.objects.filter(referral__in=referrals).update(
        descriptor=Subquery(
            HeadlineOutcome.objects.filter(id=OuterRef("outcome_id")).values("label")[:1]
        )
    )
    referrals.update(
        **household,
        consent_given_by=Case(When(consent_given_by="", then=Value("")), default=Value(REMOVED)),
        no_consent_reason=Case(When(no_consent_reason="", then=Value("")), default=Value(REMOVED)),
        decision_reason=Case(When(decision_reason="", then=Value("")), default=Value(REMOVED)),
    )


def referrals_unjoined_due(*, today: date, limit: int) -> list[int]:
    """Ids of up to `limit` referrals never joined to a family (signposted, stepped up, no
    further action) decided before `referral_retention_cutoff(today)` and not yet pseudonymised,
    the longest decided first. A referral still waiting for its decision is never due."""
    return list(
        _unjoined_due(today).order_by("decided_at", "id").values_list("id", flat=True)[:limit]
    )


def _unjoined_due(today: date):
    """The one definition of a referral due for pseudonymising (`referrals_unjoined_due`)."""
    return Referral.objects.filter(
        family__isnull=True,
        pseudonymised_at__isnull=True,
        decided_at__lt=datetime.combine(
            referral_retention_cutoff(today), time.min, tzinfo=timezone.get_current_timezone()
        ),
    ).exclude(status=ReferralStatus.SUBMITTED)


def referral_retention_cutoff(today: date) -> date:
    """A referral decided before this date was decided longer than `RETENTION_REFERRAL_YEARS`
    ago."""
    from cases.retention import retention_cutoff

    return retention_cutoff(today, settings.RETENTION_REFERRAL_YEARS)


@transaction.atomic
def referral_unjoined_pseudonymise(*, referral_id: int, today: date | None = None) -> bool:
    """Replace the personal details of one referral never joined to a family, due for it
    (`referrals_unjoined_due`), under its row lock, re-checked there (False when it is no longer
    due): the household "Pseudonymised household" without address or postcode, each person
    "Person <id>" without identifiers or date of birth (no family keeps it for the claims), each
    concern its outcome's label, the texts replaced, the alerts about it reduced. Kept: who
    referred, from which agency, when, the urgency, the outcomes, the decision, who made it and
    when (decision 0026). Marked `pseudonymised_at`: done once."""
    from cases.retention import HOUSEHOLD

    today = today or timezone.localdate()
    referral = Referral.objects.select_for_update().filter(id=referral_id).first()
    if referral is None or not _unjoined_due(today).filter(id=referral.id).exists():
        return False
    _referrals_pseudonymise(
        Referral.objects.filter(id=referral.id),
        household={
            "household_name": HOUSEHOLD,
            "postcode": "",
            "address": "",
            "pseudonymised_at": timezone.now(),
        },
        people={"date_of_birth": None},
    )
    return True


def referrals_unjoined_pseudonymise_due(*, today: date | None = None) -> int:
    """The periodic task's work: up to RETENTION_BATCH due referrals, one transaction each.
    Returns how many were done."""
    today = today or timezone.localdate()
    return sum(
        referral_unjoined_pseudonymise(referral_id=referral_id, today=today)
        for referral_id in referrals_unjoined_due(today=today, limit=settings.RETENTION_BATCH)
    )
