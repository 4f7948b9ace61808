"""Page routes for alerts (the API's are in alerts/urls.py)."""

from django.urls import path

from alerts import views

urlpatterns = [
    path("alerts/", views.alert_page, name="alert-page"),
    path("alerts/<int:alert_id>/read/", views.alert_read, name="alert-page-read"),
    path("alerts/read-all/", views.alert_read_all, name="alert-page-read-all"),
]
