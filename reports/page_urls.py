"""Page routes of reports (the API's are in reports/urls.py)."""

from django.urls import path

from reports import views

urlpatterns = [
    path("reports/", views.report_list_page, name="report-page-list"),
    path("reports/new/", views.report_new, name="report-new"),
    path("reports/<int:report_id>/", views.report_page, name="report-page"),
    path("families/<int:family_id>/summary/", views.family_summary_new, name="family-summary-new"),
]
