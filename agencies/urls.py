from django.urls import path

from agencies import api

urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="auth-token"),
    path("auth/tokens/", api.TokenList.as_view(), name="auth-token-list"),
    path("auth/tokens/<int:token_id>/", api.TokenDetail.as_view(), name="auth-token-detail"),
    path("agencies/", api.AgencyListCreate.as_view(), name="agency-list"),
    path("agencies/<int:agency_id>/staff/", api.StaffListCreate.as_view(), name="staff-list"),
    path("me/", api.MeView.as_view(), name="me"),
]
