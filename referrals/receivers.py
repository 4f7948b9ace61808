"""How referrals hear of the events of cases they act on (cases/signals.py); connected once, by
ReferralsConfig.ready(). Each receiver runs inside the sender's transaction."""

from django.dispatch import receiver

from cases import signals as case_signals
from referrals import services


@receiver(case_signals.family_pseudonymised, dispatch_uid="referrals.family_pseudonymised")
def family_pseudonymised_referrals(sender, *, family, **kwargs) -> None:
    services.family_referrals_pseudonymise(family=family)
