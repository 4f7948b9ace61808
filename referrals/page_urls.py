"""Page routes of referrals (the API's are in referrals/urls.py)."""

from django.urls import path

from referrals import views

urlpatterns = [
    path("referrals/", views.referral_list_page, name="referral-list-page"),
    path("referrals/new/", views.referral_new, name="referral-new"),
    path("referrals/<int:referral_id>/", views.referral_page, name="referral-page"),
]
