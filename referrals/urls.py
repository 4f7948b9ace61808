from django.urls import path

from referrals import api

urlpatterns = [
    path("referrals/", api.ReferralListCreate.as_view(), name="referral-list"),
    path("referrals/<int:referral_id>/", api.ReferralDetail.as_view(), name="referral-detail"),
    path(
        "referrals/<int:referral_id>/decision/",
        api.ReferralDecide.as_view(),
        name="referral-decision",
    ),
]
