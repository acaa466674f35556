from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from crm.services import staff_create


class Command(BaseCommand):
    help = "Create (or update) a staff login for a tenant."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant id")
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--role", choices=["admin", "staff"], default="staff")
        parser.add_argument("--club", action="append", default=[], help="Limit to this club id (repeatable)")

    def handle(self, *args, **options):
        try:
            user, created = staff_create(
                tenant_id=options["tenant"], username=options["username"], password=options["password"],
                role=options["role"].upper(), club_ids=options["club"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        scope = ", ".join(options["club"]) if options["club"] else "all clubs"
        self.stdout.write(self.style.SUCCESS(
            f"{'Created' if created else 'Updated'} {options['role']} '{user.get_username()}' "
            f"for tenant '{options['tenant']}' ({scope})."
        ))
