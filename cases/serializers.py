"""Input and output shapes. No business rules here: services decide."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agencies.models import Agency
from cases import access
from cases.models import (
    ActionStatus,
    Assessment,
    ChronologyEntry,
    ClosureReason,
    Contact,
    ContactMethod,
    Family,
    FamilyReview,
    FamilyStatus,
    FamilyTransition,
    HeadlineOutcome,
    Intervention,
    InterventionKind,
    Involvement,
    Need,
    NeedStatus,
    Person,
    PlanAction,
    Relationship,
    Visibility,
)
from cases.selectors import outcome_list
from core.serializers import (
    InputSerializer,
    OutputSerializer,
    QuerySerializer,
    StrictInputSerializer,
)

# Ids are 64-bit at most: a larger integer is refused as input, never sent to the database
# (SQLite raises OverflowError on it, which would be a 500).
ID_MAX = 2**63 - 1


class UserIdField(serializers.IntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(**kwargs)


class AwareDateTimeField(serializers.DateTimeField):
    """A time that must carry its UTC offset: the API takes and gives times as ISO 8601 with
    their offset, never a naive local time."""

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            raise serializers.ValidationError("Give the time with its offset.", code="naive")
        return super().enforce_timezone(value)


class FamilyScopedPK(serializers.PrimaryKeyRelatedField):
    """An id that must belong to the family in the serializer's context."""

    def __init__(self, model, restricted: bool = False, **kwargs):
        self.model = model
        self.restricted = restricted
        kwargs.setdefault("queryset", model.objects.none())
        super().__init__(**kwargs)

    def get_queryset(self):
        family = self.context.get("family")
        if family is None:
            return self.model.objects.none()
        qs = self.model.objects.filter(family=family)
        if self.restricted:  # restricted entries the caller may not see do not exist for them
            qs = qs.filter(access.restricted_q(self.context["request"].user, family))
        return qs


# --- outputs -----------------------------------------------------------------------------------


class OutcomeSerializer(OutputSerializer):
    class Meta:
        model = HeadlineOutcome
        fields = ["code", "label", "framework_version"]


class PersonSerializer(OutputSerializer):
    class Meta:
        model = Person
        fields = [
            "id",
            "given_name",
            "family_name",
            "date_of_birth",
            "relationship",
            "nhs_number",
            "upn",
            "ni_number",
            "parental_responsibility",
            "competent_to_consent",
            "expected_birth_on",
        ]


