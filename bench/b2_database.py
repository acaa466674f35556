"""B2 database at scale: 1,000,000 posts over 1,000 tenants on PostgreSQL.

Loads the data with ``INSERT ... SELECT generate_series`` (then VACUUM ANALYZE), and times the app's own
code, not a copy of its SQL: ``posts.publishing.due_posts`` (the publisher's scan) and
``posts.publishing.post_claim`` (its atomic claim), ``posts.selectors.post_list`` filtered by status
and by a scheduled-time window (what the API and the posts page run), and
``connections.selectors.connection_list`` filtered by platform. The SQL each sends is captured and
replayed ~200 times through psycopg (the figure judged), and the app's function is also timed end
to end through the ORM (printed beside it); the EXPLAIN plan of the captured SQL is printed and
must hold no sequential scan over a table of more than 1,000 rows.

The same rows serve B5; ``--keep`` leaves them in place (``bench.run`` passes it).
"""

import random
import re
import sys
import time
from datetime import timedelta

from bench.common import RESULTS_DIR, Results, percentile, setup_django

TENANTS = 1000
POSTS = 1_000_000
RUNS = 200
DUE = 1000
TARGET_MS = 5.0
PLATFORMS = ["FACEBOOK", "INSTAGRAM", "TWITTER", "LINKEDIN"]

LOAD_SQL = [
    # Tenants, one club each, four connections each (tokens are placeholders: B2/B5 never call a platform).
    """INSERT INTO crm_tenant (id, name, inbound_event_secret, default_channels, default_reminder_days,
                              default_send_time, auto_promote, created_at, time_locale, posts_need_approval,
                              sms_price_currency, utm_enabled, utm_medium_social, utm_medium_email, utm_medium_sms)
       SELECT 'bench-' || lpad(t::text, 4, '0'), 'Bench tenant ' || t, md5(t::text), '["SOCIAL"]', '[7, 3, 1]',
              '09:00', false, now(), 'en-GB', false, 'EUR', true, 'social', 'email', 'sms'
       FROM generate_series(1, %(tenants)s) t""",
    """INSERT INTO crm_club (id, name, timezone, time_locale, tenant_id)
       SELECT 'bench-' || lpad(t::text, 4, '0') || '-club', 'Club ' || t, 'Europe/London', 'en-GB',
              'bench-' || lpad(t::text, 4, '0')
       FROM generate_series(1, %(tenants)s) t""",
    """INSERT INTO connections_socialconnection (id, platform, account_id, account_name, account_type,
              account_details, access_token, permissions, is_active, created_at, updated_at, connected_by,
              club_id, tenant_id)
       SELECT md5('conn-' || t || '-' || p)::uuid, (ARRAY['FACEBOOK','INSTAGRAM','TWITTER','LINKEDIN'])[p + 1],
              (1000000 + t * 10 + p)::text, 'Account ' || t || '/' || p, 'page', '{}', 'not-a-token', '[]', true,
              now(), now(), 'bench', 'bench-' || lpad(t::text, 4, '0') || '-club', 'bench-' || lpad(t::text, 4, '0')
       FROM generate_series(1, %(tenants)s) t, generate_series(0, 3) p""",
    # Posts: tenant = g mod 1000, platform and status from g div 1000, so every tenant holds every mix.
    # 10 % SCHEDULED over the next ~40 days, 10 % DRAFT, 10 % FAILED, 70 % PUBLISHED more than 30 days ago.
    """INSERT INTO posts_socialpost (id, content, media_urls, hashtags, status, scheduled_at, published_at,
              platform_post_id, likes, comments, shares, reach, impressions, created_at, updated_at, created_by,
              attempts, error, error_kind, publish_state, metrics_unknown, metrics_unchanged_syncs,
              approval_comment, overridden_fields, tenant_id, connection_id)
       SELECT gen_random_uuid(), 'Bench post ' || g || ': tee times, results and the clubhouse menu.', '[]', '[]',
              s.status,
              CASE WHEN s.status = 'DRAFT' THEN NULL
                   WHEN s.status = 'SCHEDULED' THEN now() + interval '1 hour' + (g % 997) * interval '1 hour'
                   ELSE now() - interval '31 days' - (g % 3000) * interval '1 hour' END,
              CASE WHEN s.status = 'PUBLISHED' THEN now() - interval '31 days' - (g % 3000) * interval '1 hour' END,
              CASE WHEN s.status = 'PUBLISHED' THEN 'p' || g END,
              g % 50, g % 7, g % 3, g % 900, g % 1500,
              now() - interval '40 days', now(), 'bench',
              CASE WHEN s.status IN ('PUBLISHED', 'FAILED') THEN 1 ELSE 0 END,
              CASE WHEN s.status = 'FAILED' THEN 'Content refused.' END,
              CASE WHEN s.status = 'FAILED' THEN 'INVALID_CONTENT' END,
              '{}', '[]', 0, '', '[]',
              'bench-' || lpad((g % %(tenants)s + 1)::text, 4, '0'),
              md5('conn-' || (g % %(tenants)s + 1) || '-' || ((g / %(tenants)s) % 4))::uuid
       FROM generate_series(0, %(posts)s - 1) g,
            LATERAL (SELECT CASE (g / %(tenants)s) % 10 WHEN 0 THEN 'SCHEDULED' WHEN 1 THEN 'DRAFT'
                                 WHEN 2 THEN 'FAILED' ELSE 'PUBLISHED' END AS status) s""",
    # A due batch for the claim: 1,000 SCHEDULED posts whose time came a minute ago.
    """UPDATE posts_socialpost SET scheduled_at = now() - interval '1 minute'
       WHERE id IN (SELECT id FROM posts_socialpost WHERE status = 'SCHEDULED' ORDER BY scheduled_at LIMIT %(due)s)""",
]


