"""How identification hears of the events of the case record (cases/signals.py); connected once,
by IdentificationConfig.ready(). Each receiver runs inside the sender's transaction."""

from django.dispatch import receiver

from cases import signals as case_signals
from identification import services


@receiver(case_signals.family_pseudonymised, dispatch_uid="identification.family_pseudonymised")
def family_pseudonymised_candidates(sender, *, family, **kwargs) -> None:
    services.family_candidates_pseudonymise(family=family)
