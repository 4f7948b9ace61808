"""What every page's header shows: the signed-in user's unread alert count, and the id of the
newest alert they may see (where static/js/live.js resumes the alerts socket from)."""

from alerts import selectors


def alerts(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    unread_count, last_id = selectors.alert_header(user=user)
    return {"unread_alerts": unread_count, "last_alert_id": last_id}
