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


# --- a service the request needs unavailable: 503, never a 500 --------------------------------

# SQLSTATE classes of a database that is down, restarting or out of room, not of a bug:
# 08 connection exception, 53 insufficient resources (too many connections, disk full),
# 57 operator intervention (shutting down, starting up, statement cancelled), 58 system error.
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57", "58")
RETRY_AFTER_S = 5
UNAVAILABLE_DETAIL = "The service is unavailable for a moment. Try again shortly."


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` says the database cannot be reached or cannot serve now (restarting, the
    connection lost, no connection free within the pool's timeout), as opposed to a fault in a
    query, which stays a 500.

    Django's `InterfaceError` (a connection already closed) always; its `OperationalError` when
    the driver's error has no SQLSTATE (psycopg: connection refused or lost, the pool's
    `PoolTimeout`) or one of UNAVAILABLE_SQLSTATE_CLASSES; on SQLite, "database is locked"."""
    from django.db import InterfaceError, OperationalError

    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if type(cause).__module__.startswith("sqlite3"):
        return "database is locked" in str(cause)
    if not type(cause).__module__.startswith(("psycopg", "psycopg_pool")):
        return False
    sqlstate = getattr(cause, "sqlstate", None)
    return sqlstate is None or sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES


def redis_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` is Redis unreachable: the sign-in throttle's counts (redis-py's
    ConnectionError or TimeoutError) or the Celery broker (kombu's OperationalError)."""
    from kombu.exceptions import OperationalError as BrokerUnavailable
    from redis.exceptions import ConnectionError as RedisDown
    from redis.exceptions import TimeoutError as RedisSlow

    return isinstance(exc, (RedisDown, RedisSlow, BrokerUnavailable))


def server_error(request, *args, **kwargs):
    """`handler500` (config/urls.py): what Django answers for an exception nothing else handled,
    raised by a view or by any middleware (the session's read, the access log's INSERT).

    The database or Redis unavailable → 503 with `Retry-After`: the API's error shape
    `{"detail", "code": "service_unavailable"}` under /api/, else the GOV.UK "service
    unavailable" page (templates/503.html). Anything else → Django's own 500 page. Neither reads
    the database nor the request's user: both are rendered with no context processors
    (decision 0024)."""
    import sys

    from django.http import HttpResponse, JsonResponse
    from django.template import loader
    from django.views import defaults

    exc = sys.exc_info()[1]
    if not (database_unavailable(exc) or redis_unavailable(exc)):
        return defaults.server_error(request, *args, **kwargs)
    if request.path_info.startswith(API_PREFIX):
        response = JsonResponse(
            {"detail": UNAVAILABLE_DETAIL, "code": "service_unavailable"}, status=503
        )
    else:
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response
