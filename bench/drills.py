"""``make drills``: fault drills on loopback, each bounded to a few minutes, each reported with its counts.

Database ``socialcrm_drills`` (created and dropped here), broker Redis db 14, the simulator with its
real limits (no raised quotas), a real Celery worker (threads pool). Except in the beat drill, this
process stands in for beat: it runs the publisher's scan (``posts_publish_due``) every second and the
stuck-post reconciler (``posts_reconcile_stuck``) every second, with ``PUBLISH_STUCK_AFTER_SECONDS``
shortened to 10 s so the reconciler acts within the drill.

Every drill ends with the same check of every post: PUBLISHED and exactly once at the simulator,
or FAILED with a reason; none left SCHEDULED/PUBLISHING ("stuck"); no text twice at the simulator.

    python -m bench.drills                 # all
    python -m bench.drills kill storms     # some: kill, storms, redis, postgres, beat, scale, promotions
"""

import os
import re
import secrets  # noqa: E402
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

from django.db.models import Q

os.environ.setdefault("BENCH_DB", f"socialcrm_drills_{secrets.token_hex(4)}")  # never a fixed, shared name

from bench import common  # noqa: E402
from bench.common import (  # noqa: E402
    BENCH_DB,
    POSTING_ACCOUNTS,
    Process,
    Results,
    Simulator,
    bench_environ,
    celery_worker,
    connect_accounts,
    create_database,
    drop_database,
    make_tenant,
    purge_queue,
    setup_django,
    terminate_connections,
    wait_for_worker,
)

STUCK_AFTER = 10
MISSED_WINDOW = 30
BEAT_OUTAGE = int(os.environ.get("DRILL_BEAT_OUTAGE_SECONDS", "60"))  # stands for the 10 minutes
DRILL_LIMIT = 170  # seconds a drill may take to settle
PER_PLATFORM = 30  # posts per platform per drill (X allows 100 tweets per 15 min, Instagram 50 a day)
LATENCY_MS = 200
SCALE_CONCURRENCY = 32  # per publishing worker in the scale drill: two of them on one PostgreSQL
PUBLISH_ENDPOINTS = {"twitter": "POST /2/tweets", "facebook": "POST */feed", "instagram": "POST */media_publish",
                     "linkedin": "POST /rest/posts"}


def drill_settings(sim):
    return {**sim.settings(), "PUBLISH_STUCK_AFTER_SECONDS": STUCK_AFTER, "PUBLISH_BACKOFF_BASE_SECONDS": 2,
            "PUBLISH_BACKOFF_MAX_SECONDS": 10, "PUBLISH_MAX_ATTEMPTS": 6, "PLATFORM_HTTP_TIMEOUT": 3,
            "MEDIA_PROCESSING_POLL_INTERVAL": 0.2, "PUBLISH_SCAN_INTERVAL_SECONDS": 1,
            # the publishing hard limit must stay below the shortened stuck limit (checked at start-up)
            "PUBLISH_SOFT_TIME_LIMIT": 7, "PUBLISH_TIME_LIMIT": 9,
            # claims a SIGKILLed worker had reserved come back from Redis only after its visibility timeout
            # (1 h): the scan re-sends claims whose task never started, shortened like the stuck limit
            "PUBLISH_QUEUED_RESEND_AFTER_SECONDS": 20}


