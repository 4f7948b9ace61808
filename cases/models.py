from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from agencies.models import Agency

User = settings.AUTH_USER_MODEL


class HistoryAgency(models.Model):
    """A column of every history table of the family record, beside django-simple-history's own
    (`history_date`, `history_type`, `history_user`): the agency of the staff member who made
    the change. The service that writes names both (`cases.services.history_by`);
    `history_agency_set` copies the agency onto the row. Empty for the system's own writes."""

    history_agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # a record of what was, as the library keeps its other columns
        db_index=False,
        related_name="+",
    )

    class Meta:
        abstract = True


def history_agency_set(sender, instance, history_instance, **kwargs) -> None:
    """`simple_history.signals.pre_create_historical_record` (connected in `CasesConfig.ready`):
    the agency the service named on the instance goes onto its history row."""
    if isinstance(history_instance, HistoryAgency):
        history_instance.history_agency_id = getattr(instance, "_history_agency_id", None)


def field_history(*, excluded, m2m_fields=(), unindexed=()) -> HistoricalRecords:
    """The field history of one model of the family record: a history table (`Historical<Model>`,
    django-simple-history) with a row per write, written by the library's signals and carrying
    the author and their agency (`HistoryAgency`).

    `excluded`: columns not kept (decision 0018): the row's own bookkeeping, which the history
    row carries itself (`created_at`: its first `history_date`) or which changes with every
    write (`version`, `updated_at`). Indexed on the record's id and `family` (what
    `cases.selectors.family_history` reads by); the other foreign keys, listed in `unindexed`,
    are not, each index being one more write per row."""
    return HistoricalRecords(
        bases=[HistoryAgency],
        excluded_fields=list(excluded),
        m2m_fields=list(m2m_fields),
        no_db_index=list(unindexed),
    )


class FamilyStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Family(models.Model):
    reference = models.CharField(max_length=20, unique=True)
    name = models.CharField("household name", max_length=200)
    address = models.TextField(blank=True, default="")
    postcode = models.CharField(max_length=8)
    status = models.CharField(
        max_length=10, choices=FamilyStatus.choices, default=FamilyStatus.OPEN
    )
    level_of_need = models.PositiveSmallIntegerField(null=True, blank=True)
    key_worker = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="key_worker_families"
    )
    lead_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="led_families")
    opened_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    next_review_on = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = field_history(
        excluded=["version", "created_at", "updated_at"], unindexed=["key_worker", "lead_agency"]
    )

    class Meta:
        ordering = ["reference"]
        verbose_name_plural = "families"
        default_permissions = ("view", "change")
        permissions = [
            ("record_family_work", "Record contacts, interventions, needs and actions"),
            ("manage_family_sharing", "Manage the family's sharing bases"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.name}"


# The guardian grant rows on families (FamilyUserObjectPermission, FamilyGroupObjectPermission)
# are models of this app defined in cases/grants.py, which this module does not import.


class Relationship(models.TextChoices):
    PARENT = "parent", "Parent"
    CARER = "carer", "Carer"
    CHILD = "child", "Child"
    SIBLING = "sibling", "Sibling"
    GRANDPARENT = "grandparent", "Grandparent"
    PARTNER = "partner", "Partner"
    OTHER = "other", "Other"


class Person(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="members")
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    nhs_number = models.CharField(max_length=10, blank=True, default="")
    upn = models.CharField(max_length=13, blank=True, default="")
    ni_number = models.CharField(max_length=9, blank=True, default="")
    # For consent (consent app): an adult with parental responsibility, or a young person of
    # 12 or over recorded as competent to decide (a competent child's decision prevails).
    parental_responsibility = models.BooleanField(default=False)
    competent_to_consent = models.BooleanField(default=False)
    # An expectant parent: the expected date of birth of their baby (results claims count an
    # expectant parent as a dependent child does).
    expected_birth_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = field_history(excluded=["created_at"])

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}"


