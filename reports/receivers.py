"""How reports hears of the events of cases (cases/signals.py); connected once, by
ReportsConfig.ready(). Each receiver runs inside the sender's transaction."""

from django.dispatch import receiver

from cases import signals as case_signals
from reports import services


@receiver(case_signals.family_pseudonymised, dispatch_uid="reports.family_pseudonymised")
def family_pseudonymised_reports(sender, *, family, **kwargs) -> None:
    services.family_reports_pseudonymise(family=family)
