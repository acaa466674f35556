from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from connections.services import vault_rotate_keys


class Command(BaseCommand):
    help = "Re-encrypt every sealed value in the database (tokens, OAuth attempts) under the first key of TOKEN_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        try:
            report = vault_rotate_keys()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        for label, counts in report.fields.items():
            self.stdout.write(
                f"{label}: {counts.rotated} re-encrypted, {counts.already_current} already under "
                f"'{report.key_id}', {len(counts.failed)} unreadable."
            )
        if report.failed:
            rows = "; ".join(f"{label} {pk}" for label, pk in report.failed)
            raise CommandError(
                f"{len(report.failed)} value(s) could not be decrypted with any configured key and were left "
                f"unchanged: {rows}. Add the old key back and run again."
            )
        self.stdout.write(self.style.SUCCESS(f"Every sealed value is now under key '{report.key_id}'."))
