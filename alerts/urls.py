from django.urls import path

from alerts import api

urlpatterns = [
    path("alerts/", api.AlertList.as_view(), name="alert-list"),
    path("alerts/<int:alert_id>/read/", api.AlertRead.as_view(), name="alert-read"),
    path("alerts/read-all/", api.AlertReadAll.as_view(), name="alert-read-all"),
    path("alerts/ticket/", api.AlertTicketCreate.as_view(), name="alert-ticket"),
]