class Drill:
    """One drill's tenant, accounts, worker and posts."""

    def __init__(self, sim, name, *, concurrency=8, **extra):
        from bench.b1_publish import create_due_posts  # noqa: F401  (same post shape as B1)

        self.sim, self.name, self.tag = sim, name, f"D-{name}"
        sim.client.reset()
        purge_queue()
        self.tenant, club = make_tenant(f"drill-{name}")
        self.connections = connect_accounts(tenant=self.tenant, club=club, accounts=POSTING_ACCOUNTS)
        sim.client.set_latency(LATENCY_MS)
        self.env = bench_environ(**drill_settings(sim), **extra)
        self.concurrency = concurrency
        self.worker = celery_worker(concurrency=concurrency, env=self.env, name=f"drill-{name}-worker")
        wait_for_worker()
        self.events = Counter()

    def restart_worker(self):
        self.worker = celery_worker(concurrency=self.concurrency, env=self.env, name=f"drill-{self.name}-worker")

    def posts(self, count_per_platform=PER_PLATFORM, *, due_in=2.0, tag=None):
        from django.utils import timezone

        from bench.b1_publish import create_due_posts

        due_at = timezone.now() + timedelta(seconds=due_in)
        create_due_posts(tenant=self.tenant, connections=self.connections, count=4 * count_per_platform,
                         due_at=due_at, media_url=self.sim.client.media_url("sample.jpg"), tag=tag or self.tag)
        return due_at

    def tick(self, *, reconcile=True):
        """One beat-like round: the scan and the reconciler; a failure (broker or database down) is counted."""
        from django.db import close_old_connections, connection

        from posts.publishing import posts_publish_due, posts_reconcile_stuck

        try:
            posts_publish_due()
            if reconcile:
                posts_reconcile_stuck()
        except Exception as exc:  # the point of the drill: the scheduler survives and tries again
            self.events[f"scheduler round failed ({type(exc).__name__})"] += 1
            connection.close()
        close_old_connections()

    def open_posts(self):
        """Posts not yet settled, except those waiting out a platform's rate-limit reset beyond the drill."""
        from django.utils import timezone

        from posts.models import SocialPost

        waiting = Q(status="SCHEDULED", error_kind="RATE_LIMITED", next_attempt_at__gt=timezone.now() + timedelta(seconds=60))
        return SocialPost.objects.filter(tenant=self.tenant, status__in=["SCHEDULED", "PUBLISHING"]).exclude(waiting)

    def open_count(self):
        return self.open_posts().count()

    def settle(self, *, started, scheduler=True):
        deadline = started + DRILL_LIMIT
        while time.monotonic() < deadline:
            if scheduler:
                self.tick()
            try:
                if not self.open_count():
                    return True
            except Exception:
                from django.db import connection

                connection.close()
            time.sleep(1)
        return False

    def stop(self):
        self.worker.stop()

    def verify(self, results, drill, started, extra=""):
        from posts.models import SocialPost

        waiting = SocialPost.objects.filter(tenant=self.tenant, status="SCHEDULED").exclude(
            pk__in=self.open_posts().values("pk")).count()
        posts = list(SocialPost.objects.filter(tenant=self.tenant).values("content", "status", "error", "error_kind"))
        at_sim, platform_of = Counter(), {}
        for p in self.sim.client.published():
            match = re.match(rf"({re.escape(self.tag)}[\w-]* post \d+):", p["text"] or "")
            if match:
                at_sim[match.group(1)] += 1
                platform_of[match.group(1)] = p["platform"]
        statuses = Counter(p["status"] for p in posts)
        published_once = failed_with_reason = ghost = 0
        ghosts_by_platform = Counter()
        for p in posts:
            key = p["content"].split(":")[0]
            if p["status"] == "PUBLISHED" and at_sim[key] == 1:
                published_once += 1
            elif p["status"] == "FAILED" and p["error"]:
                failed_with_reason += 1
                if at_sim[key] > 0:
                    ghost += 1
                    ghosts_by_platform[platform_of[key]] += 1
        duplicates = sum(n - 1 for n in at_sim.values() if n > 1)
        stuck = statuses["SCHEDULED"] + statuses["PUBLISHING"] - waiting
        kinds = Counter(p["error_kind"] for p in posts if p["status"] == "FAILED")
        accounted = published_once + failed_with_reason + waiting
        ok = accounted == len(posts) and stuck == 0 and duplicates == 0 and not ghost
        seconds = time.monotonic() - started
        results.add("drill", f"{drill}: posts / published once / failed+reason / waiting reset",
                    f"{len(posts)} / {published_once} / {failed_with_reason} / {waiting}", "all accounted for",
                    accounted == len(posts))
        results.add("drill", f"{drill}: stuck / duplicates at simulator", f"{stuck} / {duplicates}", "0 / 0",
                    stuck == 0 and duplicates == 0)
        if ghost:
            results.add("drill", f"{drill}: FAILED although at the simulator", str(ghost), "0", False)
        details = dict(self.events)
        doubled = Counter(platform_of[k] for k, n in at_sim.items() if n > 1)
        if doubled:
            details["published twice, by platform"] = dict(doubled)
        if ghosts_by_platform:
            details["FAILED although live, by platform"] = dict(ghosts_by_platform)
        if kinds:
            details["failed by kind"] = dict(kinds)
        results.note(f"{drill} ({seconds:.0f} s){': ' + extra if extra else ''} {details if details else ''}".rstrip())
        return ok