class Involvement(models.Model):
    """One agency (and optionally a named practitioner) on the Team Around the Family."""

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="involvements")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="involvements")
    practitioner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="involvements"
    )
    role = models.CharField(max_length=200, blank=True, default="")
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = field_history(excluded=["created_at"], unindexed=["agency", "practitioner"])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["family", "agency"],
                condition=models.Q(ended_on__isnull=True),
                name="one_active_involvement_per_agency",
            )
        ]


class HeadlineOutcome(models.Model):
    """Versioned outcome framework data (loaded by a data migration; rules are data)."""

    code = models.CharField(max_length=50)
    label = models.CharField(max_length=200)
    framework_version = models.CharField(max_length=20)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["framework_version", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["framework_version", "code"], name="outcome_code_per_version"
            )
        ]

    def __str__(self) -> str:
        return self.label


class NeedStatus(models.TextChoices):
    IDENTIFIED = "identified", "Identified"
    IN_PROGRESS = "in_progress", "In progress"
    ACHIEVED = "achieved", "Achieved"
    CLOSED = "closed", "Closed without outcome"


class Need(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="needs")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT)
    outcome = models.ForeignKey(HeadlineOutcome, on_delete=models.PROTECT)
    descriptor = models.CharField(max_length=300)
    evidence = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=20, choices=NeedStatus.choices, default=NeedStatus.IDENTIFIED
    )
    identified_on = models.DateField()
    achieved_on = models.DateField(null=True, blank=True)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Optimistic concurrency for status changes (If-Match), as for the family and plan actions.
    version = models.PositiveIntegerField(default=1, db_default=1)

    history = field_history(
        excluded=["version", "created_at"],
        unindexed=["person", "outcome", "agency", "recorded_by"],
    )

    class Meta:
        ordering = ["id"]


class Assessment(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="assessments")
    completed_on = models.DateField()
    summary = models.TextField()
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-completed_on", "-id"]


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class PlanAction(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="actions")
    description = models.TextField()
    needs = models.ManyToManyField(Need, blank=True, related_name="actions")
    owner_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    status = models.CharField(
        max_length=20, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    version = models.PositiveIntegerField(default=1)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    # The needs an action serves change with it (`services.plan_action_update`): kept with each
    # history row (a table of their own, `HistoricalPlanAction_needs`). Nothing excluded: to
    # copy the needs, the library rebuilds the action from its history row and reads excluded
    # columns back, a SELECT per write; `version` and `created_at` are kept, and not shown.
    history = field_history(
        excluded=[], m2m_fields=["needs"], unindexed=["owner_agency", "recorded_by"]
    )

    class Meta:
        ordering = ["due_on", "id"]


class Visibility(models.TextChoices):
    TEAM = "team", "Team"
    RESTRICTED = "restricted", "Restricted"


class InterventionKind(models.TextChoices):
    PARENTING = "parenting", "Parenting support"
    ATTENDANCE = "attendance", "School attendance support"
    MENTAL_HEALTH = "mental_health", "Mental health support"
    SUBSTANCE = "substance_misuse", "Substance misuse treatment"
    DOMESTIC_ABUSE = "domestic_abuse", "Domestic abuse support"
    HOUSING = "housing", "Housing support"
    EMPLOYMENT = "employment", "Employment support"
    FINANCIAL = "financial", "Financial support"
    YOUTH = "youth", "Youth work"
    SAFEGUARDING = "safeguarding", "Safeguarding"
    OTHER = "other", "Other"


class Intervention(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="interventions")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=30, choices=InterventionKind.choices)
    title = models.CharField(max_length=200)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    needs = models.ManyToManyField(Need, blank=True, related_name="interventions")
    persons = models.ManyToManyField(Person, blank=True, related_name="interventions")
    outcome = models.TextField(blank=True, default="")
    visibility = models.CharField(
        max_length=12, choices=Visibility.choices, default=Visibility.TEAM
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_on", "-id"]


class ContactMethod(models.TextChoices):
    HOME_VISIT = "home_visit", "Home visit"
    OFFICE = "office", "Office visit"
    PHONE = "phone", "Phone call"
    VIDEO = "video", "Video call"
    SCHOOL = "school", "At school"
    MESSAGE = "message", "Message or letter"
    MEETING = "meeting", "Multi-agency meeting"
    OTHER = "other", "Other"


class Contact(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="contacts")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField()
    method = models.CharField(max_length=20, choices=ContactMethod.choices)
    summary = models.TextField()
    persons = models.ManyToManyField(Person, blank=True, related_name="contacts")
    intervention = models.ForeignKey(
        Intervention, null=True, blank=True, on_delete=models.PROTECT, related_name="contacts"
    )
    visibility = models.CharField(
        max_length=12, choices=Visibility.choices, default=Visibility.TEAM
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]


class ChronologyEntry(models.Model):
    """Read model: one row per event on a family, written by the service that made the event."""

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="chronology")
    at = models.DateTimeField()
    type = models.CharField(max_length=40)
    agency = models.ForeignKey(Agency, null=True, on_delete=models.PROTECT, related_name="+")
    summary = models.CharField(max_length=300)
    object_id = models.BigIntegerField()
    visibility = models.CharField(
        max_length=12, choices=Visibility.choices, default=Visibility.TEAM
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["family", "-at", "-id"])]


