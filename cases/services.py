"""Writes on the family record. Keyword-only, `<entity>_<action>`, atomic.

Every write that changes an input of the access rule calls `access.family_access_sync` in the
same transaction; every event writes its chronology row in the same transaction.

The family, its members, team, needs, plan actions (and, in consent, its sharing bases) keep a
field history (django-simple-history, decision 0018): every write to them here is a `save()` of
an instance whose author `history_by` named, never `QuerySet.update()` or a bulk write, which
the library's signals do not see.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from agencies.models import Agency, StaffMember
from cases import access, lifecycle, signals, validators
from cases.models import (
    ActionStatus,
    Assessment,
    ChronologyEntry,
    ClosureReason,
    Contact,
    Family,
    FamilyReview,
    FamilyStatus,
    FamilyTransition,
    HeadlineOutcome,
    Intervention,
    Involvement,
    Need,
    NeedStatus,
    Person,
    PlanAction,
    Relationship,
    ReviewReminder,
    ReviewReminderLeg,
    Visibility,
)


def history_by(obj, *, by: StaffMember):
    """`obj`, with `by` named as the author of the history row its saves write: the user
    (django-simple-history's `_history_user`) and their agency (`cases.models.HistoryAgency`,
    copied onto the row by `cases.models.history_agency_set`)."""
    obj._history_user = by.user
    obj._history_agency_id = by.agency_id
    return obj


def _create(model, *, by: StaffMember, **fields):
    """`model.objects.create(**fields)`, its history row naming `by` as the author."""
    obj = history_by(model(**fields), by=by)
    obj.save(force_insert=True)
    return obj


def _chronology_add(
    *,
    family: Family,
    at,
    type: str,
    agency_id: int | None,
    summary: str,
    object_id: int,
    visibility: str = Visibility.TEAM,
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
    visibility: str = Visibility.TEAM,
) -> None:
    """An event other agencies hear of: its chronology entry, then `signals.family_event_recorded`
    (the alerts app alerts the team, in this transaction). The chronology type and the alert
    kind are the same name.
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
    signals.family_event_recorded.send(
        sender=Family,
        family=family,
        by=by,
        kind=kind,
        agency_id=agency_id,
        summary=summary,
        source_type=source_type,
        source_id=source_id,
        visibility=visibility,
    )


def _key_worker_check(*, family: Family, user_id: int | None) -> StaffMember | None:
    """A key worker is a key_worker/manager of the lead agency or of an agency on the team."""
    if user_id is None:
        return None
    staff = StaffMember.objects.select_related("agency", "user").filter(user_id=user_id).first()
    if staff is None or not staff.user.is_active or not access.may_be_key_worker(staff):
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
    """The normalised postcode, or a field error naming `postcode` (a 400 names the field)."""
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
        raise access.Forbidden("Only key workers and managers of an early help agency.")
    return _family_new(
        by=by,
        name=name,
        postcode=postcode,
        address=address,
        key_worker_id=key_worker_id,
        level_of_need=level_of_need,
    )


def _family_new(
    *,
    by: StaffMember,
    name: str,
    postcode: str,
    address: str,
    key_worker_id: int | None,
    level_of_need: int | None = None,
    how: str = "",
) -> Family:
    """A new family led by `by`'s agency (whoever may open it decided before): the record, the
    lead agency on its team, the grants, and "family.opened" on the chronology (`how`: e.g. on
    which referral)."""
    family = history_by(
        Family(
            reference=f"TMP-{uuid.uuid4().hex[:12]}",
            name=name,
            postcode=_postcode(postcode),
            address=address,
            lead_agency=by.agency,
            level_of_need=level_of_need,
            opened_on=timezone.localdate(),
        ),
        by=by,
    )
    # The reference is made from the id: two saves, then one history row ("created") of the
    # family as it is once both are done (the temporary reference is in no history).
    family.skip_history_when_saving = True
    family.save(force_insert=True)
    family.reference = f"TA{family.id:06d}"
    if key_worker_id is None and access.takes_own_families(by):
        key_worker_id = by.user_id
    _key_worker_check(family=family, user_id=key_worker_id)
    family.key_worker_id = key_worker_id
    family.save(update_fields=["reference", "key_worker"])
    del family.skip_history_when_saving
    Family.history.bulk_history_create(
        [family], custom_historical_attrs={"history_agency_id": by.agency_id}
    )
    _create(
        Involvement,
        by=by,
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
        summary=f"Family opened by {by.agency.name}{how}",
        object_id=family.id,
    )
    return family


FAMILY_EDITABLE = {
    "name",
    "address",
    "postcode",
    "level_of_need",
    "key_worker_id",
    "next_review_on",
}