# ----------------------------------------------------------------------------- the drills


def drill_kill(sim, results):
    """SIGKILL the worker (its whole process group) four times while a batch publishes; restart it each time."""
    drill = Drill(sim, "kill", concurrency=4)
    started = time.monotonic()
    drill.posts()
    kills = 0
    next_kill = time.monotonic() + 4
    while kills < 4 and time.monotonic() < started + 60:
        drill.tick()
        if time.monotonic() >= next_kill:
            drill.worker.kill()
            kills += 1
            time.sleep(0.5)
            drill.restart_worker()
            next_kill = time.monotonic() + 4
        time.sleep(1)
    drill.events["worker SIGKILLs"] = kills
    drill.settle(started=started)
    drill.stop()
    return drill.verify(results, "worker SIGKILL x4", started)


def drill_storms(sim, results):
    """5xx, timeouts (the platform keeps the post) and 429 with a reset time, on every platform's publish call."""
    drill = Drill(sim, "storms", concurrency=8)
    for platform, endpoint in PUBLISH_ENDPOINTS.items():
        sim.client.inject(platform, endpoint, "server_error", times=10)
        sim.client.inject(platform, endpoint, "timeout", times=2, delay=4)
        sim.client.inject(platform, endpoint, "rate_limit", times=5, reset_after=15)
    since = max((r["seq"] for r in sim.client.requests()[-1:]), default=0)
    started = time.monotonic()
    drill.posts()
    drill.settle(started=started)
    drill.stop()
    early = early_retries_after_429(sim, since, reset_after=15)
    faults = Counter(r.get("fault") for r in sim.client.requests(since=since) if r["seq"] > since and r.get("fault"))
    drill.events["faults served"] = dict(faults)
    ok = drill.verify(results, "5xx / timeout / 429 storms", started)
    results.add("drill", "storms: X retries before the 429 reset time", str(early), "0", early == 0)
    return ok and early == 0


def early_retries_after_429(sim, since, *, reset_after):
    """X posts retried before the reset time their 429 named (matched by tweet text)."""
    import json

    last_429 = {}
    early = 0
    for r in sim.client.requests(platform="twitter", since=since):
        if r["seq"] <= since or r["method"] != "POST" or r["path"] != "/2/tweets":
            continue
        body = r.get("body")
        text = (body if isinstance(body, dict) else json.loads(body or "{}")).get("text", "") if body else ""
        if text in last_429 and r["time"] < last_429[text] + reset_after - 1:
            early += 1
        if r.get("status") == 429:
            last_429[text] = r["time"]
    return early


def drill_redis(sim, results):
    """Our own Redis SIGKILLed (queued tasks are lost) mid-run, started again 5 s later on the same port."""
    if common.OWN_REDIS is None:
        results.add("drill", "Redis cut: skipped (BENCH_BROKER_URL is not a Redis these drills started)", "-", "")
        return True
    drill = Drill(sim, "redis", concurrency=4)
    started = time.monotonic()
    drill.posts()
    for _ in range(4):
        drill.tick()
        time.sleep(1)
    # Only the Redis these drills started themselves is ever killed (queued tasks are lost with it).
    redis = common.OWN_REDIS
    redis.kill()
    try:
        for _ in range(5):
            drill.tick()
            time.sleep(1)
    finally:
        redis.start()  # same port: the worker and this process reconnect
    drill.events["Redis restarts"] = 1
    drill.settle(started=started)
    drill.stop()
    return drill.verify(results, "Redis restarted mid-run", started)


def drill_postgres(sim, results):
    """Every connection to the database terminated, three times, while the batch publishes."""
    drill = Drill(sim, "postgres", concurrency=8)
    started = time.monotonic()
    drill.posts()
    terminated = 0
    for _ in range(3):
        for _ in range(3):
            drill.tick()
            time.sleep(1)
        terminated += terminate_connections()
    drill.events["connections terminated"] = terminated
    drill.settle(started=started)
    drill.stop()
    return drill.verify(results, "PostgreSQL connections dropped x3", started)


