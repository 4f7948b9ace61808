"""WebSocket routes."""

from alerts.routing import websocket_urlpatterns as alert_routes

websocket_urlpatterns = [*alert_routes]
