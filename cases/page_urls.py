"""Page routes of the family record (the API's are in cases/urls.py)."""

from django.urls import path

from cases import views

urlpatterns = [
    path("", views.root, name="root"),
    path("home/", views.home, name="home"),
    # --- home pages ---
    # --- the family page and its forms ---
]
