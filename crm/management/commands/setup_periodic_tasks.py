from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from socialcrm.schedules import periodic_schedules

PREFIX = "socialcrm: "


class Command(BaseCommand):
    help = "Install every periodic job declared in socialcrm/schedules.py into the beat scheduler (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        declared = periodic_schedules()
        for schedule in declared:
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=max(1, round(schedule.every_seconds)), period=IntervalSchedule.SECONDS
            )
            task, created = PeriodicTask.objects.update_or_create(
                name=PREFIX + schedule.name,
                defaults={
                    "task": schedule.task, "interval": interval, "crontab": None, "solar": None, "clocked": None,
                    "enabled": True, "description": schedule.description, "kwargs": "{}",
                },
            )
            verb = "installed" if created else "updated"
            self.stdout.write(f"{verb}: {schedule.name} ({schedule.task}) every {interval.every}s")
        stale = PeriodicTask.objects.filter(name__startswith=PREFIX).exclude(name__in=[PREFIX + s.name for s in declared])
        for task in stale:
            self.stdout.write(f"removed: {task.name[len(PREFIX):]} (no longer declared)")
        stale.delete()