def load():
    """Load the rows unless an earlier run did; either way a fresh due batch is made."""
    from django.db import connection

    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM posts_socialpost WHERE tenant_id = 'bench-0001')")
        statements = LOAD_SQL[-1:] if cursor.fetchone()[0] else LOAD_SQL
        for sql in statements:
            for name, value in {"tenants": TENANTS, "posts": POSTS, "due": DUE}.items():
                sql = sql.replace(f"%({name})s", str(value))
            cursor.execute(sql)
        # As autovacuum would soon after a bulk load: done before timing, so it does not run during it.
        cursor.execute("VACUUM ANALYZE")
    return time.monotonic() - started


def staff_users(count):
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from crm.models import StaffMembership

    users = []
    for n in range(1, count + 1):
        tenant_id = f"bench-{n:04d}"
        user, _ = User.objects.get_or_create(username=f"bench-staff-{n}")
        StaffMembership.objects.get_or_create(user=user, defaults={"tenant_id": tenant_id, "role": "ADMIN"})
        Token.objects.get_or_create(user=user)
        users.append(user)
    return users


def timed(fn, runs=RUNS):
    fn()  # warm the plan cache and the connection
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def seq_scans_on_big_tables(plan, connection):
    """Tables read by a Seq Scan that hold more than 1,000 rows (an empty or tiny table is always seq-scanned)."""
    tables = set(re.findall(r"Seq Scan on (\w+)", plan))
    big = []
    with connection.cursor() as cursor:
        for table in sorted(tables):
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
            row = cursor.fetchone()
            if row and row[0] > 1000:
                big.append(f"{table} ({int(row[0]):,} rows)")
    return big


