"""ASGI entry point: HTTP through Django, WebSocket through Channels."""

import os

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain and the view run in ONE thread hop.

    Our views and every middleware in settings are synchronous. Django's ASGI handler builds the
    chain in async mode, so each middleware's `process_request` / `process_response` and the view
    cross from the event loop to the worker thread and back on their own (~13 hops a request).
    Here the chain is built in sync mode, as under WSGI, and the whole of it is one
    `sync_to_async` call (thread-sensitive, as Django calls sync views). Why, and what it saved
    per request: decision 0007.
    """

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)


django_asgi_app = SyncChainASGIHandler()

from channels.auth import AuthMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import CookieMiddleware, SessionMiddleware  # noqa: E402

from agencies.second_factor import SecondFactorWebSocket  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from core.middleware import RefuseNulCookiesWebSocket  # noqa: E402

if os.environ.get("EMBEDDED_BEAT") == "1":
    from consent.embedded import embedded_beat_start  # noqa: E402

    embedded_beat_start()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # channels' AuthMiddlewareStack, with cookies holding a NUL refused before the session
        # is read, and a session whose second factor is still to give taken as anonymous.
        "websocket": AllowedHostsOriginValidator(
            CookieMiddleware(
                RefuseNulCookiesWebSocket(
                    SessionMiddleware(
                        AuthMiddleware(SecondFactorWebSocket(URLRouter(websocket_urlpatterns)))
                    )
                )
            )
        ),
    }
)
