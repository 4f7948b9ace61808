from django.urls import path

from reports import api

urlpatterns = [
    path("reports/", api.ReportListCreate.as_view(), name="report-list"),
    path("reports/<int:report_id>/", api.ReportDetail.as_view(), name="report-detail"),
    path(
        "reports/<int:report_id>/download/",
        api.ReportDownload.as_view(),
        name="report-download",
    ),
]
