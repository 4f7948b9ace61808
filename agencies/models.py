from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models.functions import Lower
from knox.models import AbstractAuthToken
from knox.settings import CONSTANTS

from agencies import roles


class AgencyKind(models.TextChoices):
    EARLY_HELP = "early_help", "Early help"
    CHILDRENS_SOCIAL_CARE = "childrens_social_care", "Children's social care"
    SCHOOL = "school", "School"
    POLICE = "police", "Police"
    HEALTH = "health", "Health"
    HOUSING = "housing", "Housing"
    JOBCENTRE = "jobcentre", "Jobcentre"
    YOUTH_JUSTICE = "youth_justice", "Youth justice"
    PROBATION = "probation", "Probation"
    SUBSTANCE_MISUSE = "substance_misuse", "Substance misuse"
    DOMESTIC_ABUSE = "domestic_abuse", "Domestic abuse"
    VOLUNTARY = "voluntary", "Voluntary sector"
    OTHER = "other", "Other"


class Agency(models.Model):
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=AgencyKind.choices)
    # Object permissions on families are granted to this group (cases/access.py).
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="agency")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "agencies"
        constraints = [
            # Names are unique whatever their case (the service checks first; this decides
            # when two creations race).
            models.UniqueConstraint(Lower("name"), name="agency_name_unique_any_case"),
        ]

    def __str__(self) -> str:
        return self.name


class StaffMember(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="staff")
    # The roles live in agencies/roles.py, imported from there only by the modules that may
    # (the import-linter contracts in pyproject.toml); this module does not re-export them.
    role = models.CharField(max_length=20, choices=roles.Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}, {self.agency})"


class ApiToken(AbstractAuthToken):
    """An API token, in django-rest-knox's store (decision 0021): the secret is shown once, when
    issued; only its SHA-512 digest is kept (`digest`), with its first characters (`token_key`:
    what the token list shows of it, and knox's own way to find it). It expires (`expiry`, the
    setting API_TOKEN_HOURS after it was issued) and can be revoked (the row deleted).

    knox's model with an integer id (the API's ids are integers; knox's key is the digest) and
    when it was last used (`last_used_at`, written at most once a minute per token:
    `agencies.authentication.TOKEN_TOUCH_INTERVAL_S`)."""

    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=CONSTANTS.DIGEST_LENGTH, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "expiry"], name="apitoken_user_expiry")]

    def __str__(self) -> str:
        return f"{self.token_key[:PREFIX_SHOWN]}… ({self.user_id})"


PREFIX_SHOWN = 8  # characters of a token shown after it was issued (of 64)