@transaction.atomic
def family_update(*, family_id: int, by: StaffMember, expected_version: int, **changes) -> Family:
    """Optimistic concurrency: the caller's version must still be current (else `StaleVersion`).

    Allocating the key worker is `access.may_allocate_key_worker`'s decision (a lead-agency
    manager, or the key worker handing over to a colleague); both key workers are alerted and
    the chronology says who changed it, from whom, to whom.
    """
    family, perms = family_and_perms_for_write(
        family_id=family_id, by=by, permission=access.CHANGE, open_only=False
    )
    if family.version != expected_version:
        raise StaleVersion()
    unknown = set(changes) - FAMILY_EDITABLE
    if "status" in unknown:  # a lifecycle transition, with its reason (cases/lifecycle.py)
        raise ValidationError({"status": ["Close or reopen the family, giving the reason."]})
    if unknown:
        raise ValidationError({k: ["This field cannot be changed."] for k in unknown})
    if "postcode" in changes:
        changes["postcode"] = _postcode(changes["postcode"])
    if changes.get("next_review_on") is not None:
        _date_field(
            "next_review_on", changes["next_review_on"], what="The next review", ahead_days=366
        )
    previous_key_worker_id = family.key_worker_id
    key_worker_changed = (
        "key_worker_id" in changes and changes["key_worker_id"] != family.key_worker_id
    )
    if key_worker_changed:
        new_key_worker = _key_worker_check(family=family, user_id=changes["key_worker_id"])
        if not access.may_allocate_key_worker(
            staff=by,
            family=family,
            perms=perms,
            new_key_worker=new_key_worker,
        ):
            raise access.Forbidden(
                "A manager of the lead agency allocates the key worker; the key worker may hand"
                " the family over to a colleague."
            )
    for field, value in changes.items():
        setattr(family, field, value)
    family.version += 1
    history_by(family, by=by).save()
    if key_worker_changed:
        _lead_practitioner_set(family=family, by=by)
        access.family_access_sync(family=family)
        _key_worker_change_record(family=family, by=by, previous_id=previous_key_worker_id)
    return family


def _lead_practitioner_set(*, family: Family, by: StaffMember) -> None:
    """The lead agency's involvement names the new key worker as its practitioner when they work
    for the lead agency, else nobody. Saved (not `QuerySet.update()`): its history row says who
    changed it."""
    lead = Involvement.objects.filter(
        family=family, agency_id=family.lead_agency_id, ended_on__isnull=True
    ).first()
    practitioner_id = (
        family.key_worker_id if _in_agency(family.key_worker_id, family.lead_agency_id) else None
    )
    if lead is not None and lead.practitioner_id != practitioner_id:
        lead.practitioner_id = practitioner_id
        history_by(lead, by=by).save(update_fields=["practitioner"])


def _key_worker_change_record(*, family: Family, by: StaffMember, previous_id: int | None) -> None:
    """The chronology entry (who, from whom, to whom), then `signals.key_worker_changed` (the
    alerts app alerts both key workers)."""
    names = _user_names({previous_id, family.key_worker_id, by.user_id})
    summary = (
        f"Key worker changed by {names[by.user_id]} ({by.agency.name}):"
        f" from {names.get(previous_id, 'nobody')} to {names.get(family.key_worker_id, 'nobody')}"
    )
    _chronology_add(
        family=family,
        at=timezone.now(),
        type="family.key_worker_changed",
        agency_id=by.agency_id,
        summary=summary,
        object_id=family.id,
    )
    signals.key_worker_changed.send(
        sender=Family, family=family, by=by, previous_id=previous_id, summary=summary
    )


def _user_names(user_ids) -> dict[int, str]:
    User = get_user_model()
    users = User.objects.filter(id__in={u for u in user_ids if u}).only(
        "id", "username", "first_name", "last_name"
    )
    return {u.id: u.get_full_name() or u.username for u in users}


def _date_field(field: str, value, *, what: str, **bounds) -> None:
    """`validators.date_within` with the error under the field's name (400 names the field)."""
    try:
        validators.date_within(value, what=what, **bounds)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc


def _in_agency(user_id: int | None, agency_id: int) -> bool:
    return (
        bool(user_id) and StaffMember.objects.filter(user_id=user_id, agency_id=agency_id).exists()
    )


# How far ahead a plan action may fall due, and an intervention start or end (planned work).
ACTION_DUE_AHEAD_DAYS = 2 * 366
INTERVENTION_AHEAD_DAYS = 366


class StaleVersion(Exception):
    """The If-Match version is no longer current."""


@transaction.atomic
def person_create(*, family: Family, by: StaffMember, **fields) -> Person:
    family = family_for_write(family_id=family.pk, by=by, permission=access.CHANGE)
    fields = _person_clean(fields)
    person = _create(Person, by=by, family=family, **fields)
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
        validators.date_within(
            fields.get("date_of_birth"),
            what="A date of birth",
            earliest=validators.EARLIEST_BIRTH_DATE,
        )
    except ValidationError as exc:
        errors["date_of_birth"] = exc.messages
    try:
        # An expected date of birth: a pregnancy lasts no more than about ten months.
        validators.date_within(
            fields.get("expected_birth_on"),
            what="An expected date of birth",
            earliest=timezone.localdate() - timedelta(days=300),
            ahead_days=300,
        )
    except ValidationError as exc:
        errors["expected_birth_on"] = exc.messages
    if errors:
        raise ValidationError(errors)
    return fields