def drill_beat(sim, results):
    """Real beat stopped for BEAT_OUTAGE seconds (standing for 10 minutes) with PUBLISH_MISSED_WINDOW_SECONDS=30.

    Posts due early in the outage are overdue by more than the window when beat returns: FAILED
    "missed its publish time", never published late. Posts due just before beat returns are
    published. Posts due before the outage are published as usual.
    """
    from django.conf import settings
    from django.utils import timezone

    from posts.models import SocialPost

    # Only this drill shortens the missed window (elsewhere backoff retries would run into it).
    settings.PUBLISH_MISSED_WINDOW_SECONDS = MISSED_WINDOW
    drill = Drill(sim, "beat", concurrency=8, PUBLISH_MISSED_WINDOW_SECONDS=MISSED_WINDOW)
    subprocess.run([sys.executable, "manage.py", "setup_periodic_tasks"], env=drill.env, check=True,
                   capture_output=True)
    beat_args = [sys.executable, "-m", "celery", "-A", "socialcrm", "beat", "--loglevel=WARNING",
                 "-s", "/dev/null"]
    beat = Process(beat_args, env=drill.env, name="drill-beat")
    started = time.monotonic()
    drill.posts(5, due_in=2, tag=f"{drill.tag}-before")
    wait_for(lambda: drill.open_count() == 0, 40)
    beat.stop()
    outage_start = timezone.now()
    drill.posts(5, due_in=5, tag=f"{drill.tag}-early")
    drill.posts(5, due_in=BEAT_OUTAGE - 10, tag=f"{drill.tag}-late")
    time.sleep(BEAT_OUTAGE)
    beat = Process(beat_args, env=drill.env, name="drill-beat")
    wait_for(lambda: drill.open_count() == 0, 60)
    beat.stop()
    drill.stop()
    by_tag = {}
    for tag in ("before", "early", "late"):
        rows = SocialPost.objects.filter(tenant=drill.tenant, content__startswith=f"{drill.tag}-{tag} ")
        by_tag[tag] = Counter(rows.values_list("status", flat=True))
        by_tag[tag]["missed"] = rows.filter(error_kind="MISSED").count()
    ok = drill.verify(results, f"beat stopped {BEAT_OUTAGE} s", started,
                      extra=f"outage from {outage_start:%H:%M:%S}; window {MISSED_WINDOW} s")
    early_ok = by_tag["early"]["missed"] == 20
    late_ok = by_tag["late"]["PUBLISHED"] == 20
    results.add("drill", "beat: due early in the outage -> FAILED missed", f"{by_tag['early']['missed']} / 20", "20 / 20",
                early_ok)
    results.add("drill", "beat: due within the window -> PUBLISHED", f"{by_tag['late']['PUBLISHED']} / 20", "20 / 20",
                late_ok)
    return ok and early_ok and late_ok


# ----------------------------------------------------------------------------- publishing at scale

SCALE_ACCOUNTS = {"facebook": ["2001", "2002"], "linkedin": ["3001", "3002"]}  # no 15-minute caps
SCALE_POSTS = 120
NEWER_POSTS = 200


def scanner_loop(seconds):
    """A scanner process: the publisher's scan and the reconciler, every second (two of these race)."""
    from django.db import close_old_connections

    from posts.publishing import posts_publish_due, posts_reconcile_stuck

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            posts_publish_due()
            posts_reconcile_stuck()
        except Exception as exc:  # a killed peer or a dropped connection: try again next round
            print(f"scanner round failed: {type(exc).__name__}: {exc}", flush=True)
        close_old_connections()
        time.sleep(1)


