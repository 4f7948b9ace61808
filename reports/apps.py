from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        """Connect the receivers of the events of cases (reports/receivers.py)."""
        from reports import receivers  # noqa: F401