class FamilyVisit(models.Model):
    """When a person last opened a family's page, and the newest chronology entry of the family
    then: the page marks the entries added since ("New"). One row per person and family."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField()
    # Chronology ids only grow: an entry is new when its id is above this (its `at` is when the
    # event happened, which may be before the visit for work recorded late).
    last_entry_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "family"], name="one_visit_per_user_family")
        ]


class ClosureReason(models.TextChoices):
    """Why a family's case was closed (a fixed list: reports count by it)."""

    OUTCOMES_MET = "outcomes_met", "Outcomes met"
    STEPPED_UP = "stepped_up", "Stepped up to children's social care"
    MOVED_AWAY = "moved_away", "Moved out of the area"
    DISENGAGED = "disengaged", "Family disengaged"
    CONSENT_WITHDRAWN = "consent_withdrawn", "Consent to early help withdrawn"
    TRANSFERRED = "transferred", "Transferred to another service"
    NO_LONGER_NEEDED = "no_longer_needed", "Support no longer needed"


class FamilyTransition(models.Model):
    """One change of a family's lifecycle state (`cases.lifecycle`): who, from which state to
    which, and why. Written by the service that made it, with its chronology entry."""

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="transitions")
    action = models.CharField(max_length=20)
    from_state = models.CharField(max_length=20)
    to_state = models.CharField(max_length=20)
    at = models.DateTimeField()
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    closure_reason = models.CharField(
        max_length=30, choices=ClosureReason.choices, blank=True, default=""
    )
    outcome_summary = models.TextField(blank=True, default="")
    from_lead_agency = models.ForeignKey(
        Agency, null=True, on_delete=models.PROTECT, related_name="+"
    )
    to_lead_agency = models.ForeignKey(
        Agency, null=True, on_delete=models.PROTECT, related_name="+"
    )
    # The early help (step-up) or social care (step-down) involvement kept on the team.
    involvement_kept = models.BooleanField(null=True)

    class Meta:
        ordering = ["-at", "-id"]


class FamilyReview(models.Model):
    """A Team Around the Family meeting: who came (by agency), what was decided, how the plan
    changed, and when the family is next reviewed (it sets `Family.next_review_on`)."""

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="reviews")
    held_on = models.DateField()
    attendees = models.ManyToManyField(Agency, related_name="+")
    decisions = models.TextField()
    plan_changes = models.TextField(blank=True, default="")
    next_review_on = models.DateField()
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-held_on", "-id"]


class ReviewReminderLeg(models.TextChoices):
    DUE = "due", "Due within a week"
    OVERDUE = "overdue", "Overdue"


class ReviewReminder(models.Model):
    """The review sweep's memory: the key worker was reminded of this review date, on this leg
    (once each: the sweep is idempotent)."""

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="+")
    review_on = models.DateField()
    leg = models.CharField(max_length=10, choices=ReviewReminderLeg.choices)
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["family", "review_on", "leg"], name="one_reminder_per_review_leg"
            )
        ]
