from rest_framework import serializers

from agencies.models import Agency
from cases.models import Person
from cases.serializers import FamilyScopedPK
from consent.models import (
    AccessPeriod,
    BasisKind,
    ConsentMethod,
    EmergencyAccess,
    Purpose,
    SharingBasis,
)
from core.serializers import InputSerializer, OutputSerializer


class SharingBasisSerializer(OutputSerializer):
    agencies = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    given_by = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    purposes = serializers.ListField(child=serializers.CharField())
    status = serializers.SerializerMethodField()

    class Meta:
        model = SharingBasis
        fields = [
            "id",
            "basis",
            "status",
            "agencies",
            "purposes",
            "given_by",
            "method",
            "special_category_condition",
            "agrees_to_early_help",
            "justification",
            "decided_by",
            "given_on",
            "expires_on",
            "review_on",
            "recorded_by",
            "recorded_at",
            "withdrawn_at",
            "withdrawn_by",
            "withdrawal_reason",
            "confirmed_at",
            "confirmed_by",
            "reviewed_at",
            "reviewed_by",
        ]

    def get_status(self, obj) -> str:
        from consent.selectors import sharing_basis_status

        return sharing_basis_status(obj)


class SharingBasisCreateSerializer(InputSerializer):
    basis = serializers.ChoiceField(choices=BasisKind.choices)
    agencies = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Agency.objects.all(), allow_empty=False
    )
    purposes = serializers.ListField(
        child=serializers.ChoiceField(choices=Purpose.choices),
        required=False,
        allow_empty=False,
        max_length=10,
    )
    given_by = FamilyScopedPK(Person, many=True, required=False, default=list)
    method = serializers.ChoiceField(
        choices=ConsentMethod.choices, required=False, allow_blank=True, default=""
    )
    expires_on = serializers.DateField(required=False, allow_null=True, default=None)
    review_on = serializers.DateField(required=False, allow_null=True, default=None)
    justification = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=5000
    )
    decided_by = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**62
    )
    special_category_condition = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200
    )
    agrees_to_early_help = serializers.BooleanField(required=False, allow_null=True, default=None)


class WithdrawSerializer(InputSerializer):
    reason = serializers.CharField(max_length=5000)


class EmergencyAccessRequestSerializer(InputSerializer):
    reason = serializers.CharField(min_length=10, max_length=5000)


class EmergencyAccessSerializer(OutputSerializer):
    class Meta:
        model = EmergencyAccess
        fields = [
            "id",
            "family",
            "user",
            "agency",
            "reason",
            "requested_at",
            "granted_at",
            "expires_at",
            "approval_required",
            "approved_by",
            "approved_at",
            "refused_at",
            "overrides_withdrawal",
            "decision",
            "review_notes",
            "reviewed_by",
            "reviewed_at",
        ]


class EmergencyAccessGrantedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.SerializerMethodField()
    expires_at = serializers.DateTimeField(allow_null=True)
    overrides_withdrawal = serializers.BooleanField()

    def get_status(self, obj) -> str:
        return "granted" if obj.expires_at is not None else "awaiting_approval"


class EmergencyApprovalSerializer(InputSerializer):
    approve = serializers.BooleanField()
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class SharingReviewSerializer(InputSerializer):
    review_on = serializers.DateField()
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class EmergencyReviewSerializer(InputSerializer):
    decision = serializers.ChoiceField(choices=EmergencyAccess.Decision.choices)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class AccessPeriodSerializer(OutputSerializer):
    agency_name = serializers.CharField(source="agency.name", read_only=True, allow_null=True)
    basis_kind = serializers.CharField(source="basis.basis", read_only=True, allow_null=True)

    class Meta:
        model = AccessPeriod
        fields = [
            "id",
            "agency",
            "agency_name",
            "user",
            "footing",
            "basis",
            "basis_kind",
            "started_at",
            "ended_at",
        ]
