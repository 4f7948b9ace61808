"""The guardian grant rows on families: direct-FK tables, read and written only by cases/access.py.

`cases/models.py` does not import this module, so these models can only be reached by importing
`cases.grants`, which the import-linter contract "Grants only in cases.access" (pyproject.toml)
allows to cases.access alone. Django registers them through `CasesConfig.import_models`
(cases/apps.py).
"""

from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from cases.models import Family


class FamilyUserObjectPermission(UserObjectPermissionBase):
    """Direct-FK guardian grant to a user (the key worker)."""

    content_object = models.ForeignKey(Family, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        indexes = [models.Index(fields=["user", "permission", "content_object"])]


class FamilyGroupObjectPermission(GroupObjectPermissionBase):
    """Direct-FK guardian grant to an agency's group."""

    content_object = models.ForeignKey(Family, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        indexes = [models.Index(fields=["group", "permission", "content_object"])]
