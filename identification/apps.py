from django.apps import AppConfig


class IdentificationConfig(AppConfig):
    name = "identification"
    verbose_name = "Identification (data matching)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from identification import receivers  # noqa: F401  (connects them)