# What `person_update` may change: the fields a member is added with (`person_create`), and the
# words the chronology names them by.
PERSON_EDITABLE = {
    "given_name": "given name",
    "family_name": "family name",
    "date_of_birth": "date of birth",
    "relationship": "relationship",
    "nhs_number": "NHS number",
    "upn": "UPN",
    "ni_number": "NI number",
    "parental_responsibility": "parental responsibility",
    "competent_to_consent": "competent to consent",
    "expected_birth_on": "expected date of birth",
}
PERSON_NAME_MAX = 100


@transaction.atomic
def person_update(*, family_id: int, person_id: int, by: StaffMember, **changes) -> Person:
    """A member's details changed, as `person_create` adds one: `access.CHANGE` re-checked under
    the family's row lock (a closed family: reopen it first, 409), the same checks (names,
    relationship, date of birth, NHS number / UPN / NI number normalised, expected date of
    birth). A member of another family does not exist here (`access.NoAccess`, 404).

    Only the fields whose value changes are checked and written (a value sent back as it is
    recorded is left alone, even a date that would no longer be accepted as new): one save, so
    one history row naming `by`, and a chronology entry naming the fields changed, not their
    values (the history keeps those). Nothing changed: nothing written. A member has no version
    column, so no If-Match (the contract asks it of families and plan actions); the row lock
    orders concurrent changes, each in the history.
    """
    family = family_for_write(family_id=family_id, by=by, permission=access.CHANGE)
    person = None
    if 0 < int(person_id) < 2**63:
        person = Person.objects.select_for_update().filter(id=person_id, family=family).first()
    if person is None:
        raise access.NoAccess
    unknown = set(changes) - set(PERSON_EDITABLE)
    if unknown:
        raise ValidationError({k: ["This field cannot be changed."] for k in sorted(unknown)})
    changes = {k: v for k, v in changes.items() if getattr(person, k) != v}
    errors: dict[str, list[str]] = {}
    for field in ("given_name", "family_name"):
        if field in changes:
            value = changes[field] if isinstance(changes[field], str) else ""
            if not value.strip():
                errors[field] = ["Enter a name."]
            elif len(value) > PERSON_NAME_MAX:
                errors[field] = [f"At most {PERSON_NAME_MAX} characters."]
    if "relationship" in changes and changes["relationship"] not in Relationship.values:
        errors["relationship"] = ["Not one of the relationships."]
    try:
        changes = _person_clean(changes)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    changed = [k for k in PERSON_EDITABLE if k in changes and getattr(person, k) != changes[k]]
    person.family = family
    if not changed:
        return person
    for field in changed:
        setattr(person, field, changes[field])
    history_by(person, by=by).save(update_fields=changed)
    what = ", ".join(PERSON_EDITABLE[k] for k in changed)
    _chronology_add(
        family=family,
        at=timezone.now(),
        type="member.updated",
        agency_id=by.agency_id,
        summary=f"{person.given_name} {person.family_name}: {what} changed",
        object_id=person.id,
    )
    return person


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
    family = family_for_write(family_id=family.pk, by=by, permission=access.CHANGE)
    if practitioner_id is not None:
        practitioner = StaffMember.objects.filter(user_id=practitioner_id).first()
        if practitioner is None or practitioner.agency_id != agency.id:
            raise ValidationError({"practitioner": ["The practitioner must work for that agency."]})
        if not access.works_with_families(practitioner):
            raise ValidationError({"practitioner": ["That user does not work with families."]})
    if Involvement.objects.filter(family=family, agency=agency, ended_on__isnull=True).exists():
        raise ValidationError({"agency": ["This agency is already on the team."]})
    involvement = _create(
        Involvement,
        by=by,
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


def family_for_write(
    *, family_id: int, by: StaffMember, permission: str, open_only: bool = True
) -> Family:
    """The family, row-locked, for a write (`family_and_perms_for_write`)."""
    return family_and_perms_for_write(
        family_id=family_id, by=by, permission=permission, open_only=open_only
    )[0]


def family_and_perms_for_write(
    *, family_id: int, by: StaffMember, permission: str, open_only: bool = True
) -> tuple[Family, access.FamilyPerms]:
    """The family, row-locked, and what `by` may do on it, once `by` is checked to still hold
    `permission` on it; with `open_only`, refused (`access.StateConflict`, 409) while the family
    is closed: work is recorded on an open family, so it is reopened first.

    Every write to a family takes this lock first, before any row of its children (bases,
    emergency grants, plan actions), and so do withdrawal, expiry and team changes: one lock
    order everywhere, and a write that waits behind a withdrawal sees the grants it left and
    is refused.

    Two statements on purpose: the lock, then the check. Folded into one (`SELECT ... FOR
    UPDATE OF family` joined to the grants), PostgreSQL re-reads only the locked row after the
    wait, not the joined grants, so a write queued behind a withdrawal saw the grants from before
    it and went through (tests/consent/test_withdrawal_race.py caught it).
    """
    family = _family_locked(family_id)
    perms = access.family_write_check(user=by.user, family=family, permission=permission)
    if open_only and family.status == FamilyStatus.CLOSED:
        raise access.StateConflict(
            f"Family {family.reference} is closed: reopen it before recording work."
        )
    return family, perms


class InvolvementConflict(access.StateConflict):
    pass


@transaction.atomic
def involvement_end(*, involvement: Involvement, by: StaffMember) -> Involvement:
    family = family_for_write(
        family_id=involvement.family_id, by=by, permission=access.CHANGE, open_only=False
    )
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
    history_by(involvement, by=by).save(update_fields=["ended_on"])
    change = access.family_access_sync(family=family)
    signals.team_left.send(sender=Family, family=family, involvement=involvement, change=change)
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
    family = family_for_write(family_id=family.pk, by=by, permission=access.RECORD)
    need = _create(
        Need,
        by=by,
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
    *,
    need_id: int,
    by: StaffMember,
    expected_version: int,
    status: str,
    achieved_on: date | None = None,
) -> Need:
    """A need's status, with optimistic concurrency (`StaleVersion`): results claims rest on it,
    so `access.may_change_need_status` decides who (the key worker and the lead agency)."""
    family_id = Need.objects.values_list("family_id", flat=True).get(id=need_id)
    family, perms = family_and_perms_for_write(family_id=family_id, by=by, permission=access.RECORD)
    if not access.may_change_need_status(perms=perms):
        raise access.Forbidden("Only the key worker and the lead agency change a need's status.")
    need = Need.objects.select_for_update().select_related("outcome").get(id=need_id)
    need.family = family
    if need.version != expected_version:
        raise StaleVersion()
    if status == NeedStatus.ACHIEVED:
        achieved_on = achieved_on or timezone.localdate()
        try:
            validators.date_not_future(achieved_on, what="The achieved date")
            validators.dates_in_order(need.identified_on, achieved_on)
        except ValidationError as exc:
            raise ValidationError({"achieved_on": exc.messages}) from exc
    elif achieved_on is not None:
        raise ValidationError({"achieved_on": ["Only an achieved need has an achieved date."]})
    need.status = status
    need.achieved_on = achieved_on if status == NeedStatus.ACHIEVED else None
    need.version += 1
    history_by(need, by=by).save(update_fields=["status", "achieved_on", "version"])
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
    family = family_for_write(family_id=family.pk, by=by, permission=access.CHANGE)
    _date_field("completed_on", completed_on, what="The completion date")
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
    status: str = ActionStatus.OPEN,
) -> PlanAction:
    family = family_for_write(family_id=family.pk, by=by, permission=access.RECORD)
    _owner_on_team(family=family, agency=owner_agency)
    _date_field("due_on", due_on, what="The due date", ahead_days=ACTION_DUE_AHEAD_DAYS)
    action = _create(
        PlanAction,
        by=by,
        family=family,
        description=description,
        owner_agency=owner_agency,
        due_on=due_on,
        status=status,
        recorded_by=by.user,
    )
    # The needs once the action exists: a second history row when there are any, its needs
    # changed from none (the history keeps an action's needs with each row).
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
    family, perms = family_and_perms_for_write(family_id=family_id, by=by, permission=access.RECORD)
    action = PlanAction.objects.select_for_update().get(id=action_id)
    action.family = family
    if not access.may_update_plan_action(
        staff=by,
        perms=perms,
        owner_agency_id=action.owner_agency_id,
    ):
        raise access.Forbidden("Only the owner agency, the key worker or the lead agency.")
    if action.version != expected_version:
        raise StaleVersion()
    needs = changes.pop("needs", None)
    if "owner_agency" in changes:
        _owner_on_team(family=action.family, agency=changes["owner_agency"])
    if "due_on" in changes:
        _date_field(
            "due_on", changes["due_on"], what="The due date", ahead_days=ACTION_DUE_AHEAD_DAYS
        )
    for field, value in changes.items():
        setattr(action, field, value)
    action.version += 1
    history_by(action, by=by)
    if needs is not None:
        # The needs first, without a history row of their own: the save below writes the one
        # row of this change, with the needs as they now are.
        action.skip_history_when_saving = True
        try:
            action.needs.set(needs)
        finally:
            del action.skip_history_when_saving
    action.save()
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
    visibility: str = Visibility.TEAM,
) -> Intervention:
    family = family_for_write(family_id=family.pk, by=by, permission=access.RECORD)
    _date_field("started_on", started_on, what="The start", ahead_days=INTERVENTION_AHEAD_DAYS)
    _date_field("ended_on", ended_on, what="The end", ahead_days=INTERVENTION_AHEAD_DAYS)
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
        if visibility == Visibility.TEAM
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
    visibility: str = Visibility.TEAM,
) -> Contact:
    family = family_for_write(family_id=family.pk, by=by, permission=access.RECORD)
    if occurred_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"occurred_at": ["A contact cannot be in the future."]})
    _date_field("occurred_at", occurred_at, what="A contact", ahead_days=1)
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
        if visibility == Visibility.TEAM
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


