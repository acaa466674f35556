"""B1 publish throughput.

``python -m bench.b1_publish`` (the default figure): 20,000 posts due within one minute
over 1,000 tenants, with the product's own topology: the Procfile's worker lines (queues, prefork,
concurrency) and real beat at its default scan period (PUBLISH_SCAN_INTERVAL_SECONDS, 1 s). Limit:
the platform calls × 200 ms divided by the publishing concurrency, or the minute the posts fall due
over, whichever is longer; target within 2× that. Also: 0 duplicates at the simulator, and 0
platform look-ups by the reconciler (posts that only waited in the queue are never looked up).
``BENCH_B1_POSTS`` / ``BENCH_B1_TENANTS`` scale it down. ``python -m bench.b1_publish legacy`` runs
the older figure below.

Legacy: 2,000 posts due at the same moment across the four platforms.

The simulator adds 200 ms to every platform call (``POST /_sim/latency``); a real Celery worker on
Redis with the threads pool (I/O-bound work: each task mostly waits on HTTP) publishes; the
publisher's scan (``posts.publishing.posts_publish_due``, the body of the periodic task
``posts.publish_due_posts``) is run directly by this process in a loop, once a second, from the
due moment on. Measured: due moment → last ``published_at``.

The limit is what the platform latency alone makes unavoidable, counted honestly per post: every
platform call of the run (from the simulator's log: X and LinkedIn one call, Facebook one,
Instagram create container + status polls + publish) × 200 ms, plus Instagram's waits between
status polls, divided by the worker's concurrency. Target: within 2× that limit. Duplicates are
counted by the simulator (the same text published twice): must be 0.
"""

import os
import sys
import time
from collections import Counter
from datetime import timedelta

from bench.common import (
    POSTING_ACCOUNTS,
    Results,
    Simulator,
    celery_worker,
    connect_accounts,
    make_tenant,
    purge_queue,
    setup_django,
    wait_for_worker,
    wipe_tenant,
)

POSTS = int(os.environ.get("BENCH_B1_POSTS", "20000"))
TENANTS = int(os.environ.get("BENCH_B1_TENANTS", "1000"))
SPREAD_SECONDS = 60
LEGACY_POSTS = 2000
LATENCY_MS = 200
CONCURRENCY = int(os.environ.get("BENCH_B1_CONCURRENCY", "64"))
IG_POLL_INTERVAL = 0.2
TIMEOUT = 300


