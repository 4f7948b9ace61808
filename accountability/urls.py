from django.urls import path

from accountability import api

F = "families/<int:family_id>/"

urlpatterns = [
    path(F + "access-log/", api.FamilyAccessLog.as_view(), name="family-access-log"),
    path(
        F + "members/<int:member_id>/subject-access/",
        api.SubjectAccessRequest.as_view(),
        name="subject-access",
    ),
    path("audit/", api.AuditList.as_view(), name="audit-list"),
    path("audit/unusual/", api.UnusualAccess.as_view(), name="audit-unusual"),
]
