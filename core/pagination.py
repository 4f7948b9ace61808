import binascii
from base64 import b64decode
from datetime import UTC, datetime
from urllib import parse

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.pagination import Cursor, CursorPagination


class InvalidCursor(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Invalid cursor"
    default_code = "invalid_cursor"


class CursorPage(CursorPagination):
    """`{"next", "previous", "results"}` with `?page_size=` up to 200: every API list's shape.

    A `?cursor=` that is not one this pagination could have written gets 400 `invalid_cursor`:
    not base64, not the `o`/`r`/`p` querystring inside, or a position the ordering field cannot
    take (an id that is not a number, a time that is not one, any NUL). DRF answers some of these
    404 and lets the others reach the database (a 500).
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"

    def get_page_size(self, request):
        """`?page_size=` a whole number from 1 (more than 200 gives 200); anything else is a 400
        naming it (DRF would fall back to 50 silently, accepting what the schema refuses)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw) if raw.strip().isdigit() else 0
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"A whole number from 1 (at most {self.max_page_size} are given)."
                    ]
                },
                code="invalid",
            )
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        self._queryset = queryset  # decode_cursor checks the position against its model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            querystring = b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            tokens = parse.parse_qs(querystring, keep_blank_values=True)
            offset = int(tokens.get("o", ["0"])[0])
            reverse = bool(int(tokens.get("r", ["0"])[0]))
            position = tokens.get("p", [None])[0]
        except (TypeError, ValueError, binascii.Error):
            raise InvalidCursor() from None
        if offset < 0 or (position is not None and not self.position_valid(position)):
            raise InvalidCursor()
        return Cursor(offset=min(offset, self.offset_cutoff), reverse=reverse, position=position)

    def position_valid(self, position: str) -> bool:
        """True when the ordering's first field (what DRF filters the position by) takes
        `position`: as the database would be sent it, without sending it."""
        if "\x00" in position:  # no column type takes one on PostgreSQL
            return False
        queryset = getattr(self, "_queryset", None)
        if queryset is None:
            return True
        try:
            field = queryset.model._meta.get_field(self.ordering[0].lstrip("-"))
        except FieldDoesNotExist:  # an annotation: the database decides
            return True
        try:
            value = field.get_prep_value(field.to_python(position))
            if isinstance(value, datetime) and value.tzinfo is not None:
                value.astimezone(UTC)  # past year 1..9999 once in UTC: an error
            field.get_db_prep_value(value, connections[queryset.db], prepared=True)
        except (DjangoValidationError, TypeError, ValueError, ArithmeticError):
            return False
        return True


class ChronologyPage(CursorPage):
    ordering = ("-at", "-id")


class ReferencePage(CursorPage):
    ordering = "reference"


class ReferenceDataPage(CursorPage):
    """Reference data (agencies, the outcome framework, indicator codes): the same shape as
    every API list, in the order the rows were made (oldest first)."""

    ordering = "id"
