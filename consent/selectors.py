"""Reads of bases, emergency access and the disclosure history (family visibility is checked by
the caller through cases/access.py)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from cases.models import Family
from consent.models import AccessPeriod, EmergencyAccess, SharingBasis


def sharing_basis_list(*, family: Family) -> QuerySet[SharingBasis]:
    return SharingBasis.objects.filter(family=family).prefetch_related("agencies", "given_by")


def sharing_summary(*, family: Family, bases=None) -> dict:
    """`{status, expires_on}` for the family detail: active / expired / withdrawn / none."""
    today = timezone.localdate()
    bases = list(family.sharing_bases.all() if bases is None else bases)
    current = [
        b
        for b in bases
        if b.withdrawn_at is None and (b.expires_on is None or b.expires_on >= today)
    ]
    if current:
        dated = [b.expires_on for b in current if b.expires_on is not None]
        undated = len(dated) < len(current)
        return {"status": "active", "expires_on": None if undated else max(dated)}
    if not bases:
        return {"status": "none", "expires_on": None}
    latest = max(bases, key=lambda b: (b.recorded_at, b.id))
    status = "withdrawn" if latest.withdrawn_at is not None else "expired"
    return {"status": status, "expires_on": latest.expires_on}


def access_period_list(*, family: Family) -> QuerySet[AccessPeriod]:
    return AccessPeriod.objects.filter(family=family).select_related("agency", "user", "basis")


def emergency_access_get(*, grant_id: int) -> EmergencyAccess | None:
    return EmergencyAccess.objects.select_related("family").filter(id=grant_id).first()
