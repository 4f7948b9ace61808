from django.urls import path

from consent import api

F = "families/<int:family_id>/"

urlpatterns = [
    path(F + "sharing/", api.SharingListCreate.as_view(), name="sharing-list"),
    path(
        F + "sharing/<int:basis_id>/withdraw/",
        api.SharingWithdraw.as_view(),
        name="sharing-withdraw",
    ),
    path(
        F + "sharing/<int:basis_id>/confirm/",
        api.SharingConfirm.as_view(),
        name="sharing-confirm",
    ),
    path(
        F + "sharing/<int:basis_id>/review/",
        api.SharingReview.as_view(),
        name="sharing-review",
    ),
    path(F + "disclosures/", api.DisclosureList.as_view(), name="disclosure-list"),
    path(F + "emergency-access/", api.EmergencyAccessRequest.as_view(), name="emergency-access"),
    path(
        "emergency-access/<int:grant_id>/review/",
        api.EmergencyAccessReview.as_view(),
        name="emergency-access-review",
    ),
    path(
        "emergency-access/<int:grant_id>/approve/",
        api.EmergencyAccessApprove.as_view(),
        name="emergency-access-approve",
    ),
]