class InvolvementSerializer(OutputSerializer):
    agency_name = serializers.CharField(source="agency.name", read_only=True)
    practitioner_name = serializers.SerializerMethodField()

    class Meta:
        model = Involvement
        fields = [
            "id",
            "agency",
            "agency_name",
            "practitioner",
            "practitioner_name",
            "role",
            "started_on",
            "ended_on",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_practitioner_name(self, obj) -> str | None:
        return (
            obj.practitioner.get_full_name() or obj.practitioner.username
            if obj.practitioner
            else None
        )


class NeedSerializer(OutputSerializer):
    outcome = serializers.CharField(source="outcome.code", read_only=True)
    outcome_label = serializers.CharField(source="outcome.label", read_only=True)

    class Meta:
        model = Need
        fields = [
            "id",
            "outcome",
            "outcome_label",
            "person",
            "descriptor",
            "evidence",
            "status",
            "identified_on",
            "achieved_on",
            "agency",
        ]


class SharingSummarySerializer(serializers.Serializer):
    status = serializers.CharField()
    expires_on = serializers.DateField(allow_null=True)


class FamilyListSerializer(OutputSerializer):
    key_worker_name = serializers.SerializerMethodField()
    lead_agency_name = serializers.CharField(source="lead_agency.name", read_only=True)

    class Meta:
        model = Family
        fields = [
            "id",
            "reference",
            "name",
            "postcode",
            "status",
            "level_of_need",
            "key_worker",
            "key_worker_name",
            "lead_agency",
            "lead_agency_name",
            "opened_on",
            "next_review_on",
            "version",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_key_worker_name(self, obj) -> str | None:
        user = obj.key_worker
        return (user.get_full_name() or user.username) if user else None


class FamilyDetailSerializer(FamilyListSerializer):
    # Loaded by selectors.family_detail_prefetch.
    members = PersonSerializer(many=True, read_only=True, source="detail_members")
    team = InvolvementSerializer(many=True, read_only=True, source="active_team")
    needs = NeedSerializer(many=True, read_only=True, source="detail_needs")
    sharing = serializers.SerializerMethodField()

    class Meta(FamilyListSerializer.Meta):
        fields = FamilyListSerializer.Meta.fields + [
            "address",
            "closed_on",
            "members",
            "team",
            "needs",
            "sharing",
        ]

    @extend_schema_field(SharingSummarySerializer)
    def get_sharing(self, obj) -> dict:
        from consent.selectors import sharing_summary

        return sharing_summary(family=obj, bases=getattr(obj, "detail_sharing_bases", None))


class AssessmentSerializer(OutputSerializer):
    class Meta:
        model = Assessment
        fields = ["id", "completed_on", "summary", "agency", "recorded_by", "created_at"]


class PlanActionSerializer(OutputSerializer):
    needs = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = PlanAction
        fields = [
            "id",
            "description",
            "needs",
            "owner_agency",
            "due_on",
            "status",
            "version",
            "created_at",
        ]


class InterventionSerializer(OutputSerializer):
    needs = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    persons = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    agency_name = serializers.CharField(source="agency.name", read_only=True)

    class Meta:
        model = Intervention
        fields = [
            "id",
            "agency",
            "agency_name",
            "recorded_by",
            "kind",
            "title",
            "started_on",
            "ended_on",
            "needs",
            "persons",
            "outcome",
            "visibility",
            "created_at",
        ]


class ContactSerializer(OutputSerializer):
    persons = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    agency_name = serializers.CharField(source="agency.name", read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id",
            "agency",
            "agency_name",
            "recorded_by",
            "occurred_at",
            "method",
            "summary",
            "persons",
            "intervention",
            "visibility",
            "created_at",
        ]


class ChronologySerializer(OutputSerializer):
    # Annotated by selectors.chronology_qs (a join, no Agency object per row).
    agency_name = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = ChronologyEntry
        fields = ["id", "at", "type", "agency", "agency_name", "summary", "object_id"]


class FieldChangeSerializer(serializers.Serializer):
    """One item of a family's field history (`selectors.family_history`, `selectors.FieldChange`):
    one field of one record, set or changed by one write."""

    at = serializers.DateTimeField()
    user = serializers.IntegerField(
        allow_null=True, help_text="Who made the change (a user id); empty when not recorded."
    )
    user_name = serializers.CharField(allow_null=True)
    agency = serializers.IntegerField(
        allow_null=True, help_text="The agency of whoever made the change, then."
    )
    agency_name = serializers.CharField(allow_null=True)
    object_type = serializers.CharField(
        help_text="family, member, involvement, need, plan_action or sharing_basis"
    )
    object_id = serializers.IntegerField()
    object_name = serializers.CharField(help_text="What the record is called now.")
    change = serializers.CharField(
        help_text="created (the record's first values: `old` is null), changed or deleted"
    )
    field = serializers.CharField(
        help_text="The field's name, as the record's own endpoint names it."
    )
    old = serializers.JSONField(
        allow_null=True, help_text="Ids for people, agencies, members and needs; codes for choices."
    )
    new = serializers.JSONField(allow_null=True)


# --- inputs ------------------------------------------------------------------------------------


class FamilyFilterSerializer(QuerySerializer):
    """The families list's query string: a value the schema does not offer is a 400 naming the
    filter, never silently ignored."""

    status = serializers.ChoiceField(choices=FamilyStatus.choices, required=False)
    key_worker = serializers.ChoiceField(
        choices=[("me", "me")], required=False, help_text="`me`: the families you key-work."
    )
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="reference, name or postcode",
    )


class FamilyCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=200)
    postcode = serializers.CharField(max_length=10)
    address = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
    key_worker = UserIdField(required=False, allow_null=True, default=None)
    level_of_need = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=4
    )


class FamilyUpdateSerializer(InputSerializer):
    name = serializers.CharField(max_length=200, required=False)
    postcode = serializers.CharField(max_length=10, required=False)
    address = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    level_of_need = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=4
    )
    key_worker = UserIdField(required=False, allow_null=True)
    next_review_on = serializers.DateField(required=False, allow_null=True)

    def validate(self, attrs):
        if isinstance(self.initial_data, dict) and "status" in self.initial_data:
            # The status changes by a lifecycle transition, with its reason (cases/lifecycle.py)
            raise serializers.ValidationError(
                {"status": ["Close or reopen the family (POST close/ or reopen/) with a reason."]}
            )
        return attrs


class PersonCreateSerializer(InputSerializer):
    given_name = serializers.CharField(max_length=100)
    family_name = serializers.CharField(max_length=100)
    date_of_birth = serializers.DateField(required=False, allow_null=True, default=None)
    relationship = serializers.ChoiceField(choices=Relationship.choices)
    nhs_number = serializers.CharField(required=False, allow_blank=True, default="", max_length=20)
    upn = serializers.CharField(required=False, allow_blank=True, default="", max_length=20)
    ni_number = serializers.CharField(required=False, allow_blank=True, default="", max_length=20)
    parental_responsibility = serializers.BooleanField(required=False, default=False)
    competent_to_consent = serializers.BooleanField(required=False, default=False)
    expected_birth_on = serializers.DateField(required=False, allow_null=True, default=None)


class PersonUpdateSerializer(StrictInputSerializer):
    """A member's details changed (PATCH): any of the fields a member is added with, each
    optional; a key that is not one of them is refused (400 naming it)."""

    given_name = serializers.CharField(max_length=100, required=False)
    family_name = serializers.CharField(max_length=100, required=False)
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    relationship = serializers.ChoiceField(choices=Relationship.choices, required=False)
    nhs_number = serializers.CharField(required=False, allow_blank=True, max_length=20)
    upn = serializers.CharField(required=False, allow_blank=True, max_length=20)
    ni_number = serializers.CharField(required=False, allow_blank=True, max_length=20)
    parental_responsibility = serializers.BooleanField(required=False)
    competent_to_consent = serializers.BooleanField(required=False)
    expected_birth_on = serializers.DateField(required=False, allow_null=True)


