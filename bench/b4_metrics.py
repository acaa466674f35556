"""B4 metric sync: 1,000,000 posts in the 30-day window, a run touches only the due ones; and the
platform calls per post per month on each platform.

Part 1 (scale). 12,000 posts really exist at the simulator (10,000 X, 1,000 Facebook, 1,000
Instagram, published there through the app's adapters with the X and Instagram quotas raised) and
are due; 988,000 more rows fill the window (``INSERT ... SELECT generate_series``), published over
the last 30 days, with their next sync later on the cadence (a quarter no longer followed: counts
stopped changing). One run of ``posts.metrics.posts_sync_metrics`` is timed; the rows it read come
from its summary and from PostgreSQL's own counters (``pg_stat_user_tables``), its memory from the
process's resident set sampled every 20 ms during the run.

Part 2 (cost). A club posting 3 times a day on X, Facebook, Instagram and LinkedIn for 30 days (90
posts each, real at the simulator) is synced over a simulated clock of 60 days: each run happens at
the next moment a post is due, rounded up to the 5-minute beat, exactly as beat would run it.
Engagement keeps changing for a post's first 48 hours, then stays. The calls counted per platform
(``MetricReadUsage``, what the read budget is charged) divided by the posts give calls per post per
month (a post is followed for at most 30 days, so its month is its life). The same rules without
the account grid and without stopping (one call per post per sync) are computed beside it.
"""

import concurrent.futures
import math
import os
import resource
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

from bench.common import Results, Simulator, connect_accounts, make_tenant, setup_django, wipe_tenant

COUNTS = {"twitter": 10_000, "facebook": 1_000, "instagram": 1_000}
WINDOW_POSTS = 1_000_000
X_CALL_LIMIT = 100
MEMORY_LIMIT_MB = 300
ACCOUNTS = {"twitter": ["1500000000000000001"], "facebook": ["2001"], "instagram": ["17841400000000001"]}
COST_ACCOUNTS = {**ACCOUNTS, "linkedin": ["3001"]}
COST_POSTS_PER_DAY = 3
COST_DAYS = 30
BEAT = 300  # seconds: METRICS_SYNC_INTERVAL_SECONDS


def publish_remote(connections, sim, counts, label="B4"):
    """Create the posts at the simulator through the adapters; returns {slug: [platform post ids]}."""
    from connections.services import connection_credentials
    from platforms import PostContent, get_adapter

    ids = {}
    for (slug, _account), connection in connections.items():
        adapter = get_adapter(connection.platform)
        credentials = connection_credentials(connection=connection)
        media = [sim.client.media_url("sample.jpg")] if slug == "instagram" else []

        def one(n, adapter=adapter, credentials=credentials, media=media, slug=slug):
            content = PostContent(text=f"{label} {slug} post {n}: results from the medal round", media_urls=media)
            return adapter.publish(credentials=credentials, content=content).platform_post_id

        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            ids[slug] = list(pool.map(one, range(counts[slug])))
    return ids


class PeakRss:
    """The process's resident set, sampled every 20 ms while running (the peak of just this span)."""

    def __init__(self):
        self.peak = self.start = self.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def now():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.now())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def table_stats():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    time.sleep(0.6)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT seq_scan, coalesce(seq_tup_read, 0), coalesce(idx_scan, 0), coalesce(idx_tup_fetch, 0), "
                       "n_tup_upd FROM pg_stat_user_tables WHERE relname = 'posts_socialpost'")
        names = ("seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch", "n_tup_upd")
        return dict(zip(names, cursor.fetchone(), strict=True))


