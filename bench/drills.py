"""``make drills``: fault drills on loopback, each bounded to a few minutes, each reported with its counts.

Database ``socialcrm_drills`` (created and dropped here), broker Redis db 14, the simulator with its
real limits (no raised quotas), a real Celery worker (threads pool). Except in the beat drill, this
process stands in for beat: it runs the publisher's scan (``posts_publish_due``) every second and the
stuck-post reconciler (``posts_reconcile_stuck``) every second, with ``PUBLISH_STUCK_AFTER_SECONDS``
shortened to 10 s so the reconciler acts within the drill.

Every drill ends with the same check of every post: PUBLISHED and exactly once at the simulator,
or FAILED with a reason; none left SCHEDULED/PUBLISHING ("stuck"); no text twice at the simulator.

    python -m bench.drills                 # all
    python -m bench.drills kill storms     # some: kill, storms, redis, postgres, beat, scale
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


# ----------------------------------------------------------------------------- publishing at scale (issue 14)

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
    env = bench_environ(**drill_settings(sim))
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
    results.note(f"scale ({time.monotonic() - started:.0f} s): 2 publishing workers (Procfile line, prefork) + 2 "
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


DRILLS = {"kill": drill_kill, "storms": drill_storms, "redis": drill_redis, "postgres": drill_postgres,
          "beat": drill_beat, "scale": drill_scale}


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
