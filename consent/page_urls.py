"""Page routes for sharing, consent and emergency access forms."""

from django.urls import path

from consent import views

F = "families/<int:family_id>/"

urlpatterns = [
    path(F + "sharing/new/", views.sharing_new, name="sharing-new"),
    path(
        F + "sharing/<int:basis_id>/withdraw/",
        views.sharing_withdraw,
        name="sharing-withdraw-page",
    ),
    path(
        F + "sharing/<int:basis_id>/confirm/",
        views.sharing_confirm,
        name="sharing-confirm-page",
    ),
    path(F + "emergency-access/", views.emergency_access_page, name="emergency-access-page"),
    path(
        "emergency-access/<int:grant_id>/review/",
        views.emergency_review,
        name="emergency-review-page",
    ),
]
