"""Page routes of the access log's readers (the API's are in accountability/urls.py)."""

from django.urls import path

from accountability import views

F = "families/<int:family_id>/"

urlpatterns = [
    path(F + "access-log/", views.family_access_log_page, name="family-access-log-page"),
    path(
        F + "members/<int:member_id>/subject-access/",
        views.subject_access_page,
        name="subject-access-page",
    ),
    path("audit/", views.audit_log_page, name="audit-log-page"),
    path("audit/unusual/", views.unusual_access_page, name="unusual-access-page"),
]
