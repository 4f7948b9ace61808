"""One error shape for the API: field errors as DRF gives them, else {"detail", "code"}."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.exceptions import APIException
from rest_framework.views import exception_handler as drf_exception_handler


class NoAccess(Exception):
    """The caller may not (or may no longer) do this on the family: answered as 404."""


class Forbidden(Exception):
    """The caller sees the family but may not do this: answered as 403."""


class StateConflict(Exception):
    """The record's state refuses this action (e.g. work on a closed family): answered as 409."""


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The record has changed since you read it; reload and try again."
    default_code = "stale"


class PreconditionRequired(APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = "Send If-Match with the ETag you last read."
    default_code = "if_match_required"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the record's current state."
    default_code = "conflict"


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = exceptions.ValidationError({"detail": exc.messages})
    if isinstance(exc, (Http404, NoAccess)):
        exc = exceptions.NotFound()
    elif isinstance(exc, Forbidden):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, StateConflict):
        exc = Conflict(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        if not isinstance(detail, list):
            response.data = {"detail": str(detail), "code": getattr(detail, "code", "error")}
    return response


API_PREFIX = "/api/"


def not_found(request, exception=None):
    """`handler404`: an address under /api/ that no route takes (an id that is not a number,
    a path that does not exist) answers the API's 404 body in JSON, as its views do; a page's
    address, the 404 page."""
    if request.path_info.startswith(API_PREFIX):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)
