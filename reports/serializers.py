from rest_framework import serializers

from core.serializers import InputSerializer, OutputSerializer
from reports.models import ReportFormat, ReportJob, ReportKind, ReportStatus


class ReportRequestSerializer(InputSerializer):
    kind = serializers.ChoiceField(choices=ReportKind.choices)
    format = serializers.ChoiceField(choices=ReportFormat.choices)
    period_start = serializers.DateField(required=False, allow_null=True, default=None)
    period_end = serializers.DateField(required=False, allow_null=True, default=None)
    family = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**63 - 1
    )
    person = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=2**63 - 1,
        help_text="The member a subject access export is about (with their `family`).",
    )


class ReportAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ReportStatus.choices)


class ReportSerializer(OutputSerializer):
    download = serializers.SerializerMethodField()

    class Meta:
        model = ReportJob
        fields = [
            "id",
            "kind",
            "format",
            "period_start",
            "period_end",
            "family",
            "person",
            "status",
            "progress",
            "error",
            "created_at",
            "finished_at",
            "download",
        ]

    def get_download(self, obj) -> str | None:
        """The file's address once the report is done."""
        if obj.status != ReportStatus.DONE:
            return None
        return f"/api/v1/reports/{obj.id}/download/"
