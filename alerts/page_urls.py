"""Page routes for alerts."""

from django.urls import path

from alerts import views

urlpatterns = [
    path("alerts/", views.alert_page, name="alert-page"),
]
