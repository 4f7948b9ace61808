from rest_framework import serializers

from agencies.models import PREFIX_SHOWN, Agency, AgencyKind, ApiToken, StaffMember
from agencies.roles import Role
from core.serializers import InputSerializer, OutputSerializer


class TokenRequestSerializer(InputSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=12,
        help_text=(
            "The 6-digit code of the person's authenticator app: required under production"
            " settings, and of anyone who has set up an app."
        ),
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The secret: shown this once, never again.")
    expires_at = serializers.DateTimeField(help_text="After this the token is refused (401).")


class TokenListQuerySerializer(serializers.Serializer):
    user = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text=(
            "Whose tokens: the caller's by default; agency admins may name their agency's staff,"
            " platform admins anyone (anyone else: 404)."
        ),
    )


class ApiTokenSerializer(OutputSerializer):
    """A token as listed: never its secret, only its first characters (`prefix`)."""

    prefix = serializers.SerializerMethodField()
    user = serializers.IntegerField(source="user_id", read_only=True)
    created_at = serializers.DateTimeField(source="created", read_only=True)
    expires_at = serializers.DateTimeField(source="expiry", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "prefix", "user", "created_at", "expires_at", "last_used_at"]

    def get_prefix(self, token: ApiToken) -> str:
        return token.token_key[:PREFIX_SHOWN]


class AgencySerializer(OutputSerializer):
    class Meta:
        model = Agency
        fields = ["id", "name", "kind"]


class AgencyCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=AgencyKind.choices)


class StaffCreateSerializer(InputSerializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(write_only=True, max_length=128)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150, default="")
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150, default="")
    role = serializers.ChoiceField(choices=Role.choices)


class StaffSerializer(OutputSerializer):
    id = serializers.IntegerField(source="user.id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    agency = serializers.IntegerField(source="agency_id", read_only=True)

    class Meta:
        model = StaffMember
        fields = ["id", "username", "first_name", "last_name", "role", "agency"]


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    agency = AgencySerializer(allow_null=True)
    role = serializers.CharField(allow_null=True)
