from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from connections.services import connection_rotate_token_keys


class Command(BaseCommand):
    help = "Re-encrypt every stored token under the first key of TOKEN_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        try:
            report = connection_rotate_token_keys()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(
            f"Re-encrypted {report.rotated} connection(s) under key '{report.key_id}'; "
            f"{report.already_current} already used it."
        ))
        if report.failed:
            raise CommandError(
                f"{len(report.failed)} connection(s) could not be decrypted with any configured key and were left "
                f"unchanged: {', '.join(str(pk) for pk in report.failed)}. Add the old key back and run again."
            )
