from django.core.management.base import BaseCommand

from crm.demo import DEMO_PASSWORD, DEMO_USERNAME, seed_demo


class Command(BaseCommand):
    help = "Load the demo tenant 'demo' with a club, members, a segment, a campaign and the login demo/demo (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=200)

    def handle(self, *args, **options):
        tenant, _ = seed_demo(members=options["members"])
        self.stdout.write(self.style.SUCCESS(
            f"Demo tenant '{tenant.pk}' ready: {tenant.clubs.count()} clubs, {tenant.members.count()} members. "
            f"Log in as {DEMO_USERNAME} / {DEMO_PASSWORD}"
        ))
