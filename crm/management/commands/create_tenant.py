from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from crm.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant (a club organisation) with its first club. Tenants are created by operators only."

    def add_arguments(self, parser):
        parser.add_argument("--id", required=True, help="Tenant id: lower-case letters, digits and hyphens")
        parser.add_argument("--name", required=True, help="The organisation's name")
        parser.add_argument("--club-name", required=True, help="Name of its first club")
        parser.add_argument("--timezone", default="UTC", help="The first club's IANA time zone, e.g. Europe/London")

    def handle(self, *args, **options):
        try:
            tenant, club = tenant_create(tenant_id=options["id"], name=options["name"],
                                         club_name=options["club_name"], timezone=options["timezone"])
        except ValidationError as exc:
            raise CommandError(" ".join(f"--{field.replace('_', '-')}: {'; '.join(messages)}"
                                        for field, messages in exc.message_dict.items())) from None
        self.stdout.write(self.style.SUCCESS(
            f"Created tenant '{tenant.pk}' ({tenant.name}) with club '{club.name}' (id {club.pk}, {club.timezone}). "
            f"Add its first admin with: manage.py create_staff --tenant {tenant.pk} --username ... --role admin"
        ))
