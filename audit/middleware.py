"""The access log's one write per request."""

from __future__ import annotations

from audit import services


class AccessLogMiddleware:
    """Collects the access events the views add while a request runs and writes them with ONE
    INSERT once its response is ready, with that response's status: a 4xx or a 5xx as well (an
    exception in a view reaches this middleware as Django's error response). Placed right after
    `core.middleware.RequestIdMiddleware`, whose id each event carries."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not services.access_log_enabled():
            return self.get_response(request)
        services.access_events_collect(request)
        try:
            response = self.get_response(request)
        except BaseException:  # only where Django is told to propagate errors: still a 500
            services.access_events_flush(request, status_code=500)
            raise
        services.access_events_flush(request, status_code=response.status_code)
        return response