def family_visit_record(*, user, family: Family, last_entry_id: int) -> None:
    """Remember that `user` opened the family's page now, having seen the chronology up to
    `last_entry_id` (cases.FamilyVisit, one row per person and family)."""
    from django.db import IntegrityError

    from cases.models import FamilyVisit

    now = timezone.now()
    visits = FamilyVisit.objects.filter(user_id=user.id, family_id=family.id)
    # The update every visit but the first makes, written as SQL (the family page's own write).
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {FamilyVisit._meta.db_table} SET seen_at = %s, last_entry_id = %s"
            f" WHERE user_id = %s AND family_id = %s",
            [connection.ops.adapt_datetimefield_value(now), last_entry_id, user.id, family.id],
        )
        if cursor.rowcount:
            return
    try:
        with transaction.atomic():
            FamilyVisit.objects.create(
                user_id=user.id, family_id=family.id, seen_at=now, last_entry_id=last_entry_id
            )
    except IntegrityError:  # a visit in another tab made the row first
        visits.update(seen_at=now, last_entry_id=last_entry_id)


# --- the family's lifecycle (cases/lifecycle.py) ------------------------------------------------


def lifecycle_begin(
    *,
    family_id: int,
    by: StaffMember,
    action: str,
    expected_version: int | None = None,
    permission: str = access.CHANGE,
    authorised=None,
) -> tuple[Family, str, str]:
    """The start of every lifecycle write: the family row-locked, `by` re-checked under the
    lock (still holding `permission`: else 404; the action's predicate,
    `lifecycle.LIFECYCLE_PREDICATES`, or `authorised(family, perms)` when another rule decides: else
    403), the transition allowed from the family's state (else 409) and, when given, the
    caller's version still current (else `StaleVersion`). Returns (family, from state, to
    state)."""
    family, perms = family_and_perms_for_write(
        family_id=family_id, by=by, permission=permission, open_only=False
    )
    allowed = (
        authorised(family, perms)
        if authorised is not None
        else lifecycle.LIFECYCLE_PREDICATES[action](staff=by, family=family, perms=perms)
    )
    if not allowed:
        raise access.Forbidden(f"You may not {lifecycle.Action(action).label.lower()} here.")
    lead_kind = Agency.objects.values_list("kind", flat=True).get(id=family.lead_agency_id)
    state = lifecycle.state_of(family, lead_kind=lead_kind)
    target = lifecycle.transition_target(state, action, lead_kind=lead_kind)
    if expected_version is not None and family.version != expected_version:
        raise StaleVersion()
    return family, state, target


