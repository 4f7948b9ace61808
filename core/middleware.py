"""Requests refused before any view sees them, headers every response carries, and who the
client is (the request's id, the client's address)."""

from __future__ import annotations

import ipaddress
import re
import uuid

from django.conf import settings
from django.http import JsonResponse
from django.utils.cache import patch_cache_control
from rest_framework.throttling import BaseThrottle

NUL = "\x00"


class RefuseNulMiddleware:
    """400 `{"detail", "code": "invalid_characters"}` for a NUL in the path, the query string
    (`%00`, in a name or a value) or a cookie.

    PostgreSQL's text cannot hold a NUL: one that reaches a query (`?q=` of the families list,
    the session cookie's key) raises a database error, a 500. Refused here once for every
    parameter and every view, anonymous requests included; JSON bodies are refused by the
    parser (core/parsers.py).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _has_nul(request):
            return JsonResponse(
                {
                    "detail": "Null characters are not allowed in the address or cookies.",
                    "code": "invalid_characters",
                },
                status=400,
            )
        return self.get_response(request)


def _has_nul(request) -> bool:
    if NUL in request.path_info or NUL in request.path:
        return True
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in value for value in values):
            return True
    return any(NUL in name or NUL in value for name, value in request.COOKIES.items())


class RefuseNulCookiesWebSocket:
    """The WebSocket's counterpart of `RefuseNulMiddleware` for cookies: a connection whose
    cookies (as channels' CookieMiddleware parsed them) hold a NUL is closed before the session
    is looked up (on PostgreSQL, a session key with a NUL is a database error)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        cookies = scope.get("cookies") or {}
        if any(NUL in name or NUL in value for name, value in cookies.items()):
            message = await receive()
            if message.get("type") == "websocket.connect":
                await send({"type": "websocket.close", "code": 4400})
            return None
        return await self.inner(scope, receive, send)


class PermissionsPolicyMiddleware:
    """The `Permissions-Policy` header on every response: the browser features the service never
    uses (camera, microphone, location, payment, …) turned off for its pages and anything they
    could embed. The features and their allow-lists: `settings.PERMISSIONS_POLICY` (an empty
    list: nobody)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = ", ".join(
            f"{feature}=({' '.join(allowed)})"
            for feature, allowed in getattr(settings, "PERMISSIONS_POLICY", {}).items()
        )

    def __call__(self, request):
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every response the app makes (pages, the API, downloads):
    they carry personal data, which no browser cache, shared proxy or back button may keep. A
    response that sets its own Cache-Control gets `no-store` added to it. Placed after
    WhiteNoise, so the static files it serves (no personal data) keep their long caching."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" in response.headers:
            patch_cache_control(response, no_store=True)
        else:
            response.headers["Cache-Control"] = "no-store"
        return response


# --- the request's id and the client's address ----------------------------------------------

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")


class RequestIdMiddleware:
    """One id per HTTP request, `request.request_id`, echoed in the response's `X-Request-ID`:
    the incoming `X-Request-ID` when it is well formed (8 to 64 letters, digits and `._:-`,
    as a proxy in front may set it, so its log and ours name the same request), else a new
    uuid4 in hex. The access log records it with each event."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response.headers[REQUEST_ID_HEADER] = request.request_id
        return response


def client_ident(request) -> str:
    """Who the client is, by the trusted-proxy rule (`REST_FRAMEWORK["NUM_PROXIES"]`, env
    TRUSTED_PROXY_COUNT): DRF's `get_ident`. With 0 proxies the connection's address
    (X-Forwarded-For ignored); with N, the N-th X-Forwarded-For entry from the right. The sign-in
    throttle (agencies/throttling.py) counts by it and the access log records it."""
    return BaseThrottle().get_ident(request)


def client_ip(request) -> str | None:
    """`client_ident` when it is an IP address (None when a header held something else)."""
    ident = (client_ident(request) or "").strip()
    try:
        return str(ipaddress.ip_address(ident))
    except ValueError:
        return None
