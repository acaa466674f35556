"""B3 fan-out: a promotion announcement to 10,000, 100,000 and 200,000 members, and sending across workers.

Part 1, cost per process. For each size a child process builds the members, and a fresh child
process runs the email dispatch with the app's own code (``promotions.dispatching``: claim, plan the
deliveries and chunks, send every chunk), so its peak memory (``ru_maxrss``) belongs to the dispatch
alone. Email goes through Django's email framework to a no-op backend (it counts the messages it is
handed): what is left is the app's own cost, rendering and database. The database time is measured
two ways: the CPU seconds PostgreSQL's backend process for this connection used (read from
``/proc/<pid>/stat``: the database's own work, whatever else the shared cores are doing), which
carries the limit, and the wall time of every statement (``connection.execute_wrapper``), which
also holds the time spent waiting for a core or for a commit to reach the disk. 1,000,000 members were not run here: building them and
rendering 1M emails in one process takes well over the ~5 minutes this 2-core machine allows; memory
is shown flat across 10k/100k/200k instead.

Part 2, scaling with workers. A provider that answers in 50 ms (``SlowEmailBackend``); 800 members in
chunks of 50, sent by a real Celery worker (threads pool) with 1, 2 and 4 threads, through its own
Redis server on a free port (started here with ``--save ""``, stopped after). Time from handing the
dispatch to ``promotions.send_dispatch`` until it is SENT.
"""

import json
import os
import resource
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

from bench.common import ROOT, Process, Results, bench_environ, celery_worker, setup_django

SIZES = [int(n) for n in os.environ.get("B3_SIZES", "10000,100000,200000").split(",")]
TARGET_DB_PER_S = 5_000
SCALING_MEMBERS = 800
SCALING_CHUNK = 50
SCALING_WORKERS = [1, 2, 4]
PROVIDER_LATENCY_MS = 50
EMAIL_BACKEND = "bench.b3_fanout.CountingEmailBackend"
ZONES = ["Europe/London", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "America/Los_Angeles",
         "Australia/Sydney", "Europe/Moscow", "Pacific/Auckland", "America/Sao_Paulo"]


def daytime_zone():
    now = datetime.now(dt_timezone.utc)
    return next(z for z in ZONES if 10 <= now.astimezone(ZoneInfo(z)).hour < 18)


try:
    from django.core.mail.backends.base import BaseEmailBackend

    class CountingEmailBackend(BaseEmailBackend):
        """A no-op provider: counts the messages it is handed."""

        sent = 0

        def send_messages(self, messages):
            CountingEmailBackend.sent += len(messages)
            return len(messages)

    class SlowEmailBackend(BaseEmailBackend):
        """A provider that takes B3_PROVIDER_LATENCY_MS to accept each message (the MIME message is built)."""

        def send_messages(self, messages):
            for message in messages:
                message.message()
                time.sleep(int(os.environ.get("B3_PROVIDER_LATENCY_MS", PROVIDER_LATENCY_MS)) / 1000)
            return len(messages)
except ImportError:  # pragma: no cover
    pass


def tenant_name(size):
    return f"bench-fanout-{size}"