def _transition_record(
    *,
    family: Family,
    by: StaffMember,
    action: str,
    states: tuple[str, str],
    reason: str,
    kind: str,
    summary: str,
    change: access.GrantChange | None = None,
    **fields,
) -> FamilyTransition:
    """The transition's row, its chronology entry (who and why) and `signals.family_transitioned`
    (the alerts app alerts the team and whoever lost sight)."""
    now = timezone.now()
    transition = FamilyTransition.objects.create(
        family=family,
        action=action,
        from_state=states[0],
        to_state=states[1],
        at=now,
        by=by.user,
        agency=by.agency,
        reason=reason,
        **fields,
    )
    name = _user_names({by.user_id})[by.user_id]
    summary = f"{summary} by {name} ({by.agency.name}): {reason}"
    _chronology_add(
        family=family,
        at=now,
        type=kind,
        agency_id=by.agency_id,
        summary=summary,
        object_id=transition.id,
    )
    signals.family_transitioned.send(
        sender=Family,
        family=family,
        by=by,
        kind=kind,
        summary=summary,
        transition=transition,
        change=change or access.GrantChange(),
    )
    return transition


def _reason(value: str, field: str = "reason") -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: ["Give the reason."]})
    return value


def _family_save(family: Family, *, by: StaffMember, fields: list[str]) -> None:
    family.version += 1
    history_by(family, by=by).save(update_fields=[*fields, "version", "updated_at"])


@transaction.atomic
def family_close(
    *,
    family_id: int,
    by: StaffMember,
    reason: str,
    outcome_summary: str,
    expected_version: int | None = None,
) -> FamilyTransition:
    """Close a family: a reason from `ClosureReason` and an outcome summary. The record, its
    team and access stay as they are (the access rule does not look at the status); closed
    families are off every caseload, and no work is recorded on them until reopened."""
    family, state, target = lifecycle_begin(
        family_id=family_id, by=by, action=lifecycle.Action.CLOSE, expected_version=expected_version
    )
    if reason not in ClosureReason.values:
        raise ValidationError({"reason": ["Choose a reason from the list."]})
    outcome_summary = _reason(outcome_summary, "outcome_summary")
    family.status, family.closed_on = FamilyStatus.CLOSED, timezone.localdate()
    _family_save(family, by=by, fields=["status", "closed_on"])
    label = ClosureReason(reason).label
    return _transition_record(
        family=family,
        by=by,
        action=lifecycle.Action.CLOSE,
        states=(state, target),
        reason=label,
        kind="family.closed",
        summary="Closed",
        closure_reason=reason,
        outcome_summary=outcome_summary,
    )


