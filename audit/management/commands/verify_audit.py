"""`manage.py verify_audit`: recompute the access log's hash chain and compare it with the seals.

Exit status 0 and "N events verified" when the chain is whole; non-zero, naming the first broken
link (its event id) and why, when it is not (audit.selectors.access_log_verify).
"""

from django.core.management.base import BaseCommand, CommandError

from audit.selectors import access_log_verify


class Command(BaseCommand):
    help = "Recompute the access log's hash chain; name the first broken link."

    def handle(self, *args, **options):
        check = access_log_verify()
        if check.broken_at is not None:
            raise CommandError(
                f"access log chain broken at event {check.broken_at}: {check.reason}"
                f" ({check.verified} events before it verified)",
                returncode=2,
            )
        line = f"{check.verified} events verified"
        if check.unsealed:
            line += f"; {check.unsealed} written since the last seal, not sealed yet"
        self.stdout.write(line)
