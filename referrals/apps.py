from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"

    def ready(self):
        from referrals import receivers  # noqa: F401  (connects them)