@transaction.atomic
def family_reopen(
    *,
    family_id: int,
    by: StaffMember,
    reason: str,
    key_worker_id: int | None = None,
    expected_version: int | None = None,
    authorised=None,
) -> FamilyTransition:
    """Reopen a closed family, with a reason; with `key_worker_id`, a new key worker (of the
    lead agency or the team). `authorised`: another rule than `access.may_reopen_family`
    decides (a referral's decision at the front door)."""
    family, state, target = lifecycle_begin(
        family_id=family_id,
        by=by,
        action=lifecycle.Action.REOPEN,
        expected_version=expected_version,
        permission=access.VIEW if authorised is not None else access.CHANGE,
        authorised=authorised,
    )
    reason = _reason(reason)
    family.status, family.closed_on = FamilyStatus.OPEN, None
    previous_key_worker_id = family.key_worker_id
    fields = ["status", "closed_on"]
    if key_worker_id is not None and key_worker_id != family.key_worker_id:
        _key_worker_check(family=family, user_id=key_worker_id)
        family.key_worker_id = key_worker_id
        fields.append("key_worker")
    _family_save(family, by=by, fields=fields)
    change = None
    if family.key_worker_id != previous_key_worker_id:
        _lead_practitioner_set(family=family, by=by)
        change = access.family_access_sync(family=family)
        _key_worker_change_record(family=family, by=by, previous_id=previous_key_worker_id)
    return _transition_record(
        family=family,
        by=by,
        action=lifecycle.Action.REOPEN,
        states=(state, target),
        reason=reason,
        kind="family.reopened",
        summary="Reopened",
        change=change,
    )


def family_step_up(
    *,
    family_id: int,
    by: StaffMember,
    to_agency: Agency,
    reason: str,
    keep_involvement: bool = False,
    key_worker_id: int | None = None,
    expected_version: int | None = None,
) -> FamilyTransition:
    """Step a family up to children's social care (`to_agency`), a manager's decision: it
    becomes the lead agency; the early help agency's involvement ends, or stays on the team when
    `keep_involvement` (then it sees the record only under a lawful basis, as any partner);
    `key_worker_id` names the social care key worker (else the early help key worker stays only
    while their agency stays on the team). Access changes through the rule in this
    transaction."""
    return _family_step(
        action=lifecycle.Action.STEP_UP,
        family_id=family_id,
        by=by,
        to_agency=to_agency,
        reason=reason,
        keep_involvement=keep_involvement,
        key_worker_id=key_worker_id,
        expected_version=expected_version,
    )


def family_step_down(
    *,
    family_id: int,
    by: StaffMember,
    to_agency: Agency,
    reason: str,
    key_worker_id: int | None,
    keep_involvement: bool = False,
    expected_version: int | None = None,
) -> FamilyTransition:
    """Step a family down from children's social care to an early help agency (`to_agency`), a
    manager's decision: it becomes the lead agency with a key worker of its own
    (`key_worker_id`, required); social care's involvement ends, or stays on the team when
    `keep_involvement`. Access changes through the rule in this transaction."""
    return _family_step(
        action=lifecycle.Action.STEP_DOWN,
        family_id=family_id,
        by=by,
        to_agency=to_agency,
        reason=reason,
        keep_involvement=keep_involvement,
        key_worker_id=key_worker_id,
        expected_version=expected_version,
    )


# step → (who may lead after it, the error naming `to_agency`, chronology type, summary)
_STEPS = {
    lifecycle.Action.STEP_UP: (
        access.is_social_care,
        "Choose a children's social care agency.",
        "family.stepped_up",
        "Stepped up to {}",
    ),
    lifecycle.Action.STEP_DOWN: (
        access.may_lead_after_step_down,
        "Choose an early help agency.",
        "family.stepped_down",
        "Stepped down to {}",
    ),
}


@transaction.atomic
def _family_step(
    *,
    action: str,
    family_id: int,
    by: StaffMember,
    to_agency: Agency,
    reason: str,
    keep_involvement: bool,
    key_worker_id: int | None,
    expected_version: int | None,
) -> FamilyTransition:
    family, state, target = lifecycle_begin(
        family_id=family_id, by=by, action=action, expected_version=expected_version
    )
    may_lead, wrong_agency, kind, summary = _STEPS[action]
    if not may_lead(to_agency):
        raise ValidationError({"to_agency": [wrong_agency]})
    if action == lifecycle.Action.STEP_DOWN and key_worker_id is None:
        raise ValidationError({"key_worker": ["Name the early help key worker."]})
    return _lead_change(
        family=family,
        by=by,
        action=action,
        states=(state, target),
        to_agency=to_agency,
        reason=_reason(reason),
        keep_involvement=keep_involvement,
        key_worker_id=key_worker_id,
        kind=kind,
        summary=summary.format(to_agency.name),
    )


