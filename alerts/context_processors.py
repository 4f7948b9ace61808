"""What every page's header shows: the signed-in user's unread alert count."""

from alerts import selectors


def alerts(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_alerts": selectors.alert_list(user=user, unread=True).count()}
