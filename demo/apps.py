from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo borough (`manage.py seed_demo`). It builds its families through the services of
    every app, so it sits above all of them; no app imports it."""

    name = "demo"
