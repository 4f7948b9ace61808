"""Writes on the family record. Keyword-only, `<entity>_<action>`, atomic.

Every write that changes an input of the access rule calls `access.family_access_sync` in the
same transaction; every event writes its chronology row in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agencies.models import Agency, Role, StaffMember
from alerts import services as alert_services
from cases import access, validators
from cases.models import (
    Assessment,
    ChronologyEntry,
    Contact,
    Family,
    HeadlineOutcome,
    Intervention,
    Involvement,
    Need,
    Person,
    PlanAction,
)


def _chronology_add(
    *,
    family: Family,
    at,
    type: str,
    agency_id: int | None,
    summary: str,
    object_id: int,
    visibility: str = "team",
) -> None:
    if isinstance(at, date) and not isinstance(at, datetime):
        at = timezone.make_aware(datetime.combine(at, datetime.min.time()))
    ChronologyEntry.objects.create(
        family=family,
        at=at,
        type=type,
        agency_id=agency_id,
        summary=summary[:300],
        object_id=object_id,
        visibility=visibility,
    )


def _event_record(
    *,
    family: Family,
    by: StaffMember,
    at,
    kind: str,
    agency_id: int,
    summary: str,
    source_type: str,
    source_id: int,
    visibility: str = "team",
) -> None:
    """An event other agencies hear of: its chronology entry and its alerts, in one transaction.

    The chronology type and the alert kind are the same name; the alert's summary leads with the
    family reference (it is read outside the family's page).
    """
    _chronology_add(
        family=family,
        at=at,
        type=kind,
        agency_id=agency_id,
        summary=summary,
        object_id=source_id,
        visibility=visibility,
    )
    alert_services.alerts_for_event(
        family=family,
        kind=kind,
        agency_id=agency_id,
        author_id=by.user_id,
        summary=f"{family.reference}: {summary}",
        source_type=source_type,
        source_id=source_id,
        visibility=visibility,
    )


def _key_worker_check(*, family: Family, user_id: int | None) -> StaffMember | None:
    """A key worker is a key_worker/manager of the lead agency or of an agency on the team."""
    if user_id is None:
        return None
    staff = StaffMember.objects.select_related("agency", "user").filter(user_id=user_id).first()
    if staff is None or not staff.user.is_active or staff.role not in access.LEADING_ROLES:
        raise ValidationError(
            {"key_worker": ["The key worker must be an active key worker or manager."]}
        )
    on_team = (
        staff.agency_id == family.lead_agency_id
        or family.involvements.filter(agency_id=staff.agency_id, ended_on__isnull=True).exists()
    )
    if not on_team:
        raise ValidationError(
            {"key_worker": ["The key worker's agency must be the lead agency or on the team."]}
        )
    return staff


def _m2m_set_new(obj, name: str, values) -> None:
    """Set a many-to-many of an object created in this transaction.

    Empty: nothing to write, and the (empty) relation is primed so that rendering the response
    asks the database nothing; the object is new, so `.set([])` would only read back no rows.
    """
    values = list(values)
    if values:
        getattr(obj, name).set(values)
        return
    manager = getattr(obj, name)
    cache = obj.__dict__.setdefault("_prefetched_objects_cache", {})
    cache[manager.prefetch_cache_name] = manager.model._default_manager.none()


def _postcode(value: str) -> str:
    """The normalised postcode, or a field error naming `postcode` (API.md: 400 names the field)."""
    try:
        return validators.postcode_normalise(value)
    except ValidationError as exc:
        raise ValidationError({"postcode": exc.messages}) from exc


@transaction.atomic
def family_create(
    *,
    by: StaffMember,
    name: str,
    postcode: str,
    address: str = "",
    key_worker_id: int | None = None,
    level_of_need: int | None = None,
) -> Family:
    if not access.may_open_family(by):
        raise PermissionError(
            "Only key workers and managers of an early help agency open families."
        )
    family = Family.objects.create(
        reference=f"TMP-{uuid.uuid4().hex[:12]}",
        name=name,
        postcode=_postcode(postcode),
        address=address,
        lead_agency=by.agency,
        level_of_need=level_of_need,
        opened_on=timezone.localdate(),
    )
    family.reference = f"TA{family.id:06d}"
    if key_worker_id is None and by.role == Role.KEY_WORKER:
        key_worker_id = by.user_id
    _key_worker_check(family=family, user_id=key_worker_id)
    family.key_worker_id = key_worker_id
    family.save(update_fields=["reference", "key_worker"])
    Involvement.objects.create(
        family=family,
        agency=by.agency,
        practitioner_id=key_worker_id,
        role="Lead agency",
        started_on=family.opened_on,
    )
    access.family_access_sync(family=family)
    _chronology_add(
        family=family,
        at=timezone.now(),
        type="family.opened",
        agency_id=by.agency_id,
        summary=f"Family opened by {by.agency.name}",
        object_id=family.id,
    )
    return family


FAMILY_EDITABLE = {
    "name",
    "address",
    "postcode",
    "status",
    "level_of_need",
    "key_worker_id",
    "next_review_on",
}


@transaction.atomic
def family_update(*, family_id: int, by: StaffMember, expected_version: int, **changes) -> Family:
    """Optimistic concurrency: the caller's version must still be current (else `StaleVersion`)."""
    family = _family_for_write(family_id, by, access.CHANGE)
    if family.version != expected_version:
        raise StaleVersion()
    unknown = set(changes) - FAMILY_EDITABLE
    if unknown:
        raise ValidationError({k: ["This field cannot be changed."] for k in unknown})
    if "postcode" in changes:
        changes["postcode"] = _postcode(changes["postcode"])
    key_worker_changed = (
        "key_worker_id" in changes and changes["key_worker_id"] != family.key_worker_id
    )
    if key_worker_changed:
        _key_worker_check(family=family, user_id=changes["key_worker_id"])
    if "status" in changes and changes["status"] != family.status:
        family.closed_on = timezone.localdate() if changes["status"] == "closed" else None
    for field, value in changes.items():
        setattr(family, field, value)
    family.version += 1
    family.save()
    if key_worker_changed:
        Involvement.objects.filter(
            family=family, agency_id=family.lead_agency_id, ended_on__isnull=True
        ).update(
            practitioner_id=family.key_worker_id
            if _in_agency(family.key_worker_id, family.lead_agency_id)
            else None
        )
        access.family_access_sync(family=family)
        _chronology_add(
            family=family,
            at=timezone.now(),
            type="family.key_worker_changed",
            agency_id=by.agency_id,
            summary="Key worker changed",
            object_id=family.id,
        )
    return family


def _in_agency(user_id: int | None, agency_id: int) -> bool:
    return (
        bool(user_id) and StaffMember.objects.filter(user_id=user_id, agency_id=agency_id).exists()
    )


class StaleVersion(Exception):
    """The If-Match version is no longer current."""


@transaction.atomic
def person_create(*, family: Family, by: StaffMember, **fields) -> Person:
    family = _family_for_write(family.pk, by, access.CHANGE)
    fields = _person_clean(fields)
    person = Person.objects.create(family=family, **fields)
    _chronology_add(
        family=family,
        at=timezone.now(),
        type="member.added",
        agency_id=by.agency_id,
        summary=f"{person.given_name} {person.family_name} added ({person.relationship})",
        object_id=person.id,
    )
    return person


def _person_clean(fields: dict) -> dict:
    errors: dict[str, list[str]] = {}
    for field, normalise in (
        ("nhs_number", validators.nhs_number_normalise),
        ("upn", validators.upn_normalise),
        ("ni_number", validators.ni_number_normalise),
    ):
        if fields.get(field):
            try:
                fields[field] = normalise(fields[field])
            except ValidationError as exc:
                errors[field] = exc.messages
    try:
        validators.date_not_future(fields.get("date_of_birth"), what="A date of birth")
    except ValidationError as exc:
        errors["date_of_birth"] = exc.messages
    if errors:
        raise ValidationError(errors)
    return fields


@transaction.atomic
def involvement_create(
    *,
    family: Family,
    by: StaffMember,
    agency: Agency,
    practitioner_id: int | None = None,
    role: str = "",
) -> Involvement:
    # The rule's inputs are read under the family's row lock, not from the caller's instance:
    # a key worker changed since it was loaded must not be granted away by this sync.
    family = _family_for_write(family.pk, by, access.CHANGE)
    if practitioner_id is not None:
        practitioner = StaffMember.objects.filter(user_id=practitioner_id).first()
        if practitioner is None or practitioner.agency_id != agency.id:
            raise ValidationError({"practitioner": ["The practitioner must work for that agency."]})
        if practitioner.role not in {Role.PRACTITIONER, Role.KEY_WORKER, Role.MANAGER}:
            raise ValidationError({"practitioner": ["That user does not work with families."]})
    if Involvement.objects.filter(family=family, agency=agency, ended_on__isnull=True).exists():
        raise ValidationError({"agency": ["This agency is already on the team."]})
    involvement = Involvement.objects.create(
        family=family,
        agency=agency,
        practitioner_id=practitioner_id,
        role=role,
        started_on=timezone.localdate(),
    )
    access.family_access_sync(family=family)
    _event_record(
        family=family,
        by=by,
        at=timezone.now(),
        kind="team.joined",
        agency_id=agency.id,
        summary=f"{agency.name} joined the team",
        source_type="involvement",
        source_id=involvement.id,
    )
    return involvement


def _family_locked(family_id: int) -> Family:
    # No join: the access checks read ids; the rare writes that recompute grants load the lead
    # agency when they need it.
    return Family.objects.select_for_update().get(id=family_id)


def _family_for_write(family_id: int, by: StaffMember, permission: str) -> Family:
    """The family, row-locked, once `by` is checked to still hold `permission` on it.

    Every write to a family takes this lock, and so do withdrawal, expiry and team changes:
    a write that waits behind a withdrawal sees the grants it left and is refused.

    Two statements on purpose: the lock, then the check. Folded into one (`SELECT ... FOR
    UPDATE OF family` joined to the grants), PostgreSQL re-reads only the locked row after the
    wait, not the joined grants, so a write queued behind a withdrawal saw the grants from before
    it and went through (tests/consent/test_withdrawal_race.py caught it).
    """
    family = _family_locked(family_id)
    access.family_write_check(user=by.user, family=family, permission=permission)
    return family


class InvolvementConflict(Exception):
    pass


@transaction.atomic
def involvement_end(*, involvement: Involvement, by: StaffMember) -> Involvement:
    family = _family_for_write(involvement.family_id, by, access.CHANGE)
    involvement.refresh_from_db(fields=["ended_on"])  # a concurrent end made it 409, not twice
    if involvement.ended_on is not None:
        raise InvolvementConflict("This involvement has already ended.")
    if involvement.agency_id == family.lead_agency_id:
        raise InvolvementConflict("The lead agency stays on the team while it leads the case.")
    if family.key_worker_id and _in_agency(family.key_worker_id, involvement.agency_id):
        raise InvolvementConflict(
            "The key worker works for this agency: change the key worker first."
        )
    involvement.ended_on = timezone.localdate()
    involvement.save(update_fields=["ended_on"])
    change = access.family_access_sync(family=family)
    alert_services.alerts_access_lost(
        family=family, change=change, reason=f"{involvement.agency.name} left the team"
    )
    _chronology_add(
        family=family,
        at=timezone.now(),
        type="team.left",
        agency_id=involvement.agency_id,
        summary=f"{involvement.agency.name} left the team",
        object_id=involvement.id,
    )
    return involvement


@transaction.atomic
def need_create(
    *,
    family: Family,
    by: StaffMember,
    outcome: HeadlineOutcome,
    descriptor: str,
    person: Person | None = None,
    evidence: str = "",
) -> Need:
    family = _family_for_write(family.pk, by, access.RECORD)
    need = Need.objects.create(
        family=family,
        person=person,
        outcome=outcome,
        descriptor=descriptor,
        evidence=evidence,
        identified_on=timezone.localdate(),
        agency=by.agency,
        recorded_by=by.user,
    )
    _chronology_add(
        family=family,
        at=timezone.now(),
        type="need.identified",
        agency_id=by.agency_id,
        summary=f"Need identified: {outcome.label}",
        object_id=need.id,
    )
    return need


@transaction.atomic
def need_update(
    *, need: Need, by: StaffMember, status: str, achieved_on: date | None = None
) -> Need:
    need.family = _family_for_write(need.family_id, by, access.RECORD)
    if status == "achieved":
        achieved_on = achieved_on or timezone.localdate()
        try:
            validators.date_not_future(achieved_on, what="The achieved date")
            validators.dates_in_order(need.identified_on, achieved_on)
        except ValidationError as exc:
            raise ValidationError({"achieved_on": exc.messages}) from exc
    elif achieved_on is not None:
        raise ValidationError({"achieved_on": ["Only an achieved need has an achieved date."]})
    need.status = status
    need.achieved_on = achieved_on if status == "achieved" else None
    need.save(update_fields=["status", "achieved_on"])
    _chronology_add(
        family=need.family,
        at=timezone.now(),
        type="need.updated",
        agency_id=by.agency_id,
        summary=f"Need {need.get_status_display().lower()}: {need.outcome.label}",
        object_id=need.id,
    )
    return need


@transaction.atomic
def assessment_create(
    *, family: Family, by: StaffMember, completed_on: date, summary: str
) -> Assessment:
    family = _family_for_write(family.pk, by, access.CHANGE)
    try:
        validators.date_not_future(completed_on, what="The completion date")
    except ValidationError as exc:
        raise ValidationError({"completed_on": exc.messages}) from exc
    assessment = Assessment.objects.create(
        family=family,
        completed_on=completed_on,
        summary=summary,
        agency=by.agency,
        recorded_by=by.user,
    )
    _chronology_add(
        family=family,
        at=completed_on,
        type="assessment.completed",
        agency_id=by.agency_id,
        summary="Whole-family assessment completed",
        object_id=assessment.id,
    )
    return assessment


@transaction.atomic
def plan_action_create(
    *,
    family: Family,
    by: StaffMember,
    description: str,
    owner_agency: Agency,
    due_on: date,
    needs: list[Need],
    status: str = "open",
) -> PlanAction:
    family = _family_for_write(family.pk, by, access.RECORD)
    _owner_on_team(family=family, agency=owner_agency)
    action = PlanAction.objects.create(
        family=family,
        description=description,
        owner_agency=owner_agency,
        due_on=due_on,
        status=status,
        recorded_by=by.user,
    )
    action.needs.set(needs)
    _chronology_add(
        family=family,
        at=timezone.now(),
        type="action.added",
        agency_id=by.agency_id,
        summary=f"Plan action for {owner_agency.name}: {description}",
        object_id=action.id,
    )
    return action


def _owner_on_team(*, family: Family, agency: Agency) -> None:
    if (
        agency.id != family.lead_agency_id
        and not family.involvements.filter(agency=agency, ended_on__isnull=True).exists()
    ):
        raise ValidationError({"owner_agency": ["The owner agency must be on the team."]})


@transaction.atomic
def plan_action_update(
    *, action_id: int, by: StaffMember, expected_version: int, **changes
) -> PlanAction:
    family_id = PlanAction.objects.values_list("family_id", flat=True).get(id=action_id)
    family = _family_for_write(family_id, by, access.RECORD)
    action = PlanAction.objects.select_for_update().get(id=action_id)
    action.family = family
    if action.version != expected_version:
        raise StaleVersion()
    needs = changes.pop("needs", None)
    if "owner_agency" in changes:
        _owner_on_team(family=action.family, agency=changes["owner_agency"])
    for field, value in changes.items():
        setattr(action, field, value)
    action.version += 1
    action.save()
    if needs is not None:
        action.needs.set(needs)
    _chronology_add(
        family=action.family,
        at=timezone.now(),
        type="action.updated",
        agency_id=by.agency_id,
        summary=f"Plan action {action.get_status_display().lower()}: {action.description}",
        object_id=action.id,
    )
    return action


@transaction.atomic
def intervention_create(
    *,
    family: Family,
    by: StaffMember,
    kind: str,
    title: str,
    started_on: date,
    ended_on: date | None = None,
    needs: list[Need] = (),
    persons: list[Person] = (),
    outcome: str = "",
    visibility: str = "team",
) -> Intervention:
    family = _family_for_write(family.pk, by, access.RECORD)
    try:
        validators.dates_in_order(started_on, ended_on)
    except ValidationError as exc:
        raise ValidationError({"ended_on": exc.messages}) from exc
    intervention = Intervention.objects.create(
        family=family,
        agency=by.agency,
        recorded_by=by.user,
        kind=kind,
        title=title,
        started_on=started_on,
        ended_on=ended_on,
        outcome=outcome,
        visibility=visibility,
    )
    _m2m_set_new(intervention, "needs", needs)
    _m2m_set_new(intervention, "persons", persons)
    summary = (
        f"{by.agency.name}: {title}"
        if visibility == "team"
        else f"{by.agency.name} recorded a restricted intervention"
    )
    _event_record(
        family=family,
        by=by,
        at=started_on,
        kind="intervention.recorded",
        agency_id=by.agency_id,
        summary=summary,
        source_type="intervention",
        source_id=intervention.id,
        visibility=visibility,
    )
    return intervention


@transaction.atomic
def contact_create(
    *,
    family: Family,
    by: StaffMember,
    occurred_at: datetime,
    method: str,
    summary: str,
    persons: list[Person] = (),
    intervention: Intervention | None = None,
    visibility: str = "team",
) -> Contact:
    family = _family_for_write(family.pk, by, access.RECORD)
    if occurred_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"occurred_at": ["A contact cannot be in the future."]})
    contact = Contact.objects.create(
        family=family,
        agency=by.agency,
        recorded_by=by.user,
        occurred_at=occurred_at,
        method=method,
        summary=summary,
        intervention=intervention,
        visibility=visibility,
    )
    _m2m_set_new(contact, "persons", persons)
    text = (
        f"{by.agency.name} ({contact.get_method_display().lower()}): {summary}"
        if visibility == "team"
        else f"{by.agency.name} recorded a restricted contact"
    )
    _event_record(
        family=family,
        by=by,
        at=occurred_at,
        kind="contact.recorded",
        agency_id=by.agency_id,
        summary=text,
        source_type="contact",
        source_id=contact.id,
        visibility=visibility,
    )
    return contact
