"""Identification's API shapes: input checked here, output as the partner contract says."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import InputSerializer
from identification.models import Candidate, Dataset, Decision, LegalGateway, MatchRun


class IndicatorSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    outcome = serializers.CharField(source="outcome.code")
    framework_version = serializers.CharField(source="framework.version")


class DatasetUploadSerializer(InputSerializer):
    file = serializers.FileField()
    legal_gateway = serializers.ChoiceField(choices=LegalGateway.choices)
    # Optional (the API contract has none): services.DEFAULT_PURPOSE is recorded without it.
    purpose = serializers.CharField(max_length=2000, required=False)
    observed_from = serializers.DateField()
    observed_to = serializers.DateField()


class DatasetSerializer(serializers.ModelSerializer):
    agency = serializers.CharField(source="agency.name")

    class Meta:
        model = Dataset
        fields = [
            "id",
            "agency",
            "rows",
            "legal_gateway",
            "purpose",
            "observed_from",
            "observed_to",
            "uploaded_at",
            "delete_after",
            "raw_deleted_at",
        ]


class RunRequestSerializer(InputSerializer):
    threshold = serializers.FloatField(required=False, min_value=0.5, max_value=0.9999)


class RunStartedSerializer(serializers.Serializer):
    """The answer to starting a run (202): its id and status; progress at `runs/{id}/`."""

    id = serializers.IntegerField()
    status = serializers.CharField()


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = MatchRun
        fields = [
            "id",
            "status",
            "progress",
            "threshold",
            "records",
            "links",
            "persons",
            "households",
            "candidates",
            "error",
            "created_at",
            "finished_at",
        ]


class MemberSerializer(serializers.Serializer):
    given_name = serializers.CharField()
    family_name = serializers.CharField()
    date_of_birth = serializers.DateField(allow_null=True)


class CandidateIndicatorSerializer(serializers.Serializer):
    source_agency = serializers.CharField()
    indicator = serializers.CharField()
    label = serializers.CharField()
    outcome = serializers.CharField()
    observed_on = serializers.DateField(allow_null=True)
    person = serializers.CharField()
    source_record_id = serializers.CharField()
    match_weight = serializers.FloatField(allow_null=True)


class LinkSerializer(serializers.Serializer):
    person = serializers.CharField()
    sources = serializers.ListField(child=serializers.CharField())
    match_weight = serializers.FloatField()
    match_probability = serializers.FloatField()
    fields = serializers.DictField(child=serializers.FloatField())


class KnownFamilySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    status = serializers.CharField()


class CandidateSerializer(serializers.ModelSerializer):
    known_family = serializers.SerializerMethodField()
    indicators = serializers.SerializerMethodField()
    members = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Candidate
        fields = [
            "id",
            "run",
            "rank",
            "score",
            "household",
            "name",
            "postcode",
            "address",
            "outcomes",
            "members",
            "indicators",
            "links",
            "known_family",
            "decision",
            "reason",
            "decided_at",
            "referral",
            "version",
        ]

    @extend_schema_field(KnownFamilySerializer(allow_null=True))
    def get_known_family(self, obj):
        family = obj.known_family
        if family is None:
            return None
        return {"id": family.id, "reference": family.reference, "status": family.status}

    @extend_schema_field(CandidateIndicatorSerializer(many=True))
    def get_indicators(self, obj):
        return obj.explanation.get("indicators", [])

    @extend_schema_field(MemberSerializer(many=True))
    def get_members(self, obj):
        return obj.explanation.get("members", [])

    @extend_schema_field(LinkSerializer(many=True))
    def get_links(self, obj):
        return obj.explanation.get("links", [])


class DecisionSerializer(InputSerializer):
    # The model's choices (one enum in the schema); "pending" is refused by the service.
    decision = serializers.ChoiceField(choices=Decision.choices)
    reason = serializers.CharField(max_length=2000)
    version = serializers.IntegerField(required=False)


class DecisionResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    decision = serializers.CharField()
    referral = serializers.IntegerField(allow_null=True)  # the referral "refer" made
    version = serializers.IntegerField()


class UploadErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    field = serializers.CharField()
    message = serializers.CharField()


class UploadResultSerializer(serializers.Serializer):
    """201: the dataset loaded (`errors` empty); 400: nothing loaded, every error by row."""

    id = serializers.IntegerField()
    rows = serializers.IntegerField()
    errors = UploadErrorSerializer(many=True)