def main(argv):
    setup_django()
    from django.conf import settings
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from connections.selectors import connection_list
    from posts.models import SocialPost
    from posts.publishing import due_posts, post_claim
    from posts.selectors import post_list, posts_scheduled_between

    results = Results("b2_database")
    print("B2: loading 1,000,000 posts over 1,000 tenants ...", flush=True)
    seconds = load()
    results.add("B2", "bulk load 1,000,000 posts + VACUUM ANALYZE", f"{seconds:.1f} s")
    users = staff_users(50)
    for user in users:  # resolve each membership once, as a request does in its first query
        user.membership  # noqa: B018

    now = timezone.now()
    batch = settings.PUBLISH_BATCH_SIZE
    due_ids = due_posts(now=now, limit=DUE)
    claim_ids = iter(due_ids)

    def due_scan():
        return due_posts(now=now, limit=batch)

    def claim_one():
        with transaction.atomic():
            post_claim(post_id=next(claim_ids), now=now)

    def by_status():
        return list(post_list(user=random.choice(users)).filter(status="SCHEDULED")[:50])

    def by_time():
        return list(posts_scheduled_between(post_list(user=random.choice(users)), start=now,
                                            end=now + timedelta(days=7))[:50])

    def connections_by_platform():
        return list(connection_list(user=random.choice(users)).filter(platform=random.choice(PLATFORMS)))

    cases = [
        (f"due-post scan: due_posts(limit={batch})", due_scan, "posts.publishing.due_posts"),
        ("due-post claim: post_claim, one row, atomic", claim_one, "posts.publishing.post_claim"),
        ("tenant list by status (SCHEDULED, 50 rows)", by_status, "posts.selectors.post_list"),
        ("tenant list by scheduled time (7 days, 50 rows)", by_time, "posts.selectors.post_list"),
        ("connection list by platform", connections_by_platform, "connections.selectors.connection_list"),
    ]

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM posts_socialpost")
        total = cursor.fetchone()[0]
    results.note(f"posts in the table: {total:,}; due for the claim: {len(due_ids)}")

    for figure, fn, source in cases:
        # The plan of exactly the SQL the app's code sends (captured, then EXPLAINed without ANALYZE).
        with CaptureQueriesContext(connection) as captured:
            fn()
        plans = []
        with connection.cursor() as cursor:
            for query in captured.captured_queries:
                sql = query["sql"]
                if not sql.lstrip().upper().startswith(("SELECT", "UPDATE")):
                    continue
                cursor.execute("EXPLAIN " + sql)
                plans.append(sql + "\n" + "\n".join(row[0] for row in cursor.fetchall()))
        plan = "\n\n".join(plans)
        runs = min(RUNS, len(due_ids) - 2) if "claim" in figure else RUNS
        orm = timed(fn, runs=runs)
        selects = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
        if "claim" in figure or not selects:
            sql_samples = orm  # a write: timed as the scan runs it (its own transaction, commit included)
        else:
            def replay(statements=tuple(selects)):
                with connection.cursor() as cursor:
                    for sql in statements:
                        cursor.execute(sql)
                        cursor.fetchall()
            sql_samples = timed(replay, runs=runs)
        p95 = percentile(sql_samples, 95)
        big_seq = seq_scans_on_big_tables(plan, connection)
        print(f"\n--- {figure}  [{source}]\n{plan}\n", flush=True)
        results.add("B2", f"{figure}: SQL p95", f"{p95:.2f} ms", f"< {TARGET_MS:.0f} ms", p95 < TARGET_MS)
        results.add("B2", f"  same through the ORM, p50 / p95 ({runs} runs)",
                    f"{percentile(orm, 50):.2f} / {percentile(orm, 95):.2f} ms")
        results.add("B2", "  plan: index scans only", "yes" if not big_seq else "Seq Scan on " + ", ".join(big_seq),
                    "no Seq Scan", not big_seq)
        (RESULTS_DIR / f"b2_plan_{source.rsplit('.', 1)[-1]}_{len(results.rows)}.txt").write_text(plan)

    # The rest of the due batch must not be picked up by the flow benchmarks (placeholder tokens).
    SocialPost.objects.filter(status__in=["SCHEDULED", "PUBLISHING"], scheduled_at__lte=now).update(
        status="FAILED", error="bench: B2 claim sample", error_kind="OTHER")
    results.settings = {"posts": POSTS, "tenants": TENANTS, "runs": RUNS, "PUBLISH_BATCH_SIZE": batch,
                        "timing": "SQL: the app's captured SQL replayed through psycopg (the claim: the service itself, commit "
                        "included); ORM: the selector end to end"}
    results.save()
    return 0 if all(r["pass"] is not False for r in results.rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