def build(size):
    setup_django()
    from crm.models import Club, Member, Tenant

    Tenant.objects.filter(id=tenant_name(size)).delete()
    tenant = Tenant.objects.create(id=tenant_name(size), name=f"Fan-out {size}", inbound_event_secret="x" * 32)
    club = Club.objects.create(id=f"{tenant.id}-club", tenant=tenant, name="Fan-out club", timezone=daytime_zone())
    for start in range(0, size, 20_000):
        Member.objects.bulk_create(
            [Member(tenant=tenant, club=club, first_name=f"Member{n}", last_name="Golfer", email=f"member{n}@example.com",
                    phone=f"+44770{n:07d}", email_consent=True, sms_consent=True)
             for n in range(start, min(size, start + 20_000))], batch_size=5000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_member")


def new_dispatch(club, *, source_id, channel="EMAIL"):
    from django.utils import timezone

    from promotions.models import EventPromotion, PromotionDispatch

    now = timezone.now()
    promotion = EventPromotion.objects.create(
        tenant_id=club.tenant_id, club=club, source_type="SPECIAL", source_id=source_id, channels=[channel],
        reminder_days=[], event_name="Club championship", event_starts_at=now + timedelta(days=10),
        event_location="Pinewood", created_by="bench")
    return PromotionDispatch.objects.create(tenant_id=club.tenant_id, promotion=promotion, kind="ANNOUNCEMENT",
                                            channel=channel, scheduled_for=now)


def dispatch(size):
    setup_django(EMAIL_BACKEND=EMAIL_BACKEND)
    from django.db import connection
    from django.utils import timezone

    from bench.b3_fanout import CountingEmailBackend as counting  # the class EMAIL_BACKEND names, not __main__'s
    from crm.models import Club
    from promotions import dispatching

    db_seconds = [0.0]

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            db_seconds[0] += time.perf_counter() - started

    club = Club.objects.get(id=f"{tenant_name(size)}-club")
    row = new_dispatch(club, source_id=f"bench-{size}")
    backend = backend_cpu_seconds()
    cpu_start = backend()
    load_start = os.getloadavg()[0]
    with connection.execute_wrapper(timed):
        claimed = dispatching.dispatch_claim(dispatch_id=row.pk)
        started = time.monotonic()
        dispatching.dispatch_plan(dispatch=claimed)
        planned_s, plan_db_s, cpu_planned = time.monotonic() - started, db_seconds[0], backend()
        started = time.monotonic()
        dispatching._send_chunks_here(claimed, timezone.now, waits=True)
        dispatching.dispatch_complete(dispatch_id=claimed.pk)
        sent_s = time.monotonic() - started
    cpu_end = backend()
    claimed.refresh_from_db()
    figures = {"planned": claimed.planned_count, "sent": claimed.sent_count, "status": claimed.status,
               "planned_s": planned_s, "sent_s": sent_s, "plan_db_s": plan_db_s, "send_db_s": db_seconds[0] - plan_db_s,
               "plan_cpu_s": cpu_planned - cpu_start, "send_cpu_s": cpu_end - cpu_planned,
               "load": f"{load_start:.1f} -> {os.getloadavg()[0]:.1f}",
               "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "emails": counting.sent}
    print("B3RESULT " + json.dumps(figures), flush=True)


def backend_cpu_seconds():
    """A function reading the CPU seconds PostgreSQL's backend for this connection has used (from /proc):
    the database's own work for this process, whatever else the machine's cores are busy with."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    tick = os.sysconf("SC_CLK_TCK")

    def read():
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    return read


def child(step, size, env=None):
    out = subprocess.run([sys.executable, "-m", "bench.b3_fanout", step, str(size)], cwd=ROOT, env=env or bench_environ(),
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"b3 {step} {size} failed:\n{out.stderr[-3000:]}")
    line = next((x for x in out.stdout.splitlines() if x.startswith("B3RESULT ")), None)
    return json.loads(line[len("B3RESULT "):]) if line else None


# ----------------------------------------------------------------------------- part 2: workers


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """A redis-server of our own on a free loopback port, nothing saved; stopped by its own pid."""

    def __init__(self):
        self.port = free_port()
        self.process = Process(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], name=f"b3-redis-{self.port}")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise RuntimeError("our redis-server did not start")

    def stop(self):
        self.process.stop()


def scaling(results):
    redis = OwnRedis()
    overrides = {"CELERY_BROKER_URL": redis.url, "EMAIL_BACKEND": "bench.b3_fanout.SlowEmailBackend",
                 "B3_PROVIDER_LATENCY_MS": PROVIDER_LATENCY_MS, "PROMOTION_SEND_CHUNK_SIZE": SCALING_CHUNK}
    env = bench_environ(**overrides)
    rates = {}
    try:
        setup_django(**overrides)
        from crm.models import Club
        from promotions.tasks import send_dispatch
        from socialcrm.celery import app

        child("build", SCALING_MEMBERS, env=env)
        club = Club.objects.get(id=f"{tenant_name(SCALING_MEMBERS)}-club")
        for workers in SCALING_WORKERS:
            worker = celery_worker(concurrency=workers, env=env, name=f"b3-worker-{workers}")
            try:
                deadline = time.monotonic() + 60
                while not app.control.inspect(timeout=1).ping() and time.monotonic() < deadline:
                    time.sleep(0.5)
                row = new_dispatch(club, source_id=f"bench-scaling-{workers}")
                started = time.monotonic()
                send_dispatch.delay(dispatch_id=str(row.pk))
                while time.monotonic() - started < 300:
                    row.refresh_from_db()
                    if row.status not in ("PLANNED", "SENDING"):
                        break
                    time.sleep(0.1)
                seconds = time.monotonic() - started
            finally:
                worker.stop()
            rates[workers] = row.sent_count / seconds
            results.add("B3", f"50 ms provider, {workers} worker thread(s): sent per second",
                        f"{rates[workers]:,.1f}/s", "", None)
            results.add("B3", f"  {workers} thread(s): sent / planned, status", f"{row.sent_count} / {row.planned_count}, "
                        f"{row.status}", f"{SCALING_MEMBERS} / {SCALING_MEMBERS}, SENT",
                        row.sent_count == row.planned_count == SCALING_MEMBERS and row.status == "SENT")
        ideal = 1000 / PROVIDER_LATENCY_MS
        for workers in SCALING_WORKERS[1:]:
            speedup = rates[workers] / rates[SCALING_WORKERS[0]]
            results.add("B3", f"speed-up, {workers} threads vs 1", f"{speedup:.2f} x", f">= {0.75 * workers:.1f} x",
                        speedup >= 0.75 * workers)
        results.note(f"scaling: {SCALING_MEMBERS} members in chunks of {SCALING_CHUNK}; one thread can at most "
                     f"send {ideal:.0f}/s at {PROVIDER_LATENCY_MS} ms per message; broker: own redis-server on port "
                     f"{redis.port}")
    finally:
        redis.stop()
    return rates


def main(argv):
    if argv and argv[0] in ("build", "dispatch"):
        (build if argv[0] == "build" else dispatch)(int(argv[1]))
        return 0
    results = Results("b3_fanout")
    rss = {}
    for size in SIZES:
        print(f"B3: {size:,} members: building ...", flush=True)
        child("build", size)
        print(f"B3: {size:,} members: dispatching email ...", flush=True)
        f = child("dispatch", size)
        rss[size] = f["max_rss_mb"]
        label = f"{size // 1000}k email"
        cpu_rate = f["sent"] / (f["plan_cpu_s"] + f["send_cpu_s"])
        db_rate = f["sent"] / (f["plan_db_s"] + f["send_db_s"])
        results.add("B3", f"{label}: recipients per CPU-second of the database", f"{cpu_rate:,.0f}/s",
                    f">= {TARGET_DB_PER_S:,}/s", cpu_rate >= TARGET_DB_PER_S)
        results.add("B3", f"{label}: recipients per second of database wall time", f"{db_rate:,.0f}/s")
        results.add("B3", f"{label}: database CPU plan / send", f"{f['plan_cpu_s']:.1f} s / {f['send_cpu_s']:.1f} s")
        results.add("B3", f"{label}: planned per second (wall)", f"{f['planned'] / f['planned_s']:,.0f}/s")
        results.add("B3", f"{label}: sent per second (wall, one process)", f"{f['sent'] / f['sent_s']:,.0f}/s")
        results.add("B3", f"{label}: database time plan / send", f"{f['plan_db_s']:.1f} s / {f['send_db_s']:.1f} s")
        results.add("B3", f"{label}: planned / sent / handed to the backend",
                    f"{f['planned']:,} / {f['sent']:,} / {f['emails']:,}", f"{size:,} each",
                    f["planned"] == f["sent"] == f["emails"] == size)
        results.add("B3", f"{size // 1000}k: peak memory of the dispatch process", f"{rss[size]:.0f} MB")
        results.note(f"{label}: machine load average during the dispatch {f['load']} (2 cores, shared)")
    growth = rss[SIZES[-1]] / rss[SIZES[0]]
    results.add("B3", f"memory {SIZES[-1] // 1000}k vs {SIZES[0] // 1000}k", f"{growth:.2f} x", "flat (<= 1.25 x)",
                growth <= 1.25)
    if os.environ.get("B3_SCALING", "1") == "1":
        scaling(results)
    results.settings = {"email": "no-op backend (counts messages; templates rendered)", "consent": "every member",
                        "PROMOTION_SEND_CHUNK_SIZE": "default 1000", "PROMOTION_DISPATCH_BATCH_SIZE": "default 100",
                        "1M members": "not run (see the module docstring)"}
    results.save()
    setup_django()
    from crm.models import Tenant

    Tenant.objects.filter(id__in=[tenant_name(s) for s in SIZES + [SCALING_MEMBERS]]).delete()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
