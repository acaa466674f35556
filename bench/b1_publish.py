"""B1 publish throughput: 2,000 posts due at the same moment across the four platforms.

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

POSTS = int(os.environ.get("BENCH_B1_POSTS", "2000"))
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


def main(argv):
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