def drill_scale(sim, results):
    """Two publishing workers (the Procfile's line, prefork, twice) and two scanners; a worker SIGKILLed
    every 5 s; texts that repeat posts already live before the claim; 200 newer posts made on the same
    accounts while the batch publishes (more than a page of the feed). 0 duplicates, 0 false "published"."""
    import threading

    from django.utils import timezone

    from bench.b1_publish import create_due_posts
    from bench.common import make_tenant, procfile_workers
    from connections.services import connection_credentials
    from platforms import PostContent, adapter_for_slug
    from posts.models import SocialPost

    sim.client.reset()
    purge_queue()
    sim.client.set_latency(LATENCY_MS)
    tenant, club = make_tenant("drill-scale")
    connections = connect_accounts(tenant=tenant, club=club, accounts=SCALE_ACCOUNTS)
    # Two machines' publishing workers share the drill's one PostgreSQL: each keeps a connection per process
    # between tasks, so two Procfile lines at their default size would take every connection it allows (100).
    env = bench_environ(**drill_settings(sim), PUBLISH_WORKER_CONCURRENCY=SCALE_CONCURRENCY)
    tag = "D-scale"
    # Half the texts are already live once, from before any claim (an earlier post with the same words).
    earlier = Counter()
    conns = list(connections.values())
    for n in range(0, SCALE_POSTS, 2):
        connection = conns[n % len(conns)]
        text = f"{tag} post {n}: tee sheet open for the weekend medal"
        adapter_for_slug(connection.platform.lower()).publish(
            credentials=connection_credentials(connection=connection), content=PostContent(text=text))
        earlier[f"{tag} post {n}"] += 1
    time.sleep(3)  # the earlier copies are seconds older than any claim
    workers = procfile_workers(env=env, only={"worker-publishing"}, name="scale-a")
    workers += procfile_workers(env=env, only={"worker-publishing"}, name="scale-b")
    scanners = [Process([sys.executable, "-m", "bench.drills", "scanner", str(DRILL_LIMIT)], env=env,
                        name=f"drill-scale-scanner-{n}") for n in range(2)]
    started = time.monotonic()
    SocialPost.objects.filter(tenant=tenant).delete()
    create_due_posts(tenant=tenant, connections=connections, count=SCALE_POSTS,
                     due_at=timezone.now() + timedelta(seconds=2),
                     media_url=sim.client.media_url("sample.jpg"), tag=tag)

    def newer_posts():
        for n in range(NEWER_POSTS):
            connection = conns[n % len(conns)]
            try:
                adapter_for_slug(connection.platform.lower()).publish(
                    credentials=connection_credentials(connection=connection),
                    content=PostContent(text=f"Noise {n}: the bar is open until nine"))
            except Exception as exc:  # noqa: BLE001 - noise only
                print(f"noise post failed: {exc}", flush=True)
            time.sleep(0.05)

    noise = threading.Thread(target=newer_posts, daemon=True)
    noise.start()
    kills = 0
    open_posts = SocialPost.objects.filter(tenant=tenant, status__in=["SCHEDULED", "PUBLISHING"])
    next_kill = time.monotonic() + 5
    while time.monotonic() < started + DRILL_LIMIT and (open_posts.exists() or noise.is_alive()):
        if kills < 6 and time.monotonic() >= next_kill:
            slot = kills % 2
            workers[slot].kill()  # SIGKILL to its process group: the parent and its prefork children
            kills += 1
            workers[slot] = procfile_workers(env=env, only={"worker-publishing"}, name=f"scale-{kills}")[0]
            next_kill = time.monotonic() + 5
        time.sleep(1)
    noise.join(timeout=30)
    for process in workers + scanners:
        process.stop()
    # The check: every post PUBLISHED exactly once at the simulator (beyond the earlier copy), with an id
    # that is its own copy; or FAILED with a reason. None stuck.
    published = sim.client.published()
    by_id = {p["post_id"]: p for p in published}
    texts = Counter((p["text"] or "").split(":")[0] for p in published if (p["text"] or "").startswith(tag))
    rows = list(SocialPost.objects.filter(tenant=tenant).values("content", "status", "platform_post_id", "error",
                                                                "error_kind"))
    kinds = Counter(r["error_kind"] for r in rows if r["status"] == "FAILED")
    open_rows = Counter((r["status"], r["error_kind"]) for r in rows if r["status"] in ("SCHEDULED", "PUBLISHING"))
    false_published = duplicates = stuck = failed = 0
    recorded = Counter(r["platform_post_id"] for r in rows if r["platform_post_id"])
    for r in rows:
        key = r["content"].split(":")[0]
        ours = texts[key] - earlier[key]
        if r["status"] == "PUBLISHED":
            copy = by_id.get(r["platform_post_id"])
            if copy is None or not (copy["text"] or "").startswith(key + ":") or recorded[r["platform_post_id"]] > 1:
                false_published += 1
            if ours > 1:
                duplicates += ours - 1
        elif r["status"] == "FAILED":
            failed += 1
            duplicates += max(ours, 0)  # FAILED although live: a copy nobody recorded
        else:
            stuck += 1
    results.add("drill", "scale: posts / published / failed / stuck",
                f"{len(rows)} / {len(rows) - failed - stuck} / {failed} / {stuck}", "all settled", stuck == 0)
    results.add("drill", "scale: duplicates / false 'published'", f"{duplicates} / {false_published}", "0 / 0",
                duplicates == 0 and false_published == 0)
    results.note(f"scale ({time.monotonic() - started:.0f} s): 2 publishing workers (Procfile line, prefork, "
                 f"{SCALE_CONCURRENCY} processes each) + 2 "
                 f"scanners; {kills} worker SIGKILLs; {sum(earlier.values())} texts already live before the claim; "
                 f"{NEWER_POSTS} newer posts made meanwhile on the same accounts; failed by kind {dict(kinds)}; "
                 f"open {dict(open_rows)}")
    return stuck == 0 and duplicates == 0 and false_published == 0


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:
            from django.db import connection

            connection.close()
        time.sleep(1)
    return False


