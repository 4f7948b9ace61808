"""Requests refused before any view sees them."""

from __future__ import annotations

from django.http import JsonResponse

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
