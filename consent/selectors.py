"""Reads of bases, emergency access and the disclosure history (family visibility is checked by
the caller through cases/access.py)."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.utils import timezone

from cases.models import Family
from consent.models import AccessPeriod, BasisKind, EmergencyAccess, SharingBasis


def sharing_basis_list(*, family: Family) -> QuerySet[SharingBasis]:
    return SharingBasis.objects.filter(family=family).prefetch_related("agencies", "given_by")


def sharing_basis_list_for_page(*, family: Family) -> list[SharingBasis]:
    """The family's bases as `sharing_basis_list` orders them, with who decided each
    (`decided_by`) and the agencies each covers by name as `page_agencies` ((id, name) pairs),
    in one statement: a row per basis and agency."""
    rows = (
        SharingBasis.objects.filter(family=family)
        .select_related("decided_by")
        .annotate(covered_id=F("agencies__id"), covered_name=F("agencies__name"))
        .order_by("-recorded_at", "-id", "covered_name", "covered_id")
    )
    bases: dict[int, SharingBasis] = {}
    for row in rows:
        basis = bases.setdefault(row.id, row)
        if basis is row:
            basis.page_agencies = []
        if row.covered_id is not None:
            basis.page_agencies.append((row.covered_id, row.covered_name))
    return list(bases.values())


def sharing_basis_status(basis, today=None) -> str:
    """active, awaiting_confirmation (without consent, not yet confirmed by the manager it
    names), lapsed (its review date passed unreviewed), expired or withdrawn: the reading of
    `access.sharing_basis_in_force_q` for one basis."""
    today = today or timezone.localdate()
    if basis.withdrawn_at is not None:
        return "withdrawn"
    if basis.expires_on is not None and basis.expires_on < today:
        return "expired"
    if basis.basis != BasisKind.CONSENT:
        if basis.confirmed_at is None:
            return "awaiting_confirmation"
        if basis.review_on is None or basis.review_on < today:
            return "lapsed"
    return "active"


def sharing_summary(*, family: Family, bases=None) -> dict:
    """`{status, expires_on}` for the family detail: active / awaiting_confirmation / lapsed /
    expired / withdrawn / none."""
    today = timezone.localdate()
    bases = list(family.sharing_bases.all() if bases is None else bases)
    current = [b for b in bases if sharing_basis_status(b, today) == "active"]
    if current:
        dated = [b.expires_on for b in current if b.expires_on is not None]
        undated = len(dated) < len(current)
        return {"status": "active", "expires_on": None if undated else max(dated)}
    if not bases:
        return {"status": "none", "expires_on": None}
    latest = max(bases, key=lambda b: (b.recorded_at, b.id))
    return {"status": sharing_basis_status(latest, today), "expires_on": latest.expires_on}


def access_period_list(*, family: Family) -> QuerySet[AccessPeriod]:
    return AccessPeriod.objects.filter(family=family).select_related("agency", "user", "basis")


def emergency_access_get(*, grant_id: int) -> EmergencyAccess | None:
    return EmergencyAccess.objects.select_related("family").filter(id=grant_id).first()