# ----------------------------------------------------------------------------- promotion sending

PROMO_MEMBERS = 600
PROMO_BOUNCES = 6  # addresses the mail server refuses for good (550)
PROMO_GREYLIST_EVERY = 10  # every 10th address is refused once with 451 (greylisting): retried, then delivered
PROMO_SMTP_DELAY = 0.02  # seconds the mail server takes per message, so kills land mid-send
PROMO_KILLS = 3
PROMO_SETTINGS = {"PROMOTION_SEND_CHUNK_SIZE": 50, "PROMOTION_DISPATCH_BATCH_SIZE": 10, "PROMOTION_CHUNK_LEASE_SECONDS": 6,
                  "PROMOTION_CHUNK_START_GRACE_SECONDS": 20, "PROMOTION_SEND_RETRY_BASE_SECONDS": 1,
                  "PROMOTION_SEND_RETRY_MAX_SECONDS": 4, "PROMOTION_SEND_MAX_ATTEMPTS": 4,
                  "PROMOTION_DISPATCH_STALE_SECONDS": 20}


class DrillSmtpServer:
    """A tiny SMTP server on a free loopback port, in a thread of the drill: it refuses some RCPTs with 451 the
    first time (transient) and the bounce addresses with 550 (permanent), and counts what it accepted."""

    def __init__(self, *, greylist, bounces, delay):
        import socketserver
        import threading

        self.accepted, self.refused = Counter(), Counter()
        self.greylist, self.bounces, self.delay = set(greylist), set(bounces), delay
        self.lock = threading.Lock()
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line):
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self):
                self.reply("220 drill ESMTP")
                rcpts = []
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    command = line.decode("utf-8", "replace").strip()
                    verb = command[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 drill")
                    elif verb == "MAIL":
                        rcpts = []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        address = command.split(":", 1)[1].strip().strip("<>").lower()
                        with server.lock:
                            if address in server.bounces:
                                server.refused["550"] += 1
                                self.reply("550 5.1.1 user unknown")
                                continue
                            if address in server.greylist:
                                server.greylist.discard(address)
                                server.refused["451"] += 1
                                self.reply("451 4.7.1 greylisted, try again later")
                                continue
                        rcpts.append(address)
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 go ahead")
                        while self.rfile.readline() not in (b".\r\n", b".\n", b""):
                            pass
                        time.sleep(server.delay)
                        with server.lock:
                            server.accepted.update(rcpts)
                        rcpts = []
                        self.reply("250 OK queued")
                    elif verb == "RSET":
                        rcpts = []
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 OK")

        class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass  # a SIGKILLed worker drops its connection mid-message: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def promotion_scheduler_loop():
    """Stands in for beat in the promotion drill (its own process, its own broker): the dispatcher and the chunk
    reaper every second, as `promotions.dispatch_due` and `promotions.reap_send_chunks` would run."""
    setup_django(**{k: os.environ[k] for k in ("CELERY_BROKER_URL",) if k in os.environ})
    from django.db import close_old_connections

    from promotions import tasks

    while True:
        try:
            tasks.dispatch_due()
            tasks.reap_send_chunks()
        except Exception as exc:  # the worker's restarts must not stop the scheduler
            print(f"scheduler round failed: {type(exc).__name__}: {exc}", flush=True)
        close_old_connections()
        time.sleep(1)


def drill_promotions(sim, results):
    """An email announcement to 600 members through a local SMTP server that refuses some RCPTs with 451 once
    and some with 550 for good, while the worker is SIGKILLed three times mid-send. Its own Redis (free port)."""
    from django.db.models import Count
    from django.utils import timezone

    from bench.b3_fanout import OwnRedis
    from crm.models import Member
    from promotions.models import EventPromotion, PromotionDelivery, PromotionDispatch, PromotionSendChunk

    started = time.monotonic()
    redis = OwnRedis()
    addresses = [f"promo{n}@drill.example" for n in range(PROMO_MEMBERS)]
    bounces = addresses[5::PROMO_MEMBERS // PROMO_BOUNCES][:PROMO_BOUNCES]
    greylist = [a for n, a in enumerate(addresses) if n % PROMO_GREYLIST_EVERY == 3 and a not in bounces]
    smtp = DrillSmtpServer(greylist=greylist, bounces=bounces, delay=PROMO_SMTP_DELAY)
    env = bench_environ(CELERY_BROKER_URL=redis.url, EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                        EMAIL_HOST="127.0.0.1", EMAIL_PORT=smtp.port, EMAIL_USE_TLS=0, EMAIL_URL="", **PROMO_SETTINGS)
    worker = scheduler = None
    kills = 0
    try:
        tenant, club = make_tenant("drill-promotions")
        Member.objects.bulk_create([
            Member(tenant=tenant, club=club, first_name=f"P{n}", last_name="Drill", email=address, email_consent=True)
            for n, address in enumerate(addresses)])
        now = timezone.now()
        promotion = EventPromotion.objects.create(
            tenant=tenant, club=club, source_type="SPECIAL", source_id="drill-promotions", channels=["EMAIL"],
            reminder_days=[], event_name="Drill open", event_starts_at=now + timedelta(days=5), created_by="drill")
        dispatch = PromotionDispatch.objects.create(tenant=tenant, promotion=promotion, kind="ANNOUNCEMENT",
                                                    channel="EMAIL", scheduled_for=now)
        worker = celery_worker(concurrency=2, env=env, name="drill-promotions-worker")
        scheduler = Process([sys.executable, "-c", "import bench.drills as d; d.promotion_scheduler_loop()"], env=env,
                            name="drill-promotions-scheduler")
        # Kill the worker (its whole process group) whenever sending is under way, three times.
        next_kill = None
        while kills < PROMO_KILLS and time.monotonic() < started + 90:
            sent = sum(smtp.accepted.values())
            if next_kill is None and sent >= 20:
                next_kill = time.monotonic() + 1.5
            if next_kill is not None and time.monotonic() >= next_kill:
                worker.kill()
                kills += 1
                time.sleep(0.5)
                worker = celery_worker(concurrency=2, env=env, name="drill-promotions-worker")
                next_kill = time.monotonic() + 4
            time.sleep(0.2)
        last_kill = time.monotonic()
        settled = wait_for(lambda: PromotionDispatch.objects.get(pk=dispatch.pk).status not in ("PLANNED", "SENDING"),
                           DRILL_LIMIT)
        settle_s = time.monotonic() - last_kill
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.stop()
        smtp.stop()
        redis.stop()

    dispatch.refresh_from_db()
    rows = list(PromotionDelivery.objects.filter(dispatch=dispatch).values("member__email", "status", "reason"))
    by_status = Counter(r["status"] for r in rows)
    duplicates = sum(n - 1 for n in smtp.accepted.values() if n > 1)
    sent_not_accepted = sum(1 for r in rows if r["status"] == "SENT" and smtp.accepted[r["member__email"]] != 1)
    failed = [r for r in rows if r["status"] == "FAILED"]
    failed_without_reason = sum(1 for r in failed if not r["reason"])
    in_doubt = [r for r in failed if r["reason"].startswith("interrupted")]
    in_doubt_delivered = sum(1 for r in in_doubt if smtp.accepted[r["member__email"]])
    bounced = sum(1 for r in failed if "550" in r["reason"])
    bounced_in_doubt = sum(1 for r in in_doubt if r["member__email"] in set(bounces))
    greylisted_sent = sum(1 for r in rows if r["member__email"] in set(greylist) and r["status"] == "SENT")
    greylisted_in_doubt = sum(1 for r in in_doubt if r["member__email"] in set(greylist))
    missing = PROMO_MEMBERS - len(rows)
    stuck = by_status["PENDING"] + by_status["SENDING"]
    accounted = by_status["SENT"] - sent_not_accepted + len(failed) - failed_without_reason
    counters_ok = (dispatch.planned_count, dispatch.sent_count, dispatch.failed_count) == (
        len(rows), by_status["SENT"], len(failed))
    open_chunks = PromotionSendChunk.objects.filter(dispatch=dispatch).exclude(status="DONE").count()
    recovered = PromotionSendChunk.objects.filter(dispatch=dispatch, claims__gt=1).aggregate(n=Count("id"))["n"]

    results.add("drill", "promotion: members / sent once / failed+reason / stuck+missing",
                f"{PROMO_MEMBERS} / {by_status['SENT'] - sent_not_accepted} / {len(failed) - failed_without_reason} / "
                f"{stuck + missing}", "all accounted for", accounted == PROMO_MEMBERS and stuck == missing == 0)
    results.add("drill", "promotion: duplicates at the mail server", str(duplicates), "0", duplicates == 0)
    results.add("drill", "promotion: 550 bounces failed with the reason (or in doubt)",
                f"{bounced} + {bounced_in_doubt} / {len(bounces)}", f"{len(bounces)} / {len(bounces)}",
                bounced + bounced_in_doubt == len(bounces))
    results.add("drill", "promotion: 451 greylisted -> sent after a retry (or in doubt)",
                f"{greylisted_sent} + {greylisted_in_doubt} / {len(greylist)}", f"{len(greylist)} / {len(greylist)}",
                greylisted_sent + greylisted_in_doubt == len(greylist))
    results.add("drill", "promotion: counters = rows; open chunks; status",
                f"{'yes' if counters_ok else 'NO'}; {open_chunks}; {dispatch.status}", "yes; 0; SENT",
                counters_ok and open_chunks == 0 and dispatch.status == "SENT" and settled)
    results.note(f"promotion drill ({time.monotonic() - started:.0f} s): worker SIGKILLs {kills}; settled "
                 f"{settle_s:.0f} s after the last kill; chunks handed on after a dead worker {recovered}; "
                 f"in doubt (interrupted, not resent) {len(in_doubt)}, of which had reached the mail server "
                 f"{in_doubt_delivered}; RCPT refusals served {dict(smtp.refused)}; settings {PROMO_SETTINGS}")
    return accounted == PROMO_MEMBERS and stuck == missing == duplicates == 0 and counters_ok and settled


DRILLS = {"kill": drill_kill, "storms": drill_storms, "redis": drill_redis, "postgres": drill_postgres,
          "beat": drill_beat, "scale": drill_scale, "promotions": drill_promotions}


def main(argv):
    if argv[:1] == ["scanner"]:
        setup_django()
        scanner_loop(float(argv[1]))
        return 0
    chosen = [d for d in DRILLS if not argv or d in argv]
    create_database()
    sim = Simulator()
    results = Results("drills")
    outcomes = {}
    try:
        setup_django(**drill_settings(sim))
        for name in chosen:
            print(f"\n##### drill: {name}", flush=True)
            try:
                outcomes[name] = DRILLS[name](sim, results)
            except Exception as exc:  # one drill's crash must not hide the others' results
                outcomes[name] = False
                results.add("drill", f"{name}: crashed", f"{type(exc).__name__}: {exc}"[:60], "", False)
    finally:
        sim.stop()
        from django.db import connections

        connections.close_all()
        if os.environ.get("DRILLS_KEEP_DB") != "1":
            drop_database()
    results.settings = {"database": BENCH_DB, "PUBLISH_STUCK_AFTER_SECONDS": STUCK_AFTER,
                        "PUBLISH_MISSED_WINDOW_SECONDS": f"{MISSED_WINDOW} s in the beat drill, default elsewhere", "beat outage": f"{BEAT_OUTAGE} s",
                        "latency": f"{LATENCY_MS} ms", "posts per platform per drill": PER_PLATFORM,
                        "backoff": "base 2 s, max 10 s", "PLATFORM_HTTP_TIMEOUT": "3 s"}
    results.save()
    print("\n" + "=" * 110)
    print("SocialCRM fault drills")
    for row in results.rows:
        verdict = "" if row["pass"] is None else ("PASS" if row["pass"] else "FAIL")
        print(f"  {row['figure']:<58} {row['value']:>20}  {row['limit']:<18} {verdict}")
    for note in results.notes:
        print(f"  note: {note}")
    print("  settings: " + "; ".join(f"{k}: {v}" for k, v in results.settings.items()))
    print("=" * 110)
    return 0 if all(outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
