from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"

    def import_models(self):
        """Register the grant models too: they live in cases/grants.py, which cases/models.py
        does not import (so that only cases/access.py reaches them; see cases/grants.py)."""
        super().import_models()
        from cases import grants  # noqa: F401
