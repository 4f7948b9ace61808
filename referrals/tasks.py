from celery import shared_task

from referrals import services


@shared_task(acks_late=True)  # idempotent: a referral is pseudonymised once, under its row lock
def referrals_unjoined_pseudonymise_due() -> int:
    return services.referrals_unjoined_pseudonymise_due()
