"""How consent hears of the events of cases it acts on (cases/signals.py); connected once, by
ConsentConfig.ready(). Each receiver runs inside the sender's transaction."""

from django.dispatch import receiver

from cases import signals as case_signals
from consent import services


@receiver(case_signals.family_pseudonymised, dispatch_uid="consent.family_pseudonymised")
def family_pseudonymised_consent(sender, *, family, **kwargs) -> None:
    services.family_consent_pseudonymise(family=family)
