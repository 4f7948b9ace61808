"""Referral shapes. Input serializers check shape and types; `referral_create` and
`referral_decide` decide the rest (and name the field of a 400)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.models import Relationship
from cases.serializers import UserIdField
from consent.models import ConsentMethod
from core.serializers import InputSerializer, OutputSerializer
from referrals.models import (
    Decision,
    Referral,
    ReferralConcern,
    ReferralPerson,
    Urgency,
)

# --- inputs --------------------------------------------------------------------------------------


class HouseholdSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    postcode = serializers.CharField(max_length=10)
    address = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class ReferralPersonInSerializer(serializers.Serializer):
    given_name = serializers.CharField(max_length=100)
    family_name = serializers.CharField(max_length=100)
    date_of_birth = serializers.DateField(required=False, allow_null=True, default=None)
    relationship = serializers.ChoiceField(choices=Relationship.choices)
    nhs_number = serializers.CharField(required=False, allow_blank=True, default="", max_length=20)
    upn = serializers.CharField(required=False, allow_blank=True, default="", max_length=20)


class ConcernInSerializer(serializers.Serializer):
    outcome = serializers.CharField(max_length=50, help_text="a headline outcome code")
    descriptor = serializers.CharField(max_length=300)


class ReferralConsentSerializer(serializers.Serializer):
    given_by = serializers.CharField(max_length=200)
    method = serializers.ChoiceField(choices=ConsentMethod.choices)
    given_on = serializers.DateField()


class ReferralCreateSerializer(InputSerializer):
    household = HouseholdSerializer()
    people = ReferralPersonInSerializer(many=True, max_length=30)
    concerns = ConcernInSerializer(many=True, max_length=20)
    consent = ReferralConsentSerializer(allow_null=True, required=False, default=None)
    no_consent_reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000
    )
    urgency = serializers.ChoiceField(choices=Urgency.choices)


class ReferralDecisionSerializer(InputSerializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    reason = serializers.CharField(max_length=2000)
    family = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**63 - 1
    )
    key_worker = UserIdField(required=False, allow_null=True, default=None)


# --- outputs -------------------------------------------------------------------------------------


class ReferralSerializer(OutputSerializer):
    """A referral as its agency and the front door see it: the decision, never the record
    behind it (`family` only to those who see that family)."""

    reference = serializers.CharField(read_only=True)
    agency_name = serializers.CharField(source="agency.name", read_only=True)
    family = serializers.SerializerMethodField()

    class Meta:
        model = Referral
        fields = [
            "id",
            "reference",
            "status",
            "urgency",
            "source",
            "agency",
            "agency_name",
            "household_name",
            "submitted_at",
            "decided_at",
            "decision_reason",
            "family",
        ]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_family(self, referral):
        visible = self.context.get("visible_family_ids", set())
        return referral.family_id if referral.family_id in visible else None


class ReferralPersonSerializer(OutputSerializer):
    class Meta:
        model = ReferralPerson
        fields = [
            "given_name",
            "family_name",
            "date_of_birth",
            "relationship",
            "nhs_number",
            "upn",
        ]


class ReferralConcernSerializer(OutputSerializer):
    outcome = serializers.CharField(source="outcome.code", read_only=True)
    outcome_label = serializers.CharField(source="outcome.label", read_only=True)

    class Meta:
        model = ReferralConcern
        fields = ["outcome", "outcome_label", "descriptor"]


class MatchSerializer(serializers.Serializer):
    family = serializers.IntegerField()
    reference = serializers.CharField()
    status = serializers.CharField()
    score = serializers.IntegerField()
    re_referral = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())


class ReferralDetailSerializer(ReferralSerializer):
    people = ReferralPersonSerializer(many=True, read_only=True)
    concerns = ReferralConcernSerializer(many=True, read_only=True)
    postcode = serializers.CharField(read_only=True)
    address = serializers.CharField(read_only=True)
    possible_matches = serializers.SerializerMethodField()

    class Meta(ReferralSerializer.Meta):
        fields = [
            *ReferralSerializer.Meta.fields,
            "postcode",
            "address",
            "consent_given_by",
            "consent_method",
            "consent_given_on",
            "no_consent_reason",
            "people",
            "concerns",
            "possible_matches",
        ]

    @extend_schema_field(MatchSerializer(many=True, allow_null=True))
    def get_possible_matches(self, referral):
        """For the front door only: absent (null) for anyone else."""
        matches = self.context.get("matches")
        return None if matches is None else MatchSerializer(matches, many=True).data