def create_due_posts(*, tenant, connections, count, due_at, media_url, tag):
    """``count`` SCHEDULED posts, a quarter per platform, spread over that platform's accounts."""
    from posts.models import SocialPost

    by_slug = {}
    for (slug, _account), connection in connections.items():
        by_slug.setdefault(slug, []).append(connection)
    rows = []
    slugs = sorted(by_slug)
    for n in range(count):
        slug = slugs[n % len(slugs)]
        accounts = by_slug[slug]
        connection = accounts[(n // len(slugs)) % len(accounts)]
        rows.append(SocialPost(
            tenant=tenant, connection=connection, status="SCHEDULED", scheduled_at=due_at, created_by="bench",
            content=f"{tag} post {n}: tee sheet open for the weekend medal",
            media_urls=[media_url] if slug == "instagram" else []))
    SocialPost.objects.bulk_create(rows, batch_size=1000)
    return [r.pk for r in rows]


def scan_until_claimed(*, tenant, deadline, interval=1.0, reconcile=False):
    """Run the publisher's scan (and, when asked, the stuck-post reconciler) like beat would."""
    from posts.models import SocialPost
    from posts.publishing import posts_publish_due, posts_reconcile_stuck

    while time.monotonic() < deadline:
        posts_publish_due()
        if reconcile:
            posts_reconcile_stuck()
        open_posts = SocialPost.objects.filter(tenant=tenant, status__in=["SCHEDULED", "PUBLISHING"]).count()
        if not open_posts:
            return True
        time.sleep(interval)
    return False


def duplicates_at(sim, tag):
    texts = Counter(p["text"].split("\n")[0] for p in sim.client.published() if p["text"].startswith(tag))
    return sum(n - 1 for n in texts.values() if n > 1), sum(texts.values())


def legacy_main(argv):
    global POSTS
    POSTS = LEGACY_POSTS
    sim = Simulator(raised_quotas=True)
    extra = {**sim.settings(), "MEDIA_PROCESSING_POLL_INTERVAL": str(IG_POLL_INTERVAL)}
    worker = None
    try:
        setup_django(**extra)
        from bench.common import bench_environ

        purge_queue()
        worker = celery_worker(concurrency=CONCURRENCY, env=bench_environ(**extra), name="b1-worker")
        wait_for_worker()
        return run(sim)
    finally:
        if worker:
            worker.stop()
        sim.stop()


def run(sim):
    from django.db.models import Max
    from django.utils import timezone

    from posts.models import SocialPost

    results = Results("b1_publish")
    wipe_tenant("bench-publish")
    tenant, club = make_tenant("bench-publish")
    connections = connect_accounts(tenant=tenant, club=club, accounts=POSTING_ACCOUNTS)
    sim.client.set_latency(LATENCY_MS)
    since = max((r["seq"] for r in sim.client.requests()[-1:]), default=0)

    due_at = timezone.now() + timedelta(seconds=3)
    create_due_posts(tenant=tenant, connections=connections, count=POSTS, due_at=due_at,
                     media_url=sim.client.media_url("sample.jpg"), tag="B1")
    time.sleep(max(0.0, (due_at - timezone.now()).total_seconds()))
    done = scan_until_claimed(tenant=tenant, deadline=time.monotonic() + TIMEOUT)
    posts = SocialPost.objects.filter(tenant=tenant)
    statuses = Counter(posts.values_list("status", flat=True))
    last = posts.filter(status="PUBLISHED").aggregate(last=Max("published_at"))["last"]
    elapsed = (last - due_at).total_seconds() if last else float("nan")

    calls = [r for r in sim.client.requests(since=since) if r["seq"] > since]
    per_platform = Counter(r["platform"] for r in calls)
    ig_polls = sum(1 for r in calls if r["platform"] == "instagram" and r["method"] == "GET"
                   and "status_code" in str(r.get("query")))
    ig_posts = posts.filter(connection__platform="INSTAGRAM").count()
    ig_waits = max(0, ig_polls - ig_posts) * IG_POLL_INTERVAL
    limit = (len(calls) * LATENCY_MS / 1000 + ig_waits) / CONCURRENCY
    duplicates, published_at_sim = duplicates_at(sim, "B1")

    results.add("B1", f"{POSTS:,} due posts: due -> all PUBLISHED", f"{elapsed:.1f} s",
                f"<= 2 x {limit:.1f} s = {2 * limit:.1f} s", bool(done and elapsed <= 2 * limit))
    results.add("B1", "  ratio to the limit", f"{elapsed / limit:.2f} x", "<= 2.00 x", elapsed <= 2 * limit)
    results.add("B1", "  platform calls (X / FB / IG / LinkedIn)",
                " / ".join(str(per_platform[p]) for p in ("twitter", "facebook", "instagram", "linkedin")))
    results.add("B1", "  posts PUBLISHED / FAILED / other", f"{statuses['PUBLISHED']} / {statuses['FAILED']} / "
                f"{POSTS - statuses['PUBLISHED'] - statuses['FAILED']}", f"{POSTS} / 0 / 0",
                statuses["PUBLISHED"] == POSTS)
    results.add("B1", "  duplicates at the simulator", str(duplicates), "0", duplicates == 0)
    results.add("B1", "  posts at the simulator", f"{published_at_sim:,}", f"{POSTS:,}", published_at_sim == POSTS)
    failed = list(posts.filter(status="FAILED").values_list("error", flat=True)[:3])
    if failed:
        results.note(f"B1 failures, e.g.: {failed}")
    results.note(f"B1 limit = ({len(calls)} platform calls x {LATENCY_MS} ms + Instagram poll waits {ig_waits:.0f} s) "
                 f"/ {CONCURRENCY} threads = {limit:.1f} s")
    results.settings = {"posts": POSTS, "latency": f"{LATENCY_MS} ms", "worker": f"celery --pool=threads "
                        f"--concurrency={CONCURRENCY}", "broker": "Redis", "scan": "posts_publish_due every 1 s, "
                        "run by the bench process", "MEDIA_PROCESSING_POLL_INTERVAL": IG_POLL_INTERVAL,
                        "quotas": "X and Instagram publish quotas raised", "accounts": "X 1, Facebook 2, "
                        "Instagram 1, LinkedIn 2"}
    results.save()
    wipe_tenant("bench-publish")
    return 0


# ----------------------------------------------------------------------------- the rush


def many_tenants(count, *, prefix, accounts=POSTING_ACCOUNTS):
    """``count`` tenants, each with the simulated accounts connected: the first through the real OAuth
    flow, the others with the same tokens sealed for their own rows."""
    from connections.models import SocialConnection
    from connections.services import connection_credentials

    first, club = make_tenant(f"{prefix}-0")
    template = connect_accounts(tenant=first, club=club, accounts=accounts)
    tokens = {key: connection_credentials(connection=c) for key, c in template.items()}
    by_tenant = {first.pk: list(template.values())}
    for n in range(1, count):
        tenant, club = make_tenant(f"{prefix}-{n}")
        rows = []
        for key, c in template.items():
            row = SocialConnection(tenant=tenant, club=club, platform=c.platform, account_id=c.account_id,
                                   account_name=c.account_name, account_type=c.account_type,
                                   permissions=c.permissions, account_details=c.account_details,
                                   token_expiry=c.token_expiry, connected_by="bench")
            row.set_tokens(access_token=tokens[key].access_token, refresh_token=tokens[key].refresh_token)
            row.save()
            rows.append(row)
        by_tenant[tenant.pk] = rows
    return by_tenant


def wipe_tenants(prefix):
    from bench.wipe import wipe_posts_in_sql
    from crm.models import Tenant

    tenants = list(Tenant.objects.filter(id__startswith=f"{prefix}-").values_list("pk", flat=True))
    wipe_posts_in_sql(tenants)
    Tenant.objects.filter(pk__in=tenants).delete()


def create_rush(*, by_tenant, count, first_due, spread, media_url, tag):
    """``count`` SCHEDULED posts over every tenant and platform, due evenly over ``spread`` seconds."""
    from posts.models import SocialPost

    tenants = sorted(by_tenant)
    rows = []
    for n in range(count):
        connections = by_tenant[tenants[n % len(tenants)]]
        connection = connections[(n // len(tenants)) % len(connections)]
        rows.append(SocialPost(
            tenant_id=connection.tenant_id, connection=connection, status="SCHEDULED", created_by="bench",
            scheduled_at=first_due + timedelta(seconds=spread * n / max(count, 1)),
            content=f"{tag} post {n}: tee sheet open for the weekend medal",
            media_urls=[media_url] if connection.platform == "INSTAGRAM" else []))
    SocialPost.objects.bulk_create(rows, batch_size=2000)


LIST_CALLS = ("/tweets", "/feed", "/media", "/rest/posts")


def lookups(calls):
    """Platform calls that list an account's recent posts (the reconciler's look-ups). Not counted: status
    polls of a container, and the metric sync's batched reads by id (X ``GET /2/tweets?ids=``), which a
    run longer than the sync's 5-minute period also makes."""
    return sum(1 for r in calls if r["method"] == "GET" and "status_code" not in str(r.get("query"))
               and "ids" not in (r.get("query") or {}) and any(r["path"].endswith(p) for p in LIST_CALLS))


def metric_reads(calls):
    """The metric sync's batched reads by id (X ``GET /2/tweets?ids=``, Graph ``GET /?ids=``)."""
    return sum(1 for r in calls if r["method"] == "GET" and "ids" in (r.get("query") or {}))


def lag_figures(posts):
    from bench.common import percentile

    lags = [x for x in posts.filter(status="PUBLISHED").values_list("publish_lag_seconds", flat=True) if x is not None]
    return {"p50": percentile(lags, 50), "p95": percentile(lags, 95), "max": max(lags) if lags else float("nan")}


def lag_stages(posts):
    """Where the lag went, p50 / p95 of each stage: due → claimed by the scan, claimed → task started,
    started → published (the platform calls and the task's own work)."""
    from bench.common import percentile

    rows = posts.filter(status="PUBLISHED").values_list("scheduled_at", "first_claimed_at", "publishing_started_at",
                                                        "published_at")
    stages = {"due → claimed": [], "claimed → started": [], "started → published": []}
    for due, claimed, started, published in rows:
        if None in (due, claimed, started, published):
            continue
        stages["due → claimed"].append(max((claimed - due).total_seconds(), 0.0))
        stages["claimed → started"].append(max((started - claimed).total_seconds(), 0.0))
        stages["started → published"].append(max((published - started).total_seconds(), 0.0))
    return {name: (percentile(values, 50), percentile(values, 95)) for name, values in stages.items()}


def cpu_busy():
    """The machine's busy CPU-seconds so far (all cores, from /proc/stat)."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def publishing_concurrency(env):
    import re as _re

    from bench.common import ROOT

    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("worker-publishing:"):
            match = _re.search(r"--concurrency=\$\{(\w+):-(\d+)\}", line)
            return int(env.get(match.group(1)) or match.group(2))
    raise RuntimeError("no worker-publishing line in the Procfile")


def main(argv):
    if argv[:1] == ["legacy"]:
        return legacy_main(argv[1:])
    from bench.common import bench_environ

    sim = Simulator(raised_quotas=True)
    extra = sim.settings()
    processes = []
    try:
        setup_django(**extra)
        env = bench_environ(**extra)
        purge_queue()
        return rush(sim, env, processes)
    finally:
        for process in processes:
            process.stop()
        sim.stop()


def rush(sim, env, processes):
    from django.db.models import Max
    from django.utils import timezone

    from bench.common import beat_process, procfile_workers
    from posts.models import SchedulerHeartbeat, SocialPost

    results = Results("b1_publish")
    prefix = "bench-rush"
    wipe_tenants(prefix)
    print(f"B1: {TENANTS:,} tenants ...", flush=True)
    by_tenant = many_tenants(TENANTS, prefix=prefix)
    sim.client.set_latency(LATENCY_MS)
    since = max((r["seq"] for r in sim.client.requests()[-1:]), default=0)
    first_due = timezone.now() + timedelta(seconds=40)
    create_rush(by_tenant=by_tenant, count=POSTS, first_due=first_due, spread=SPREAD_SECONDS,
                media_url=sim.client.media_url("sample.jpg"), tag="B1")
    processes += procfile_workers(env=env, name="b1")
    processes.append(beat_process(env=env, name="b1-beat"))
    concurrency = publishing_concurrency(env)
    posts = SocialPost.objects.filter(tenant__id__startswith=f"{prefix}-")
    # Wait well past the limit (about 2.5 platform calls per post at 200 ms, plus an Instagram image's
    # second poll), so a run that misses it still shows by how much.
    deadline = time.monotonic() + max(600, 3 * POSTS * 0.75 / concurrency)
    while time.monotonic() < deadline and posts.filter(status__in=["SCHEDULED", "PUBLISHING"]).exists():
        time.sleep(2)
    statuses = Counter(posts.values_list("status", flat=True))
    last = posts.filter(status="PUBLISHED").aggregate(last=Max("published_at"))["last"]
    elapsed = (last - first_due).total_seconds() if last else float("nan")
    calls = [r for r in sim.client.requests(since=since) if r["seq"] > since]
    looked, metrics_read = lookups(calls), metric_reads(calls)
    ig_polls = sum(1 for r in calls if r["platform"] == "instagram" and "status_code" in str(r.get("query")))
    ig_posts = posts.filter(connection__platform="INSTAGRAM").count()
    from django.conf import settings

    # The product's wait between two status polls of an image container (the posts carry one image each)
    # holds a worker only when it is waited for in the call; by default the post goes back to the queue.
    ig_interval = min(settings.MEDIA_PROCESSING_POLL_INTERVAL, settings.MEDIA_PROCESSING_IMAGE_POLL_INTERVAL)
    held = settings.MEDIA_PROCESSING_IMAGE_WAIT_IN_CALL > 0
    ig_waits = max(0, ig_polls - ig_posts) * ig_interval if held else 0.0
    work = (len(calls) * LATENCY_MS / 1000 + ig_waits) / concurrency
    limit = max(work, SPREAD_SECONDS)
    duplicates, at_sim = duplicates_at(sim, "B1")
    lag = lag_figures(posts)
    reconciled = SchedulerHeartbeat.objects.filter(name="reconcile_stuck_posts").values_list("last_summary", flat=True).first()
    label = f"{POSTS:,} posts due in {SPREAD_SECONDS} s, {TENANTS:,} tenants"
    results.add("B1", f"{label}: first due -> all PUBLISHED", f"{elapsed:.1f} s",
                f"<= 2 x {limit:.1f} s = {2 * limit:.1f} s", bool(elapsed <= 2 * limit and statuses["PUBLISHED"] == POSTS))
    results.add("B1", "  publish lag p50 / p95 / max", f"{lag['p50']:.1f} / {lag['p95']:.1f} / {lag['max']:.1f} s")
    results.add("B1", "  posts PUBLISHED / FAILED / other", f"{statuses['PUBLISHED']} / {statuses['FAILED']} / "
                f"{POSTS - statuses['PUBLISHED'] - statuses['FAILED']}", f"{POSTS} / 0 / 0", statuses["PUBLISHED"] == POSTS)
    results.add("B1", "  duplicates at the simulator", str(duplicates), "0", duplicates == 0)
    results.add("B1", "  posts at the simulator", f"{at_sim:,}", f"{POSTS:,}", at_sim == POSTS)
    results.add("B1", "  reconciler look-ups (recent-post listings)", str(looked), "0", looked == 0)
    results.add("B1", "  metric sync reads by id meanwhile (not look-ups)", str(metrics_read))
    results.note(f"B1 limit = max({SPREAD_SECONDS} s the posts fall due over, ({len(calls)} platform calls x "
                 f"{LATENCY_MS} ms + Instagram poll waits {ig_waits:.0f} s) / {concurrency} publishing processes "
                 f"= {work:.1f} s); last reconciler run: {reconciled}")
    results.settings = {"posts": POSTS, "tenants": TENANTS, "latency": f"{LATENCY_MS} ms",
                        "workers": "the Procfile's worker-* lines (prefork)", "beat": "real beat, product periods",
                        "broker": "a redis-server of the bench's own", "quotas": "X and Instagram raised"}
    results.save()
    for process in processes:  # the workers stop before the rows they might still work on go
        process.stop()
    processes.clear()
    wipe_tenants(prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
