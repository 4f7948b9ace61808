"""The Jinja2 environment of the caseload and family pages (core/jinja2.py) formats as the
Django templates did."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.template import defaultfilters
from django.test import RequestFactory
from django.utils import timezone, translation
from markupsafe import escape

from core import jinja2 as env

FORMATS = ["j M Y", "j F Y", "j M Y, H:i", "j F Y, H:i", "H:i", "c", "D j N Y", "jS F Y"]
VALUES = [
    dt.date(2024, 1, 5),
    dt.date(1999, 12, 31),
    dt.datetime(2024, 3, 31, 0, 30, tzinfo=dt.UTC),  # the clocks go forward in London
    dt.datetime(2024, 10, 27, 1, 5, tzinfo=dt.UTC),  # and back
    dt.datetime(2025, 6, 1, 23, 59, 59, 123456, tzinfo=dt.UTC),
    dt.datetime(2025, 9, 9, 9, 9, tzinfo=ZoneInfo("America/New_York")),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("value", VALUES, ids=str)
def test_date_writes_what_djangos_filter_writes(fmt, value):
    if not isinstance(value, dt.datetime) and any(ch in fmt for ch in "HiNc"):
        return  # a time of a date: Django's filter refuses it (and so does ours, through it)
    expected = defaultfilters.date(timezone.template_localtime(value), fmt)
    assert env.date(value, fmt) == expected


@pytest.mark.parametrize("value", [None, ""])
def test_date_of_nothing_is_empty(value):
    assert env.date(value, "j F Y") == ""


def test_month_names_follow_the_active_language():
    with translation.override("fr"):
        assert env.date(dt.date(2024, 2, 1), "j F Y") == defaultfilters.date(
            dt.date(2024, 2, 1), "j F Y"
        )


@pytest.mark.parametrize(
    "query, kwargs, expected",
    [
        ("", {"page": 2}, "?page=2"),
        ("agency=3&type=contact", {"page": 2}, "?agency=3&type=contact&page=2"),
        ("page=4&q=a+b", {"page": 5}, "?page=5&q=a+b"),
        ("page=4", {"page": None}, "?"),
        ("", {"page": None}, ""),
    ],
)
def test_querystring_is_djangos_tag(query, kwargs, expected):
    from django.template import RequestContext, Template

    request = RequestFactory().get("/x/?" + query if query else "/x/")
    args = " ".join(f"{k}={v!r}" if v is not None else f"{k}=None" for k, v in kwargs.items())
    django = Template("{% querystring " + args + " %}").render(RequestContext(request))
    ours = env.querystring({"request": request}, **kwargs)
    assert ours == expected
    assert str(escape(ours)) == django  # the page escapes it as Django's tag does


def test_the_alert_header_counts_what_alert_list_holds(borough):
    """`alert_header` (SQL) against `alert_list` (ORM), for every account of the borough, with
    alerts about a family each sees, one none of them sees, none, and the kinds always shown;
    one read."""
    from django.contrib.auth import get_user_model

    from alerts import selectors
    from alerts.models import Alert
    from tests import factories as f

    hidden = f.family_make(by=borough.key_worker, name="Other household")
    users = list(get_user_model().objects.all())
    for user in users:
        for family in (borough.family, hidden, None):
            for kind in ("intervention.recorded", "access.lost"):
                Alert.objects.create(
                    recipient=user,
                    family=family,
                    agency=borough.school if family else None,
                    kind=kind,
                    summary=kind,
                )
    Alert.objects.filter(id=Alert.objects.order_by("id").first().id).update(read_at=timezone.now())
    assert len(users) > 3
    for user in get_user_model().objects.all():
        unread = selectors.alert_list(user=user, unread=True).count()
        newest = selectors.alert_list(user=user).order_by("-id").values_list("id", flat=True)
        assert selectors.alert_header(user=user) == (unread, newest.first() or 0), user.username


def _layout(html: str) -> tuple[str, str]:
    """(from <body> to <main>, from </main> to the end) of a page, entities decoded and the
    CSRF token blanked: what the layout writes around a page's content."""
    import html as html_lib
    import re

    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "CSRF", html_lib.unescape(html))
    body = html[html.index("<body") : html.index("<main")]
    return body, html[html.index("</main>") :]


def test_the_jinja2_layout_writes_what_the_django_layout_writes(borough):
    """The caseload (Jinja2) and the alerts page (Django) around their content: the same
    navigation (#alert-count with its data, the skip link, sign out), #live-announcer, footer
    and scripts."""
    from django.test import Client

    client = Client()
    client.force_login(borough.key_worker.user)
    jinja_page = client.get("/caseload/")
    django_page = client.get("/alerts/")
    assert jinja_page.status_code == django_page.status_code == 200
    assert _layout(jinja_page.content.decode()) == _layout(django_page.content.decode())
    assert 'id="alert-count"' in jinja_page.content.decode()
