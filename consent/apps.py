from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"

    def ready(self):
        """Connect the receivers of the events of cases (consent/receivers.py)."""
        from consent import receivers  # noqa: F401
