"""Reads of referrals: who sees which (cases.access `referrals_visible_q`), the front door's
queue, and the known families and people a referral may be about (front door only)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch, Q, QuerySet

from cases import access
from cases.models import FamilyStatus, Person
from referrals.models import Referral, ReferralConcern

MATCH_THRESHOLD = 30  # a family scoring less is not shown
MATCHES_SHOWN = 10


def referral_list(*, user, status: str | None = None) -> QuerySet[Referral]:
    """The referrals `user` sees, in the queue's order (urgent first, then the oldest)."""
    staff = access.case_staff(user)
    qs = Referral.objects.filter(access.referrals_visible_q(staff)).select_related("agency")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("queue_key")


def referral_get(*, user, referral_id: int) -> Referral | None:
    """One referral `user` sees, with its people and concerns; None when they do not (404)."""
    if not 0 < int(referral_id) < 2**63:  # beyond a 64-bit id: no such referral
        return None
    return (
        referral_list(user=user)
        .filter(id=referral_id)
        .prefetch_related(
            "people",
            Prefetch("concerns", queryset=ReferralConcern.objects.select_related("outcome")),
        )
        .first()
    )


@dataclass
class Match:
    family: int
    reference: str
    status: str
    score: int
    re_referral: bool  # a closed family: the household was known before
    reasons: list[str] = field(default_factory=list)


def referral_matches(*, referral: Referral) -> list[Match]:
    """Known families the referral may be about, best first: the caller has asked
    `access.sees_referral_matches` (the front door only). Each referred person is compared with
    the members of every family (identifiers, names, date of birth), and the household with the
    family (postcode, name); a family scoring `MATCH_THRESHOLD` or more is shown, with why. Two
    statements, whatever the number of families."""
    people = list(referral.people.all())
    nhs = {p.nhs_number for p in people if p.nhs_number}
    upns = {p.upn for p in people if p.upn}
    surnames = {p.family_name.lower() for p in people}
    births = {p.date_of_birth for p in people if p.date_of_birth}
    wanted = Q(pk__in=[])
    for surname in surnames:
        wanted |= Q(family_name__iexact=surname)
    if nhs:
        wanted |= Q(nhs_number__in=nhs)
    if upns:
        wanted |= Q(upn__in=upns)
    if births:
        wanted |= Q(date_of_birth__in=births)
    members = Person.objects.filter(wanted | Q(family__postcode=referral.postcode)).values(
        "family_id",
        "given_name",
        "family_name",
        "date_of_birth",
        "nhs_number",
        "upn",
        "family__reference",
        "family__status",
        "family__postcode",
        "family__name",
    )[:2000]
    found: dict[int, Match] = {}
    best: dict[int, tuple[int, list[str]]] = {}
    for member in members:
        family_id = member["family_id"]
        if family_id not in found:
            found[family_id] = _family_match(referral, member)
        score, reasons = max(
            (_person_score(p, member) for p in people), key=lambda sr: sr[0], default=(0, [])
        )
        if score > best.get(family_id, (-1, []))[0]:
            best[family_id] = (score, reasons)
    matches = []
    for family_id, match in found.items():
        score, reasons = best[family_id]
        match.score = min(100, match.score + score)
        match.reasons = reasons + match.reasons
        if match.score >= MATCH_THRESHOLD:
            matches.append(match)
    matches.sort(key=lambda m: (-m.score, m.reference))
    return matches[:MATCHES_SHOWN]


def _family_match(referral: Referral, member: dict) -> Match:
    score, reasons = 0, []
    if member["family__postcode"] == referral.postcode:
        score += 15
        reasons.append("same postcode")
    if member["family__name"].strip().lower() == referral.household_name.strip().lower():
        score += 10
        reasons.append("same household name")
    status = member["family__status"]
    return Match(
        family=member["family_id"],
        reference=member["family__reference"],
        status=status,
        score=score,
        re_referral=status == FamilyStatus.CLOSED,
        reasons=reasons,
    )


def _person_score(person, member: dict) -> tuple[int, list[str]]:
    score, reasons = 0, []
    if person.nhs_number and person.nhs_number == member["nhs_number"]:
        score += 60
        reasons.append("NHS number")
    if person.upn and person.upn == member["upn"]:
        score += 60
        reasons.append("unique pupil number")
    same_surname = person.family_name.strip().lower() == member["family_name"].strip().lower()
    same_given = person.given_name.strip().lower() == member["given_name"].strip().lower()
    if same_surname and same_given:
        score += 25
        reasons.append("same name")
    elif same_surname:
        score += 10
        reasons.append("same family name")
    if person.date_of_birth and person.date_of_birth == member["date_of_birth"]:
        score += 25
        reasons.append("same date of birth")
    return score, reasons


def referral_family_ids_visible(*, user, referrals) -> set[int]:
    """Which of the referrals' families `user` sees: a referral names its family only to them."""
    ids = {r.family_id for r in referrals if r.family_id}
    if not ids:
        return set()
    return access.visible_family_ids_among(user_id=user.id, family_ids=ids) or set()
