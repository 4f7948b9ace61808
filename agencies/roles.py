"""Staff roles: the names, and which of them work with case data.

What a role may do (with case data, and who manages an agency's staff) is decided in one place,
cases/access.py. Only it compares roles; other modules that
import this one only create staff with a role, or offer the roles as choices (the import-linter
contract "roles" in pyproject.toml).
"""

from django.db import models


class Role(models.TextChoices):
    PRACTITIONER = "practitioner", "Practitioner"
    KEY_WORKER = "key_worker", "Key worker"
    MANAGER = "manager", "Manager"
    AGENCY_ADMIN = "agency_admin", "Agency admin"
    # Reads the agency-wide access log and the unusual access of the families their agency
    # leads; sees no case data (not a case role).
    DPO = "dpo", "Data protection officer"
    # Uploads their agency's indicator datasets for identification (as its agency admin may);
    # sees no case data and no candidate (not a case role).
    ANALYST = "analyst", "Analyst"


# Roles that work with case data. An agency admin manages staff and a data protection officer
# reads the access log; neither sees a family.
CASE_ROLES = frozenset({Role.PRACTITIONER, Role.KEY_WORKER, Role.MANAGER})
