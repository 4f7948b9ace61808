"""The API's documentation page (`/api/v1/docs/`): Swagger UI, for people signed in, under the
site's Content-Security-Policy.

drf-spectacular's split view serves the page and, from the same address with `?script`, the
script that starts Swagger UI, so the page has no inline script; the page's template
(templates/api/docs.html) takes its few styles from a file instead of a `<style>` element. Swagger
UI's own files come from drf-spectacular-sidecar, served by the app. What it needs beyond the
site's policy, on this route only: images from `data:` URIs (the icons in its stylesheet).
tests/web/test_csp_browser.py opens the page in a browser and fails on anything refused.
"""

from __future__ import annotations

from csp.decorators import csp_update
from django.contrib.auth.decorators import login_required
from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocs(SpectacularSwaggerSplitView):
    template_name = "api/docs.html"


api_docs = login_required(csp_update({"img-src": ["data:"]})(ApiDocs.as_view(url_name="schema")))
