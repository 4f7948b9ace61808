from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from core.api_docs import api_docs

# An /api/ address no route takes answers in the API's JSON error shape, a page's the 404 page.
handler404 = "core.exceptions.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("agencies.urls")),
    path("api/v1/", include("cases.urls")),
    path("api/v1/", include("alerts.urls")),
    path("api/v1/", include("consent.urls")),
    path("api/v1/", include("reports.urls")),
    path("api/v1/", include("accountability.urls")),
    path("api/v1/", include("identification.urls")),
    path("api/v1/", include("referrals.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", api_docs, name="docs"),
    # Pages for people (server-rendered, GOV.UK Design System look).
    path("", include("agencies.page_urls")),
    path("", include("alerts.page_urls")),
    path("", include("consent.page_urls")),
    path("", include("cases.page_urls")),
    path("", include("reports.page_urls")),
    path("", include("accountability.page_urls")),
    path("", include("identification.page_urls")),
    path("", include("referrals.page_urls")),
]

# An unhandled exception: 503 when the database or Redis cannot be reached (JSON under /api/,
# the GOV.UK page elsewhere), else Django's 500 page (decision 0024).
handler500 = "core.exceptions.server_error"
