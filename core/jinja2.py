"""The Jinja2 environment of the pages rendered with Jinja2 (the second engine in
settings.TEMPLATES; templates under templates/jinja2/): the caseload and the family page, the two
pages people open most. The other pages and the forms stay on Django's template engine.

Django's Jinja2 backend puts `request`, `csrf_input` and `csrf_token` in every context, and the
engine's context processors add `messages`, `unread_alerts` and `last_alert_id`. This module adds
what the Django templates had as tags and filters: `url`, `static`, `querystring`, and filters
that format as Django's do (`date` in the current time zone, `linebreaksbr`, `truncatechars`,
`truncatewords`)."""

from __future__ import annotations

import datetime as dt
import functools

from django.template import defaultfilters
from django.templatetags.static import static
from django.urls import reverse
from django.utils import dates, translation
from django.utils.timezone import template_localtime
from jinja2 import Environment, pass_context


def url(name: str, *args) -> str:
    """`{% url name arg ... %}`."""
    return reverse(name, args=args)


@pass_context
def querystring(context, **kwargs) -> str:
    """`{% querystring key=value ... %}`: the request's query string with these keys set (None
    removes a key), as Django's tag builds it."""
    query = context["request"].GET
    params = query.copy()
    for key, value in kwargs.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    if not params and not query:
        return ""
    return f"?{params.urlencode()}"


# The format characters `date` writes itself (the others go to Django's filter): day, month as
# a word and abbreviated, year, hour, minute, and ISO 8601.
_FAST = frozenset("jFMYHic")
_LITERAL = frozenset(" ,:-/")


@functools.lru_cache(maxsize=64)
def _fast_format(fmt: str) -> tuple[str, ...] | None:
    """`fmt` as the characters to format, or None when it uses any other (escapes included)."""
    if not all(ch in _FAST or ch in _LITERAL for ch in fmt):
        return None
    return tuple(fmt)


@functools.lru_cache(maxsize=16)
def _month_names(language: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names, abbreviations) of the months in the active language, as Django's `F` and `M`."""
    names = ("", *(str(dates.MONTHS[m]) for m in range(1, 13)))
    short = ("", *(str(dates.MONTHS_3[m]).title() for m in range(1, 13)))
    return names, short


def date(value, fmt: str) -> str:
    """Django's `date` filter: a datetime shown in the current time zone; "" for no value. The
    formats these pages use are written here (what Django's filter writes for them, checked by
    tests/web/test_jinja2_pages.py); any other goes to Django's filter."""
    if value is None or value == "":
        return ""
    chars = _fast_format(fmt)
    if chars is None or not isinstance(value, dt.date):
        return defaultfilters.date(template_localtime(value), fmt)
    if isinstance(value, dt.datetime):
        value = template_localtime(value)
    elif any(ch in "Hic" for ch in chars):
        return defaultfilters.date(value, fmt)
    names, short = _month_names(translation.get_language())
    out = []
    for ch in chars:
        if ch == "j":
            out.append(str(value.day))
        elif ch == "F":
            out.append(names[value.month])
        elif ch == "M":
            out.append(short[value.month])
        elif ch == "Y":
            out.append(f"{value.year:04d}")
        elif ch == "H":
            out.append(f"{value.hour:02d}")
        elif ch == "i":
            out.append(f"{value.minute:02d}")
        elif ch == "c":
            out.append(value.isoformat())
        else:
            out.append(ch)
    return "".join(out)


def environment(**options) -> Environment:
    options.setdefault("keep_trailing_newline", True)  # as Django's templates end
    env = Environment(**options)
    env.globals.update(url=url, static=static, querystring=querystring)
    env.filters.update(
        date=date,
        linebreaksbr=defaultfilters.linebreaksbr,
        truncatechars=defaultfilters.truncatechars,
        truncatewords=defaultfilters.truncatewords,
    )
    return env