def _lead_change(
    *,
    family: Family,
    by: StaffMember,
    action: str,
    states: tuple[str, str],
    to_agency: Agency,
    reason: str,
    keep_involvement: bool,
    key_worker_id: int | None,
    kind: str,
    summary: str,
) -> FamilyTransition:
    """`to_agency` becomes the lead agency (on the team, as "Lead agency"); the previous lead's
    involvement ends unless kept; the key worker is `key_worker_id` (who must work for
    `to_agency`), else stays only while their agency is on the team. Then the grants follow the
    rule (`access.family_access_sync`), and the key worker change and the transition are
    recorded."""
    previous_lead_id = family.lead_agency_id
    if to_agency.id == previous_lead_id:
        raise ValidationError({"to_agency": ["That agency already leads the family."]})
    if key_worker_id is not None and not _in_agency(key_worker_id, to_agency.id):
        raise ValidationError({"key_worker": ["The key worker must work for that agency."]})
    today = timezone.localdate()
    active = {i.agency_id: i for i in family.involvements.filter(ended_on__isnull=True)}
    lead = active.get(to_agency.id)
    if lead is None:
        lead = _create(
            Involvement,
            by=by,
            family=family,
            agency=to_agency,
            role="Lead agency",
            started_on=today,
        )
    else:
        lead.role = "Lead agency"
        history_by(lead, by=by).save(update_fields=["role"])
    previous = active.get(previous_lead_id)
    if previous is not None:
        if keep_involvement:
            previous.role = ""
            history_by(previous, by=by).save(update_fields=["role"])
        else:
            previous.ended_on = today
            history_by(previous, by=by).save(update_fields=["ended_on"])
    previous_key_worker_id = family.key_worker_id
    family.lead_agency = to_agency
    if key_worker_id is not None:
        family.key_worker_id = key_worker_id
    elif family.key_worker_id and not keep_involvement:
        if _in_agency(family.key_worker_id, previous_lead_id):
            family.key_worker_id = None
    if family.key_worker_id is not None:
        _key_worker_check(family=family, user_id=family.key_worker_id)
    _family_save(family, by=by, fields=["lead_agency", "key_worker"])
    _lead_practitioner_set(family=family, by=by)
    change = access.family_access_sync(family=family)
    if family.key_worker_id != previous_key_worker_id:
        _key_worker_change_record(family=family, by=by, previous_id=previous_key_worker_id)
    return _transition_record(
        family=family,
        by=by,
        action=action,
        states=states,
        reason=reason,
        kind=kind,
        summary=summary,
        change=change,
        from_lead_agency_id=previous_lead_id,
        to_lead_agency=to_agency,
        involvement_kept=keep_involvement,
    )


# --- families from referrals (the referrals app decides; decision 0026) -------------------------


@transaction.atomic
def family_open_on_referral(
    *,
    by: StaffMember,
    name: str,
    postcode: str,
    address: str,
    key_worker_id: int,
    people: list[dict],
    concerns: list[tuple[HeadlineOutcome, str]],
    referral_text: str,
) -> Family:
    """A front door decision to accept a referral about a family not known: a new family led by
    the front door's agency, with its key worker, the referral's people as members and its
    concerns as needs (`referral_text`: which referral, from whom, for the chronology)."""
    if not access.may_open_family_on_referral(by):
        raise access.Forbidden("The early help front door opens families from referrals.")
    if key_worker_id is None:
        raise ValidationError({"key_worker": ["Name the key worker."]})
    family = _family_new(
        by=by,
        name=name,
        postcode=postcode,
        address=address,
        key_worker_id=key_worker_id,
        how=f" on {referral_text}",
    )
    _referral_details_add(family=family, by=by, people=people, concerns=concerns)
    return family


@transaction.atomic
def family_join_referral(
    *,
    family_id: int,
    by: StaffMember,
    people: list[dict],
    concerns: list[tuple[HeadlineOutcome, str]],
    referral_text: str,
    reason: str,
    key_worker_id: int | None = None,
) -> Family:
    """A front door decision to accept a referral about a known family: a closed one is
    reopened (with `key_worker_id`, required), an open one joined (its key worker kept); the
    front door's agency must lead it (`access.may_join_referral`). People not yet members are
    added, the concerns become needs, and the team hears of the referral."""
    family = _family_locked(family_id)

    def rule(family, perms):
        return access.may_join_referral(staff=by, family=family, perms=perms)

    if family.status == FamilyStatus.CLOSED:
        if key_worker_id is None:
            raise ValidationError({"key_worker": ["Name the key worker of the reopened family."]})
        family_reopen(
            family_id=family_id,
            by=by,
            reason=f"{referral_text}: {reason}",
            key_worker_id=key_worker_id,
            authorised=rule,
        )
    else:
        lifecycle_begin(
            family_id=family_id,
            by=by,
            action=lifecycle.Action.JOIN,
            permission=access.VIEW,
            authorised=rule,
        )
        if key_worker_id is not None and key_worker_id != family.key_worker_id:
            raise ValidationError(
                {"key_worker": ["The family has its key worker: change it on the family's page."]}
            )
    family = Family.objects.get(id=family_id)
    _referral_details_add(family=family, by=by, people=people, concerns=concerns)
    _event_record(
        family=family,
        by=by,
        at=timezone.now(),
        kind="referral.received",
        agency_id=by.agency_id,
        summary=f"{referral_text} joined to the family: {reason}",
        source_type="family",
        source_id=family.id,
    )
    return family