def fill_window(tenant, connections):
    """The rest of the 1,000,000 window posts, in SQL: published over 30 days, next sync later."""
    from django.db import connection

    ids = [str(c.pk) for c in connections.values()]
    filler = WINDOW_POSTS - sum(COUNTS.values())
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO posts_socialpost (id, content, media_urls, hashtags, status, scheduled_at, published_at,
                      platform_post_id, likes, comments, shares, reach, impressions, engagement_synced_at,
                      created_at, updated_at, created_by, attempts, publish_state, metrics_unknown,
                      metrics_next_sync_at, metrics_unchanged_syncs, approval_comment, overridden_fields, tenant_id, connection_id)
               SELECT gen_random_uuid(), 'B4 window post ' || g, '[]', '[]', 'PUBLISHED', p.at, p.at,
                      'w' || g, g %% 50, g %% 7, g %% 3, g %% 900, g %% 1500, now() - interval '10 minutes',
                      p.at, now(), 'bench', 1, '{}', '[]',
                      CASE WHEN g %% 4 = 0 THEN NULL
                           ELSE now() + interval '10 minutes' + (g %% 1000) * interval '80 seconds' END,
                      CASE WHEN g %% 4 = 0 THEN 3 ELSE 0 END, '', '[]',
                      %(tenant)s, (%(connections)s::uuid[])[g %% 3 + 1]
               FROM generate_series(1, %(filler)s) g,
                    LATERAL (SELECT now() - (g %% 2592000) * interval '1 second' AS at) p""",
            {"tenant": tenant.pk, "connections": ids, "filler": filler})
        cursor.execute("ANALYZE posts_socialpost")
    return filler


def main(argv):
    sim = Simulator(raised_quotas=True)
    try:
        sim.client.configure_x(user_24h_limit=10**9, app_24h_limit=10**9)  # X's 24-hour caps too (set-up)
        setup_django(**sim.settings(), MEDIA_PROCESSING_POLL_INTERVAL="0.05")
        results = Results("b4_metrics")
        scale(sim, results)
        results.save()  # part 1's figures stay if part 2 stops
        cost(sim, results)
        results.settings = {
            "simulator latency": "0 ms", "quotas": "X (15-minute and 24-hour) and Instagram publish quotas raised for set-up",
            "METRICS_CADENCE_HOURS": "default", "METRICS_STABLE_SYNCS_TO_STOP": "default (3)",
            "METRICS_STABLE_MIN_AGE_HOURS": "default (24)", "database": os.environ.get("BENCH_DB", "socialcrm_bench")}
        results.save()
        return 0
    finally:
        sim.stop()


def scale(sim, results):
    from django.core.cache import cache
    from django.utils import timezone

    from posts.metrics import metrics_due, metrics_window, posts_sync_metrics
    from posts.models import PostMetricSnapshot, SocialPost

    wipe_tenant("bench-sync")
    tenant, club = make_tenant("bench-sync")
    connections = connect_accounts(tenant=tenant, club=club, accounts=ACCOUNTS)
    print("B4: publishing 12,000 posts at the simulator ...", flush=True)
    started = time.monotonic()
    remote = publish_remote(connections, sim, COUNTS)
    results.note(f"12,000 posts created at the simulator in {time.monotonic() - started:.0f} s (set-up, not timed)")

    now = timezone.now()
    published_at = now - timedelta(hours=2)
    rows = []
    for (slug, _account), connection in connections.items():
        for n, platform_post_id in enumerate(remote[slug]):
            rows.append(SocialPost(tenant=tenant, connection=connection, content=f"B4 {slug} post {n}",
                                   status="PUBLISHED", scheduled_at=published_at, published_at=published_at,
                                   platform_post_id=platform_post_id, created_by="bench", attempts=1,
                                   metrics_next_sync_at=now - timedelta(minutes=1)))
    SocialPost.objects.bulk_create(rows, batch_size=2000)
    del rows
    started = time.monotonic()
    filler = fill_window(tenant, connections)
    results.note(f"{filler:,} more window rows generated in SQL in {time.monotonic() - started:.0f} s (set-up)")

    in_window = SocialPost.objects.filter(tenant=tenant, status="PUBLISHED",
                                          published_at__gte=now - metrics_window()).count()
    # The set-up's 2,000 Graph calls would count against the app's hourly usage: let that hour pass.
    sim.client.advance_clock(3601)
    cache.clear()
    due = metrics_due(now=timezone.now()).filter(tenant=tenant).count()
    since = max((r["seq"] for r in sim.client.requests(since=0)[-1:]), default=0)
    before = table_stats()
    with PeakRss() as rss:
        started = time.monotonic()
        summary = posts_sync_metrics()
        elapsed = time.monotonic() - started
    after = table_stats()
    calls = [r for r in sim.client.requests(since=since) if r["seq"] > since]
    by_platform = Counter(r["platform"] for r in calls)
    synced = Counter(SocialPost.objects.filter(tenant=tenant, engagement_synced_at__isnull=False,
                                               content__startswith="B4 ", platform_post_id__regex=r"^[^w]")
                     .values_list("connection__platform", flat=True))
    fetched = after["idx_tup_fetch"] - before["idx_tup_fetch"]
    results.add("B4", "posts in the 30-day window", f"{in_window:,}", f">= {WINDOW_POSTS:,}", in_window >= WINDOW_POSTS)
    results.add("B4", "rows read by the run / due", f"{summary['read']:,} / {due:,}", "read = due",
                summary["read"] == due)
    results.add("B4", "  PostgreSQL: seq scans of the posts table", str(after["seq_scan"] - before["seq_scan"]), "0",
                after["seq_scan"] == before["seq_scan"])
    # Per due post: the connections' DISTINCT (index-only, heap checked on a fresh table), the batch
    # SELECT, the UPDATE's lookup and the snapshot's foreign-key check. Rows not due: none.
    results.add("B4", "  PostgreSQL: rows fetched by index", f"{fetched:,}", "<= 4 x due (none not due)",
                fetched <= 4 * due)
    peak_mb = rss.peak / 2 ** 20
    results.add("B4", "peak memory of the sync process during the run", f"{peak_mb:.0f} MB", f"<= {MEMORY_LIMIT_MB} MB",
                peak_mb <= MEMORY_LIMIT_MB)
    results.add("B4", "  growth during the run", f"{(rss.peak - rss.start) / 2 ** 20:.0f} MB")
    results.add("B4", "X: platform calls for 10,000 posts", str(by_platform["twitter"]), f"<= {X_CALL_LIMIT}",
                by_platform["twitter"] <= X_CALL_LIMIT)
    results.add("B4", "posts synced (X / Facebook / Instagram)",
                f"{synced['TWITTER']:,} / {synced['FACEBOOK']:,} / {synced['INSTAGRAM']:,}", "10,000 / 1,000 / 1,000",
                (synced["TWITTER"], synced["FACEBOOK"], synced["INSTAGRAM"]) == (10_000, 1_000, 1_000))
    results.add("B4", "Graph calls (Facebook + Instagram, 2,000 posts)", str(by_platform["facebook"] + by_platform["instagram"]))
    results.add("B4", "sync run time (12,000 due of 1,000,000)", f"{elapsed:.1f} s")
    started = time.monotonic()
    again = posts_sync_metrics()
    results.add("B4", "next run (nothing due): rows read, time", f"{again['read']} rows, {(time.monotonic() - started) * 1000:.0f} ms",
                "0 rows", again["read"] == 0)
    results.note(f"posts_sync_metrics summary: {summary}; snapshots written: "
                 f"{PostMetricSnapshot.objects.filter(post__tenant=tenant).count():,}; "
                 f"ru_maxrss of the whole bench process (set-up included): "
                 f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    wipe_tenant("bench-sync")


def cost(sim, results):
    """Part 2: calls per post per month, by platform, over a simulated clock."""
    from django.core.cache import cache
    from django.db.models import Min, Sum
    from django.utils import timezone

    from posts.metrics import posts_sync_metrics, sync_interval
    from posts.models import MetricReadUsage, SocialPost

    wipe_tenant("bench-cost")
    tenant, club = make_tenant("bench-cost")
    connections = connect_accounts(tenant=tenant, club=club, accounts=COST_ACCOUNTS)
    posts_each = COST_POSTS_PER_DAY * COST_DAYS
    print(f"B4: publishing {posts_each} posts on each of 4 platforms at the simulator ...", flush=True)
    remote = publish_remote(connections, sim, dict.fromkeys(COST_ACCOUNTS, posts_each), label="B4 cost")
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    hours = (9, 13, 18)
    rows = []
    for (slug, _account), connection in connections.items():
        for n, platform_post_id in enumerate(remote[slug]):
            at = start + timedelta(days=n // COST_POSTS_PER_DAY, hours=hours[n % COST_POSTS_PER_DAY], minutes=n % 7)
            rows.append(SocialPost(tenant=tenant, connection=connection, content=f"B4 cost {slug} {n}",
                                   status="PUBLISHED", scheduled_at=at, published_at=at, created_by="bench",
                                   platform_post_id=platform_post_id, attempts=1, metrics_next_sync_at=at))
    SocialPost.objects.bulk_create(rows)
    followed = SocialPost.objects.filter(tenant=tenant, metrics_next_sync_at__isnull=False)
    clock, runs, sim_clock = start, 0, start
    engagement = {p.platform_post_id: p.published_at for p in rows}
    print("B4: syncing over a simulated clock of 60 days ...", flush=True)
    started = time.monotonic()
    while True:
        next_due = followed.aggregate(at=Min("metrics_next_sync_at"))["at"]
        if next_due is None:
            break
        # Beat runs the sync every 5 minutes: the run that picks this post up is the next beat tick.
        clock = max(clock, start + timedelta(seconds=math.ceil((next_due - start).total_seconds() / BEAT) * BEAT))
        for post in followed.filter(metrics_next_sync_at__lte=clock).only("platform_post_id", "published_at"):
            age_hours = (clock - engagement[post.platform_post_id]).total_seconds() / 3600
            if age_hours < 48:  # still collecting likes and views
                sim.client.set_metrics(post.platform_post_id, likes=int(age_hours * 4) + 1,
                                       impressions=int(age_hours * 60) + 10, reach=int(age_hours * 40) + 5)
        sim.client.advance_clock(int((clock - sim_clock).total_seconds()))
        sim_clock = clock
        cache.clear()  # usage headers from another simulated hour
        posts_sync_metrics(now=clock)
        runs += 1
        clock += timedelta(seconds=BEAT)
    usage = {row["platform"]: row["calls"] for row in MetricReadUsage.objects.filter(tenant=tenant)
             .values("platform").annotate(calls=Sum("calls"))}
    syncs_without_rules = naive_syncs(sync_interval)
    for platform in ("TWITTER", "FACEBOOK", "INSTAGRAM", "LINKEDIN"):
        per_post = usage.get(platform, 0) / posts_each
        results.add("B4", f"{platform.title()}: calls per post per month", f"{per_post:.2f}",
                    f"(no grid, no stop: {syncs_without_rules})")
    total = sum(usage.values())
    results.add("B4", "a club posting 3 a day on 4 platforms: calls a month", f"{total:,}",
                f"(no grid, no stop: {4 * posts_each * syncs_without_rules:,})")
    results.note(f"cost: {runs} sync runs over a simulated {((clock - start).days)} days, each at the next 5-minute beat "
                 f"a post was due; {posts_each} posts per platform (3 a day for 30 days, real at the simulator); "
                 f"engagement changes for 48 h then stays; calls as charged to the read budget (MetricReadUsage); "
                 f"wall time {time.monotonic() - started:.0f} s. 'No grid, no stop' = one call per post per cadence "
                 f"sync for 30 days, as before (the next sync at last sync + interval, posts of a club rarely meet).")
    wipe_tenant("bench-cost")


def naive_syncs(sync_interval):
    """Syncs of one post over 30 days on the cadence, each an own call (the old behaviour at 3 posts a day)."""
    age, count = timedelta(0), 0
    while (interval := sync_interval(age)) is not None:
        count += 1
        age += interval
    return count


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
