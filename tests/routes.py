"""The API routes a URL module serves, for the matrices that must name every one of them."""

from __future__ import annotations

from django.urls import URLPattern

IGNORED_METHODS = frozenset({"options", "head", "trace"})


def routes_served(*modules) -> set[tuple[str, str]]:
    """(route name, HTTP method) for every method each view of `modules` implements."""
    served = set()
    for module in modules:
        for pattern in module.urlpatterns:
            assert isinstance(pattern, URLPattern)
            view = pattern.callback.view_class
            for method in view.http_method_names:
                if method not in IGNORED_METHODS and hasattr(view, method):
                    served.add((pattern.name, method.upper()))
    return served
