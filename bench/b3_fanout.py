"""B3 fan-out: a promotion announcement to a segment of 10,000 and of 100,000 members, on email and SMS.

For each size a child process builds the members and the segment, and a fresh child process runs
the dispatches with the app's own code (``promotions.dispatching``: claim, plan the deliveries,
send them), so its peak memory (``ru_maxrss``) belongs to the dispatch alone. Planning (one
delivery row per recipient) and sending are timed apart. Email goes through Django's email
framework to a locmem-style backend that counts messages instead of keeping 100,000 of them (the
test outbox would otherwise be the memory measured); SMS through the console backend, whose log
lines are discarded (LOG_LEVEL=WARNING). The club's timezone is chosen so that "now" is daytime
there: SMS quiet hours would otherwise hold the dispatch.
"""

import json
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

from bench.common import ROOT, Results, bench_environ, setup_django

SIZES = [10_000, 100_000]
TARGET_PLANNED_PER_S = 10_000
EMAIL_BACKEND = "bench.b3_fanout.CountingEmailBackend"
ZONES = ["Europe/London", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "America/Los_Angeles",
         "Australia/Sydney", "Europe/Moscow", "Pacific/Auckland", "America/Sao_Paulo"]


def daytime_zone():
    now = datetime.now(dt_timezone.utc)
    return next(z for z in ZONES if 10 <= now.astimezone(ZoneInfo(z)).hour < 18)


try:
    from django.core.mail.backends.base import BaseEmailBackend

    class CountingEmailBackend(BaseEmailBackend):
        """Like locmem, but counts instead of keeping every message."""

        sent = 0

        def send_messages(self, messages):
            for message in messages:
                message.message()  # build the MIME message as a real backend would
            CountingEmailBackend.sent += len(messages)
            return len(messages)
except ImportError:  # pragma: no cover
    pass


def tenant_name(size):
    return f"bench-fanout-{size}"


def build(size):
    setup_django()
    from crm.models import Club, Member, Segment, Tenant

    Tenant.objects.filter(id=tenant_name(size)).delete()
    tenant = Tenant.objects.create(id=tenant_name(size), name=f"Fan-out {size}", inbound_event_secret="x" * 32)
    club = Club.objects.create(id=f"{tenant.id}-club", tenant=tenant, name="Fan-out club", timezone=daytime_zone())
    members = [Member(tenant=tenant, club=club, first_name=f"Member{n}", last_name="Golfer",
                      email=f"member{n}@example.com", phone=f"+44770{n:07d}", email_consent=True, sms_consent=True)
               for n in range(size)]
    Member.objects.bulk_create(members, batch_size=5000)
    segment = Segment.objects.create(tenant=tenant, club=club, name=f"All {size}")
    through = Segment.members.through
    through.objects.bulk_create([through(segment_id=segment.pk, member_id=m.pk) for m in members], batch_size=5000)


def dispatch(size):
    setup_django(EMAIL_BACKEND=EMAIL_BACKEND, SMS_BACKEND="promotions.sms.ConsoleSmsBackend")
    from django.utils import timezone

    from crm.models import Club, Segment
    from promotions import dispatching
    from promotions.models import EventPromotion, PromotionDispatch

    club = Club.objects.get(id=f"{tenant_name(size)}-club")
    segment = Segment.objects.get(tenant_id=club.tenant_id)
    now = timezone.now()
    promotion = EventPromotion.objects.create(
        tenant_id=club.tenant_id, club=club, source_type="SPECIAL", source_id=f"bench-{size}", channels=["EMAIL", "SMS"],
        reminder_days=[], segment=segment, event_name="Club championship", event_starts_at=now + timedelta(days=10),
        event_location="Pinewood", created_by="bench")
    figures = {}
    for channel in ("EMAIL", "SMS"):
        row = PromotionDispatch.objects.create(tenant_id=club.tenant_id, promotion=promotion, kind="ANNOUNCEMENT",
                                               channel=channel, scheduled_for=now)
        claimed = dispatching.dispatch_claim(dispatch_id=row.pk)
        started = time.monotonic()
        dispatching._create_deliveries(claimed)  # planning: one delivery row per recipient
        planned_s = time.monotonic() - started
        started = time.monotonic()
        dispatching._send_deliveries(claimed, timezone.now)
        sent_s = time.monotonic() - started
        claimed.refresh_from_db()
        figures[channel] = {"planned": claimed.planned_count, "sent": claimed.sent_count, "status": claimed.status,
                            "planned_s": planned_s, "sent_s": sent_s}
    figures["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["emails_built"] = CountingEmailBackend.sent
    print("B3RESULT " + json.dumps(figures), flush=True)


def child(step, size):
    out = subprocess.run([sys.executable, "-m", "bench.b3_fanout", step, str(size)], cwd=ROOT, env=bench_environ(),
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"b3 {step} {size} failed:\n{out.stderr[-3000:]}")
    line = next((x for x in out.stdout.splitlines() if x.startswith("B3RESULT ")), None)
    return json.loads(line[len("B3RESULT "):]) if line else None


def main(argv):
    if argv and argv[0] in ("build", "dispatch"):
        (build if argv[0] == "build" else dispatch)(int(argv[1]))
        return 0
    results = Results("b3_fanout")
    rss = {}
    for size in SIZES:
        print(f"B3: {size:,} members: building ...", flush=True)
        child("build", size)
        print(f"B3: {size:,} members: dispatching email and SMS ...", flush=True)
        figures = child("dispatch", size)
        rss[size] = figures["max_rss_mb"]
        for channel in ("EMAIL", "SMS"):
            f = figures[channel]
            planned_rate = f["planned"] / f["planned_s"] if f["planned_s"] else float("inf")
            sent_rate = f["sent"] / f["sent_s"] if f["sent_s"] else float("inf")
            label = f"{size // 1000}k {channel.lower()}"
            results.add("B3", f"{label}: recipients planned per second", f"{planned_rate:,.0f}/s",
                        f">= {TARGET_PLANNED_PER_S:,}/s", planned_rate >= TARGET_PLANNED_PER_S)
            results.add("B3", f"{label}: recipients sent per second", f"{sent_rate:,.0f}/s")
            results.add("B3", f"{label}: planned / sent", f"{f['planned']:,} / {f['sent']:,}", f"{size:,} / {size:,}",
                        f["planned"] == size and f["sent"] == size)
        results.add("B3", f"{size // 1000}k: peak memory of the dispatch process", f"{rss[size]:.0f} MB")
    growth = rss[SIZES[-1]] / rss[SIZES[0]]
    results.add("B3", "memory 100k vs 10k", f"{growth:.2f} x", "flat (<= 1.25 x)", growth <= 1.25)
    results.settings = {"email": "counting locmem-style backend (MIME built, not kept)", "sms": "console backend, "
                        "log discarded", "PROMOTION_RECIPIENT_CHUNK_SIZE": "default 2000",
                        "PROMOTION_DISPATCH_BATCH_SIZE": "default 100", "consent": "every member, both channels"}
    results.save()
    setup_django()
    from crm.models import Tenant

    Tenant.objects.filter(id__in=[tenant_name(s) for s in SIZES]).delete()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