def _referral_details_add(*, family: Family, by: StaffMember, people: list[dict], concerns) -> None:
    """The referral's people who are not yet members (same names and date of birth), and its
    concerns as needs identified today."""
    known = {
        (p.given_name.lower(), p.family_name.lower(), p.date_of_birth)
        for p in Person.objects.filter(family=family)
    }
    for fields in people:
        key = (
            fields["given_name"].lower(),
            fields["family_name"].lower(),
            fields.get("date_of_birth"),
        )
        if key in known:
            continue
        known.add(key)
        _create(Person, by=by, family=family, **_person_clean(dict(fields)))
    for outcome, descriptor in concerns:
        _create(
            Need,
            by=by,
            family=family,
            outcome=outcome,
            descriptor=descriptor,
            identified_on=timezone.localdate(),
            agency=by.agency,
            recorded_by=by.user,
        )


# --- reviews: Team Around the Family meetings, and the sweep that reminds key workers ---------

REVIEW_AHEAD_DAYS = 366  # the next review within a year of the meeting
REVIEW_WARN_DAYS = 7  # the key worker is reminded a week before


@transaction.atomic
def review_create(
    *,
    family_id: int,
    by: StaffMember,
    held_on: date,
    attendees: list[Agency],
    decisions: str,
    next_review_on: date,
    plan_changes: str = "",
) -> FamilyReview:
    """A Team Around the Family meeting, recorded by the key worker or the lead agency
    (`access.may_record_review`) on an open family (the lifecycle's `review`: 409 when closed);
    it sets the family's next review date and the team hears of it."""
    family, _, _ = lifecycle_begin(family_id=family_id, by=by, action=lifecycle.Action.REVIEW)
    _date_field("held_on", held_on, what="The meeting")
    _date_field(
        "next_review_on", next_review_on, what="The next review", ahead_days=REVIEW_AHEAD_DAYS
    )
    if next_review_on <= held_on:
        raise ValidationError({"next_review_on": ["The next review comes after the meeting."]})
    if not attendees:
        raise ValidationError({"attendees": ["Name the agencies that came."]})
    decisions = _reason(decisions, "decisions")
    review = FamilyReview.objects.create(
        family=family,
        held_on=held_on,
        decisions=decisions,
        plan_changes=plan_changes,
        next_review_on=next_review_on,
        agency=by.agency,
        recorded_by=by.user,
    )
    review.attendees.set(attendees)
    family.next_review_on = next_review_on
    _family_save(family, by=by, fields=["next_review_on"])
    names = ", ".join(sorted(a.name for a in attendees))
    _event_record(
        family=family,
        by=by,
        at=held_on,
        kind="review.recorded",
        agency_id=by.agency_id,
        summary=f"Team Around the Family review ({names}); next review {next_review_on:%d %b %Y}",
        source_type="review",
        source_id=review.id,
    )
    return review


def review_sweep(*, now: datetime | None = None) -> dict:
    """Remind key workers of reviews: once a week before the family's next review date, and once
    when it has passed unreviewed (`ReviewReminder` remembers each, so the sweep is
    idempotent). Open families with a key worker only (`access.review_reminder_q`); a new review
    date gets reminders of its own. Each reminder in its own transaction, under the family's
    row lock, the date read again there."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    legs = (
        (ReviewReminderLeg.OVERDUE, {"next_review_on__lt": today}),
        (
            ReviewReminderLeg.DUE,
            {
                "next_review_on__gte": today,
                "next_review_on__lte": today + timedelta(days=REVIEW_WARN_DAYS),
            },
        ),
    )
    sent = {}
    for leg, when in legs:
        reminded = ReviewReminder.objects.filter(
            family_id=OuterRef("id"), review_on=OuterRef("next_review_on"), leg=leg
        )
        due = (
            Family.objects.filter(access.review_reminder_q(), **when)
            .exclude(Exists(reminded))
            .values_list("id", flat=True)
        )
        sent[leg] = sum(_review_remind(family_id=i, leg=leg, today=today, now=now) for i in due)
    return sent


@transaction.atomic
def _review_remind(*, family_id: int, leg: str, today: date, now: datetime) -> int:
    family = _family_locked(family_id)
    due = family.next_review_on
    still = Family.objects.filter(access.review_reminder_q(), id=family_id).exists()
    if not still or due is None:
        return 0
    warn_from = due - timedelta(days=REVIEW_WARN_DAYS)
    if leg == ReviewReminderLeg.OVERDUE and due >= today:
        return 0
    if leg == ReviewReminderLeg.DUE and not warn_from <= today <= due:
        return 0
    _, made = ReviewReminder.objects.get_or_create(
        family=family, review_on=due, leg=leg, defaults={"sent_at": now}
    )
    if not made:
        return 0
    signals.review_reminder.send(sender=Family, family=family, leg=leg, review_on=due)
    return 1
