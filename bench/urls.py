"""The project's URLs plus the baselines under /bench/ (mounted only by bench/settings.py)."""

from django.urls import include, path

from bench import baselines
from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("bench/", include(baselines.urlpatterns)), *project_urlpatterns]
