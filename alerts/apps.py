from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self):
        """Connect the receivers of the events of cases and agencies (alerts/receivers.py)."""
        from alerts import receivers  # noqa: F401
