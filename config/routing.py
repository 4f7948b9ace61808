"""WebSocket routes. The alerts consumer joins here (alerts issue)."""

websocket_urlpatterns: list = []