class InvolvementCreateSerializer(InputSerializer):
    agency = serializers.PrimaryKeyRelatedField(queryset=Agency.objects.all())
    practitioner = UserIdField(required=False, allow_null=True, default=None)
    role = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class OutcomeCodeField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=HeadlineOutcome.objects.all(), **kwargs)

    def get_queryset(self):
        return outcome_list()


class NeedCreateSerializer(InputSerializer):
    outcome = OutcomeCodeField()
    person = FamilyScopedPK(Person, required=False, allow_null=True, default=None)
    descriptor = serializers.CharField(max_length=300)
    evidence = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class NeedUpdateSerializer(InputSerializer):
    status = serializers.ChoiceField(choices=NeedStatus.choices)
    achieved_on = serializers.DateField(required=False, allow_null=True, default=None)


class AssessmentCreateSerializer(InputSerializer):
    completed_on = serializers.DateField()
    summary = serializers.CharField(max_length=20000)


class PlanActionCreateSerializer(InputSerializer):
    description = serializers.CharField(max_length=2000)
    needs = FamilyScopedPK(Need, many=True, required=False, default=list)
    owner_agency = serializers.PrimaryKeyRelatedField(queryset=Agency.objects.all())
    due_on = serializers.DateField()
    status = serializers.ChoiceField(
        choices=ActionStatus.choices, required=False, default=ActionStatus.OPEN
    )


class PlanActionUpdateSerializer(InputSerializer):
    description = serializers.CharField(max_length=2000, required=False)
    needs = FamilyScopedPK(Need, many=True, required=False)
    owner_agency = serializers.PrimaryKeyRelatedField(queryset=Agency.objects.all(), required=False)
    due_on = serializers.DateField(required=False)
    status = serializers.ChoiceField(choices=ActionStatus.choices, required=False)


class InterventionCreateSerializer(InputSerializer):
    kind = serializers.ChoiceField(choices=InterventionKind.choices)
    title = serializers.CharField(max_length=200)
    started_on = serializers.DateField()
    ended_on = serializers.DateField(required=False, allow_null=True, default=None)
    needs = FamilyScopedPK(Need, many=True, required=False, default=list)
    persons = FamilyScopedPK(Person, many=True, required=False, default=list)
    outcome = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    visibility = serializers.ChoiceField(
        choices=Visibility.choices, required=False, default=Visibility.TEAM
    )


class ContactCreateSerializer(InputSerializer):
    occurred_at = AwareDateTimeField()
    method = serializers.ChoiceField(choices=ContactMethod.choices)
    summary = serializers.CharField(max_length=10000)
    persons = FamilyScopedPK(Person, many=True, required=False, default=list)
    intervention = FamilyScopedPK(
        Intervention, restricted=True, required=False, allow_null=True, default=None
    )
    visibility = serializers.ChoiceField(
        choices=Visibility.choices, required=False, default=Visibility.TEAM
    )


# --- the family's lifecycle --------------------------------------------------------------------


class TransitionSerializer(OutputSerializer):
    """A lifecycle transition (`cases.lifecycle`): what the person who made it is told."""

    class Meta:
        model = FamilyTransition
        fields = [
            "id",
            "family",
            "action",
            "from_state",
            "to_state",
            "at",
            "by",
            "agency",
            "reason",
            "closure_reason",
            "outcome_summary",
            "from_lead_agency",
            "to_lead_agency",
            "involvement_kept",
        ]


class FamilyCloseSerializer(InputSerializer):
    reason = serializers.ChoiceField(choices=ClosureReason.choices)
    outcome_summary = serializers.CharField(max_length=4000)


class FamilyReopenSerializer(InputSerializer):
    reason = serializers.CharField(max_length=2000)
    key_worker = UserIdField(required=False, allow_null=True, default=None)


class FamilyStepSerializer(InputSerializer):
    to_agency = serializers.PrimaryKeyRelatedField(queryset=Agency.objects.all())
    reason = serializers.CharField(max_length=2000)
    keep_involvement = serializers.BooleanField(required=False, default=False)
    key_worker = UserIdField(required=False, allow_null=True, default=None)


class ReviewSerializer(OutputSerializer):
    class Meta:
        model = FamilyReview
        fields = [
            "id",
            "held_on",
            "attendees",
            "decisions",
            "plan_changes",
            "next_review_on",
            "agency",
            "recorded_by",
            "created_at",
        ]


class ReviewCreateSerializer(InputSerializer):
    held_on = serializers.DateField()
    attendees = serializers.PrimaryKeyRelatedField(
        queryset=Agency.objects.all(), many=True, allow_empty=False
    )
    decisions = serializers.CharField(max_length=4000)
    plan_changes = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=4000
    )
    next_review_on = serializers.DateField()
