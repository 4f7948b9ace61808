"""Each piece of the app that replaces a library's own way, switched back to the library's way.

`apply(piece)` runs once per process, from `LibraryWayConfig.ready()` (after every app is
loaded, before the first request). The switch rebinds names: wherever a module holds the app's
function (a `from ... import` binds it in the importing module too), it gets the library-way one
instead, and modules imported later get it from the module that defines it. The answers stay the
app's (the bench compares the JSON of both ways on the same requests before it loads them); only
how they are computed changes.

- `auth`: settings only (bench/library/settings_auth.py); nothing to switch here.
- `serializers`: `OutputSerializer.to_representation` is DRF's `Serializer.to_representation`
  (fields built per serializer, walked generically per row).
- `detail`: `cases.selectors.family_detail_prefetch` loads the same attributes with the ORM:
  the names by `select_related(...).only(...)`, the sets by `prefetch_related_objects`.
- `permissions`: `cases.access.family_permissions` and `family_with_permissions` read the grants
  through guardian's `ObjectPermissionChecker` (the user's grants and the agency group's, two
  statements) and the family by the ORM; the rule's reading of the grants is the app's
  (`access._perms_from_grants`).
"""

from __future__ import annotations

import sys


def apply(piece: str) -> None:
    switch = {
        "auth": lambda: None,
        "serializers": _serializers,
        "detail": _detail,
        "permissions": _permissions,
    }[piece]
    switch()


def _rebind(original, replacement) -> int:
    """Bind `replacement` wherever a loaded module binds `original` (by identity); how many."""
    count = 0
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for name, value in list(namespace.items()):
            if value is original:
                namespace[name] = replacement
                count += 1
    return count


def _serializers() -> None:
    from rest_framework import serializers

    from core.serializers import OutputSerializer

    OutputSerializer.to_representation = serializers.Serializer.to_representation


def _detail() -> None:
    from django.db.models import Prefetch, prefetch_related_objects

    from cases import selectors
    from cases.models import Family, Involvement, Need
    from consent.models import SharingBasis

    def family_detail_prefetch(family: Family, *, sharing_bases: bool = True) -> Family:
        names = (
            Family.objects.select_related("key_worker", "lead_agency")
            .only(
                "key_worker",
                "lead_agency",
                "key_worker__username",
                "key_worker__first_name",
                "key_worker__last_name",
                "lead_agency__name",
            )
            .get(pk=family.pk)
        )
        family.key_worker, family.lead_agency = names.key_worker, names.lead_agency
        lookups = [
            Prefetch("members", to_attr="detail_members"),
            Prefetch(
                "involvements",
                queryset=Involvement.objects.filter(ended_on__isnull=True)
                .select_related("agency", "practitioner")
                .only(
                    *[f.name for f in Involvement._meta.concrete_fields],
                    "agency__name",
                    *[f"practitioner__{n}" for n in ("username", "first_name", "last_name")],
                )
                .order_by("id"),
                to_attr="active_team",
            ),
            Prefetch(
                "needs",
                queryset=Need.objects.select_related("outcome")
                .only(
                    *[f.name for f in Need._meta.concrete_fields],
                    "outcome__code",
                    "outcome__label",
                )
                .order_by("id"),
                to_attr="detail_needs",
            ),
        ]
        if sharing_bases:
            columns = ("family", "basis", "withdrawn_at", "expires_on", "review_on")
            lookups.append(
                Prefetch(
                    "sharing_bases",
                    queryset=SharingBasis.objects.only(
                        *columns, "confirmed_at", "recorded_at"
                    ).order_by("-recorded_at", "-id"),
                    to_attr="detail_sharing_bases",
                )
            )
        prefetch_related_objects([family], *lookups)
        return family

    _rebind(selectors.family_detail_prefetch, family_detail_prefetch)


def _permissions() -> None:
    from django.contrib.auth.models import Group
    from guardian.core import ObjectPermissionChecker

    from cases import access
    from cases.models import Family

    def family_permissions(user, family: Family) -> access.FamilyPerms:
        staff = access.case_staff(user)
        if staff is None:
            return access.FamilyPerms()
        group = Group(id=staff.agency.group_id)
        rows = [(c, "group") for c in ObjectPermissionChecker(group).get_group_perms(family)]
        rows += [(c, "user") for c in ObjectPermissionChecker(user).get_user_perms(family)]
        return access._perms_from_grants(rows, staff=staff, user=user, family=family)

    def family_with_permissions(user, family_id: int):
        staff = access.case_staff(user)
        family_id = int(family_id)
        if staff is None or not 0 < family_id < 2**63:
            return None, access.FamilyPerms()
        family = Family.objects.filter(id=family_id).first()
        if family is None:
            return None, access.FamilyPerms()
        return family, family_permissions(user, family)

    _rebind(access.family_permissions, family_permissions)
    _rebind(access.family_with_permissions, family_with_permissions)
