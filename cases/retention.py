"""Retention: the personal details of families closed longer than the retention period
(`settings.RETENTION_CLOSED_YEARS`, six years by default) are replaced by the periodic task
`cases.tasks.families_pseudonymise_due`, keeping what the reports count and the audit trail
(decision 0022).

Kept: every id, code, status, date and link the reports read (outcomes, results claims, caseload:
the dates of opening and closing, of needs, actions, contacts and interventions, members' dates of
birth and expected births, relationships, agencies, staff); the access log, untouched (it holds
ids, never case content). Replaced: the household's name, address and postcode; members' names
and identifiers (NHS number, UPN, NI number); every free text of the record (need descriptors
and evidence, assessments, plan actions, interventions, contacts, chronology summaries); the same
columns in every field-history row of the family, or the old values would survive there. The
apps above cases remove their own (sharing bases' and emergency access's free text, alert
summaries, stored report files that name the family, the family's referrals, data-matching
candidates that found it) in receivers of `cases.signals.family_pseudonymised`, in the same
transaction.

A family is done once: the chronology entry `family.pseudonymised` (no personal data) marks it,
with the family's version; a family reopened and closed again since (its version moved on) is
done again once its new closure is old enough.
A family that is open, or was reopened before the run took its lock, is never touched.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time

from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, Exists, OuterRef, Subquery, Value, When
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from cases import signals
from cases.models import (
    Assessment,
    ChronologyEntry,
    Contact,
    Family,
    FamilyReview,
    FamilyStatus,
    FamilyTransition,
    HeadlineOutcome,
    Intervention,
    Need,
    Person,
    PlanAction,
)

logger = logging.getLogger(__name__)

RETENTION_EVENT = "family.pseudonymised"
# What every replaced text says (required texts; optional ones become empty).
REMOVED = "Removed under the retention rule"
HOUSEHOLD = "Pseudonymised household"
MEMBER = "Member "  # followed by the member's id: members stay apart, and no name is needed


def retention_cutoff(today: date, years: int | None = None) -> date:
    """A family closed before this date has been closed longer than the retention period: the
    date `years` (by default `RETENTION_CLOSED_YEARS`) years before `today` (28 February for a
    29 February the year lacks)."""
    years = settings.RETENTION_CLOSED_YEARS if years is None else years
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def _already_done():
    """The family's retention entry for the family as it is: the entry's `object_id` is the
    family's version the run left, which any later write to the family (a reopen first) moves
    on."""
    return ChronologyEntry.objects.filter(
        family_id=OuterRef("pk"), type=RETENTION_EVENT, object_id=OuterRef("version")
    )


def families_due(*, today: date, limit: int) -> list[int]:
    """Ids of up to `limit` families closed before `retention_cutoff(today)` and not yet
    pseudonymised as they now are (`_already_done`), the longest closed first."""
    return list(
        Family.objects.filter(status=FamilyStatus.CLOSED, closed_on__lt=retention_cutoff(today))
        .exclude(Exists(_already_done()))
        .order_by("closed_on", "id")
        .values_list("id", flat=True)[:limit]
    )


def chronology_label(entry_type: str) -> str:
    """What a chronology entry's summary becomes: its type in words ("need.identified" → "Need
    identified"), which carries no personal data."""
    return entry_type.replace(".", " ").replace("_", " ").capitalize()


def _history(model):
    return model.history.model.objects


@transaction.atomic
def family_pseudonymise(*, family_id: int, today: date | None = None) -> bool:
    """Replace the personal details of one family due for it (module docstring), under the
    family's row lock, re-checked there: a family reopened since it was chosen, or done by a
    concurrent run, is left as it is (False). A constant number of statements per family, each
    over the family's rows by an indexed column; no history row is added (the rows there are
    rewritten like the record) and no alert is sent."""
    today = today or timezone.localdate()
    family = Family.objects.select_for_update().filter(id=family_id).first()
    if (
        family is None
        or family.status != FamilyStatus.CLOSED
        or family.closed_on is None
        or family.closed_on >= retention_cutoff(today)
        or Family.objects.filter(id=family.id).filter(Exists(_already_done())).exists()
    ):
        return False

    # The household. Its version moves on, so an edit begun before (If-Match) is refused (412).
    household = {"name": HOUSEHOLD, "address": "", "postcode": ""}
    version = family.version + 1
    Family.objects.filter(id=family.id).update(
        **household, version=version, updated_at=timezone.now()
    )
    _history(Family).filter(id=family.id).update(**household)

    member = {
        "given_name": Concat(Value(MEMBER), Cast("id", CharField())),
        "family_name": "",
        "nhs_number": "",
        "upn": "",
        "ni_number": "",
    }
    Person.objects.filter(family_id=family.id).update(**member)
    _history(Person).filter(family_id=family.id).update(**member)

    need = {
        # The headline outcome's label: what the need was about, without the worker's words.
        "descriptor": Subquery(
            HeadlineOutcome.objects.filter(id=OuterRef("outcome_id")).values("label")[:1]
        ),
        "evidence": "",
    }
    Need.objects.filter(family_id=family.id).update(**need)
    _history(Need).filter(family_id=family.id).update(**need)

    PlanAction.objects.filter(family_id=family.id).update(description=REMOVED)
    _history(PlanAction).filter(family_id=family.id).update(description=REMOVED)
    Assessment.objects.filter(family_id=family.id).update(summary=REMOVED)
    Intervention.objects.filter(family_id=family.id).update(title=REMOVED, outcome="")
    Contact.objects.filter(family_id=family.id).update(summary=REMOVED)
    FamilyTransition.objects.filter(family_id=family.id).update(reason=REMOVED, outcome_summary="")
    FamilyReview.objects.filter(family_id=family.id).update(decisions=REMOVED, plan_changes="")

    # Each entry's summary becomes its type in words (the run's own entries keep theirs).
    entries = ChronologyEntry.objects.filter(family_id=family.id).exclude(type=RETENTION_EVENT)
    types = list(entries.order_by("type").values_list("type", flat=True).distinct())
    if types:
        entries.update(
            summary=Case(
                *(When(type=t, then=Value(chronology_label(t))) for t in types),
                output_field=CharField(),
            )
        )

    years = settings.RETENTION_CLOSED_YEARS
    ChronologyEntry.objects.create(
        family=family,
        at=timezone.make_aware(datetime.combine(today, time.min)),
        type=RETENTION_EVENT,
        agency=None,  # the system's own act
        summary=f"Personal details removed: closed more than {years} years",
        object_id=version,  # the mark: done for the family as it now is (`_already_done`)
    )
    family.refresh_from_db()
    # consent, alerts, reports, referrals and identification remove their own (their receivers),
    # in this transaction.
    signals.family_pseudonymised.send(sender=Family, family=family)
    return True


def families_pseudonymise_due(*, today: date | None = None, limit: int | None = None) -> int:
    """One run of the periodic task: up to `limit` (`RETENTION_BATCH`) families due, each in its
    own transaction (one family's failure leaves the others done, and it is tried at the next
    run). Returns how many were pseudonymised; logs the count, never a name."""
    today = today or timezone.localdate()
    limit = settings.RETENTION_BATCH if limit is None else limit
    done = 0
    for family_id in families_due(today=today, limit=limit):
        try:
            done += family_pseudonymise(family_id=family_id, today=today)
        except Exception:
            logger.exception("retention: family id %s failed; tried again next run", family_id)
    if done:
        logger.info("retention: %d families pseudonymised", done)
    return done
