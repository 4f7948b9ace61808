from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"

    def import_models(self):
        """Register the grant models too: they live in cases/grants.py, which cases/models.py
        does not import (so that only cases/access.py reaches them; see cases/grants.py)."""
        super().import_models()
        from cases import grants  # noqa: F401

    def ready(self):
        # The agency of whoever made a change, onto each history row of the family record.
        from simple_history.signals import pre_create_historical_record

        from cases.models import history_agency_set

        pre_create_historical_record.connect(
            history_agency_set, dispatch_uid="cases.history_agency_set"
        )
