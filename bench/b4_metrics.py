"""B4 metric sync: 10,000 X posts, 1,000 Facebook and 1,000 Instagram posts due for a sync.

The posts really exist at the simulator (published there through the app's own adapters, with the
X and Instagram quotas raised: see ``bench.simulator``); their rows are PUBLISHED two hours ago and
never synced, so all are due on the hourly step of the cadence. One run of the app's
``posts.metrics.posts_sync_metrics`` is timed and the platform calls it made are counted from the
simulator's request log.
"""

import concurrent.futures
import sys
import time
from collections import Counter
from datetime import timedelta

from bench.common import Results, Simulator, connect_accounts, make_tenant, setup_django, wipe_tenant

COUNTS = {"twitter": 10_000, "facebook": 1_000, "instagram": 1_000}
X_CALL_LIMIT = 100
ACCOUNTS = {"twitter": ["1500000000000000001"], "facebook": ["2001"], "instagram": ["17841400000000001"]}


def publish_remote(connections, sim):
    """Create the posts at the simulator through the adapters; returns {slug: [platform post ids]}."""
    from connections.services import connection_credentials
    from platforms import PostContent, get_adapter

    ids = {}
    for (slug, _account), connection in connections.items():
        adapter = get_adapter(connection.platform)
        credentials = connection_credentials(connection=connection)
        media = [sim.client.media_url("sample.jpg")] if slug == "instagram" else []

        def one(n, adapter=adapter, credentials=credentials, media=media, slug=slug):
            content = PostContent(text=f"B4 {slug} post {n}: results from the medal round", media_urls=media)
            return adapter.publish(credentials=credentials, content=content).platform_post_id

        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            ids[slug] = list(pool.map(one, range(COUNTS[slug])))
    return ids


def main(argv):
    sim = Simulator(raised_quotas=True)
    try:
        setup_django(**sim.settings(), MEDIA_PROCESSING_POLL_INTERVAL="0.05")
        return run(sim)
    finally:
        sim.stop()


def run(sim):
    from django.core.cache import cache
    from django.utils import timezone

    from posts.metrics import posts_sync_metrics
    from posts.models import PostMetricSnapshot, SocialPost

    results = Results("b4_metrics")
    wipe_tenant("bench-sync")
    tenant, club = make_tenant("bench-sync")
    connections = connect_accounts(tenant=tenant, club=club, accounts=ACCOUNTS)
    print("B4: publishing 12,000 posts at the simulator ...", flush=True)
    started = time.monotonic()
    remote = publish_remote(connections, sim)
    results.note(f"12,000 posts created at the simulator in {time.monotonic() - started:.0f} s (set-up, not timed)")

    published_at = timezone.now() - timedelta(hours=2)
    rows = []
    for (slug, _account), connection in connections.items():
        for n, platform_post_id in enumerate(remote[slug]):
            rows.append(SocialPost(tenant=tenant, connection=connection, content=f"B4 {slug} post {n}",
                                   status="PUBLISHED", scheduled_at=published_at, published_at=published_at,
                                   platform_post_id=platform_post_id, created_by="bench", attempts=1))
    SocialPost.objects.bulk_create(rows, batch_size=2000)

    # The set-up's 2,000 Graph calls would count against the app's hourly usage: let that hour pass.
    sim.client.advance_clock(3601)
    cache.clear()
    since = max((r["seq"] for r in sim.client.requests(since=0)[-1:]), default=0)
    started = time.monotonic()
    summary = posts_sync_metrics()
    elapsed = time.monotonic() - started
    calls = [r for r in sim.client.requests(since=since) if r["seq"] > since]
    by_platform = Counter(r["platform"] for r in calls)
    synced = Counter(SocialPost.objects.filter(tenant=tenant, engagement_synced_at__isnull=False)
                     .values_list("connection__platform", flat=True))
    results.add("B4", "X: platform calls for 10,000 posts", str(by_platform["twitter"]), f"<= {X_CALL_LIMIT}",
                by_platform["twitter"] <= X_CALL_LIMIT)
    results.add("B4", "X: posts synced", f"{synced['TWITTER']:,}", "10,000", synced["TWITTER"] == COUNTS["twitter"])
    results.add("B4", "Facebook: platform calls for 1,000 posts", str(by_platform["facebook"]))
    results.add("B4", "Facebook: posts synced in this run", f"{synced['FACEBOOK']:,} / 1,000", "(rest: next runs)")
    results.add("B4", "Instagram: platform calls for 1,000 posts", str(by_platform["instagram"]))
    results.add("B4", "Instagram: posts synced in this run", f"{synced['INSTAGRAM']:,} / 1,000", "(rest: next runs)")
    results.add("B4", "sync run time (12,000 posts)", f"{elapsed:.1f} s")
    results.note("Facebook and Instagram share the Graph app's hourly usage; the sync stops at 90 % of it and leaves "
                 "the rest for later runs (posts.metrics, platforms.usage.should_slow_down)")
    results.note(f"posts_sync_metrics summary: {summary}; snapshots written: "
                 f"{PostMetricSnapshot.objects.filter(post__tenant=tenant).count():,}")
    results.settings = {"simulator latency": "0 ms", "simulator clock": "advanced 1 h after set-up (usage window)", "quotas": "X and Instagram publish quotas raised for set-up",
                        "METRICS_CADENCE_HOURS": "default", "posts age": "2 h, never synced"}
    results.save()
    wipe_tenant("bench-sync")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
