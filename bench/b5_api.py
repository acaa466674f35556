"""B5 lists at scale: ``GET /api/v1/posts/`` and the staff list ``/posts/`` for a tenant with 200,000 posts.

Works in a database of its own (``socialcrm_b5_<random>``, dropped at the end unless BENCH_KEEP_DB=1):
the tenant ``b5-big`` holds 200,000 posts, nine other tenants 20,000 each (380,000 rows in all), with
the statuses mixed as in B2, publish times shared by ~200 posts each and one creation time for all, so
only the id tells most rows apart. Served by gunicorn on loopback:

- latency, one client, each request after the last: the API's first page, a deep page (position
  150,000, "page 3,001" of 50) by cursor, a deep page filtered by status, the staff list's first and
  deep pages. The judged figure is the API's p95, first and deep page: <= 30 ms.
- what the lists no longer do, timed through the ORM for comparison: COUNT(*) over the tenant, and
  the old numbered page 3,001 (OFFSET 150,000). No list request sends an unbounded COUNT (checked on
  the captured SQL of each case), and queries per request are equal at page sizes 10 / 50 / 100.
- throughput: 16 concurrent clients on the first page (recorded, no limit: on 2 cores it measures
  the CPU, not the list).
"""

import concurrent.futures
import os
import socket
import sys
import time

from bench.common import (
    Process,
    Results,
    bench_environ,
    drop_scratch_database,
    percentile,
    run,
    scratch_database,
)

BIG = "b5-big"
BIG_POSTS = 200_000
OTHERS = 9
OTHER_POSTS = 20_000
DEEP = 150_000  # rows before the deep page: page 3,001 at 50 a page
RUNS = int(os.environ.get("BENCH_B5_RUNS", "200"))
DURATION = int(os.environ.get("BENCH_B5_SECONDS", "15"))
CONNECTIONS = int(os.environ.get("BENCH_B5_CONNECTIONS", "16"))
WORKERS = int(os.environ.get("BENCH_B5_GUNICORN_WORKERS", str(2 * (os.cpu_count() or 2))))
TARGET_MS = 30.0
API = "/api/v1/posts/"
STAFF = "/posts/"

TENANTS = [BIG] + [f"b5-other-{n:02d}" for n in range(1, OTHERS + 1)]
LOAD_SQL = [
    """INSERT INTO crm_tenant (id, name, inbound_event_secret, default_channels, default_reminder_days,
                              default_send_time, auto_promote, created_at, time_locale, posts_need_approval,
                              sms_price_currency, utm_enabled, utm_medium_social, utm_medium_email, utm_medium_sms)
       SELECT t, 'Tenant ' || t, md5(t), '["SOCIAL"]', '[7, 3, 1]', '09:00', false, now(),
              'en-GB', false, 'EUR', true, 'social', 'email', 'sms' FROM unnest(%(tenants)s) t""",
    """INSERT INTO crm_club (id, name, timezone, time_locale, tenant_id)
       SELECT t || '-club', 'Club of ' || t, 'Europe/London', 'en-GB', t FROM unnest(%(tenants)s) t""",
    """INSERT INTO connections_socialconnection (id, platform, account_id, account_name, account_type,
              account_details, access_token, permissions, is_active, created_at, updated_at, connected_by,
              club_id, tenant_id)
       SELECT md5('conn-' || t || '-' || p)::uuid, (ARRAY['FACEBOOK','INSTAGRAM','TWITTER','LINKEDIN'])[p + 1],
              md5(t || p), 'Account ' || t || '/' || p, 'page', '{}', 'not-a-token', '[]', true, now(), now(),
              'bench', t || '-club', t
       FROM unnest(%(tenants)s) t, generate_series(0, 3) p""",
    # 10 % SCHEDULED over the next ~40 days, 10 % DRAFT (no time), 10 % FAILED, 70 % PUBLISHED in the past;
    # publish times repeat every 997 posts and every post has the same creation time: ties everywhere.
    """INSERT INTO posts_socialpost (id, content, media_urls, hashtags, status, scheduled_at, published_at,
              platform_post_id, likes, comments, shares, reach, impressions, created_at, updated_at, created_by,
              attempts, error, error_kind, publish_state, metrics_unknown, metrics_unchanged_syncs,
              approval_comment, overridden_fields, tenant_id, connection_id)
       SELECT gen_random_uuid(), 'Bench post ' || g || ': tee times, results and the clubhouse menu.', '[]', '[]',
              s.status,
              CASE WHEN s.status = 'DRAFT' THEN NULL
                   WHEN s.status = 'SCHEDULED' THEN now() + interval '1 hour' + (g % 997) * interval '1 hour'
                   ELSE now() - interval '31 days' - (g % 997) * interval '3 hours' END,
              CASE WHEN s.status = 'PUBLISHED' THEN now() - interval '31 days' - (g % 997) * interval '3 hours' END,
              CASE WHEN s.status = 'PUBLISHED' THEN 'p' || g END,
              g % 50, g % 7, g % 3, g % 900, g % 1500,
              now() - interval '400 days', now(), 'bench',
              CASE WHEN s.status IN ('PUBLISHED', 'FAILED') THEN 1 ELSE 0 END,
              CASE WHEN s.status = 'FAILED' THEN 'Content refused.' END,
              CASE WHEN s.status = 'FAILED' THEN 'INVALID_CONTENT' END,
              '{}', '[]', 0, '', '[]',
              x.tenant, md5('conn-' || x.tenant || '-' || (g % 4))::uuid
       FROM generate_series(0, %(total)s - 1) g,
            LATERAL (SELECT CASE WHEN g < %(big)s THEN 'b5-big'
                                 ELSE 'b5-other-' || lpad(((g - %(big)s) % %(others)s + 1)::text, 2, '0')
                            END AS tenant) x,
            LATERAL (SELECT CASE (g / 4) % 10 WHEN 0 THEN 'SCHEDULED' WHEN 1 THEN 'DRAFT'
                                 WHEN 2 THEN 'FAILED' ELSE 'PUBLISHED' END AS status) s""",
]


def load():
    from django.db import connection

    started = time.monotonic()
    values = {"tenants": "ARRAY[" + ", ".join(f"'{t}'" for t in TENANTS) + "]",
              "total": BIG_POSTS + OTHERS * OTHER_POSTS, "big": BIG_POSTS, "others": OTHERS}
    with connection.cursor() as cursor:
        for sql in LOAD_SQL:
            for key, value in values.items():
                sql = sql.replace(f"%({key})s", str(value))
            cursor.execute(sql)
        cursor.execute("VACUUM ANALYZE")  # as autovacuum would soon: the visibility map for index-only reads
    return time.monotonic() - started


def staff_of(tenant):
    from django.contrib.auth.models import User
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from crm.models import StaffMembership

    user = User.objects.create_user(username=f"{tenant}-staff")
    StaffMembership.objects.create(user=user, tenant_id=tenant, role="ADMIN")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return Token.objects.create(user=user).key, client.cookies["sessionid"].value


def deep_cursor(*, offset, status=None):
    """The cursor of the page after row ``offset`` of the tenant's list (set-up: found once by OFFSET)."""
    from posts.models import SocialPost
    from posts.selectors import POST_ORDER

    posts = SocialPost.objects.filter(tenant_id=BIG, **({"status": status} if status else {}))
    return POST_ORDER.cursor(POST_ORDER.ordered(posts)[offset - 1])


def timed(fn, runs):
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def captured(fn):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        fn()
    return [q["sql"] for q in queries.captured_queries]


def unbounded_counts(sqls):
    """COUNTs not over a LIMIT subquery: a count of every matching row."""
    return [s for s in sqls if "COUNT(" in s.upper() and "LIMIT" not in s.upper()]


def in_process_checks(results, token, session, cursors):
    """Through Django's test clients: no unbounded COUNT, equal queries at any page size, a correct walk."""
    from django.test import Client
    from rest_framework.test import APIClient

    from socialcrm.api_inputs import KeysetCursorPagination

    api = APIClient(HTTP_HOST="127.0.0.1")
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    staff = Client(HTTP_HOST="127.0.0.1")
    staff.cookies["sessionid"] = session

    def get(client, path):
        def call():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code, response.content[:300])
            return response
        return call

    sqls = []
    for path in (API, f"{API}?cursor={cursors['deep']}", f"{API}?status=PUBLISHED&cursor={cursors['published']}"):
        sqls += captured(get(api, path))
    api_counts = [s for s in sqls if "COUNT(" in s.upper()]
    staff_sqls = captured(get(staff, STAFF)) + captured(get(staff, f"{STAFF}?cursor={cursors['deep']}"))
    staff_unbounded = unbounded_counts(staff_sqls)
    results.add("B5", "API list: COUNT queries (first, deep, filtered deep)", str(len(api_counts)), "0",
                not api_counts)
    results.add("B5", "staff list: COUNT over every row (first, deep)", str(len(staff_unbounded)), "0",
                not staff_unbounded)
    capped = sum("COUNT(" in s.upper() for s in staff_sqls)
    results.note(f"the staff list counts by status over LIMIT 1,001 subqueries ({capped // 2} per page view): "
                 "'more than 1,000' where a status has more")

    counts, original = {}, KeysetCursorPagination.page_size
    try:
        for size in (10, 50, 100):
            KeysetCursorPagination.page_size = size
            counts[size] = len(captured(get(api, f"{API}?cursor={cursors['deep']}")))
    finally:
        KeysetCursorPagination.page_size = original
    results.add("B5", "queries per API request at page size 10 / 50 / 100",
                " / ".join(str(counts[s]) for s in (10, 50, 100)), "equal", len(set(counts.values())) == 1)

    seen, url = [], API
    for _ in range(20):  # 1,000 rows by cursor from the top: none twice, none skipped against OFFSET
        body = api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    from posts.models import SocialPost
    from posts.selectors import POST_ORDER

    expected = [str(pk) for pk in POST_ORDER.ordered(SocialPost.objects.filter(tenant_id=BIG)).values_list(
        "pk", flat=True)[:1000]]
    results.add("B5", "cursor walk, 20 pages: rows as by OFFSET, none twice", "yes" if seen == expected else "no",
                "yes", seen == expected)


def cost_without_waiting(results, token, cursors):
    """What one list request costs, whatever else the machine is doing: the list query's execution
    time inside PostgreSQL (EXPLAIN ANALYZE) and the web process's own CPU time per request."""
    from django.db import connection
    from rest_framework.test import APIClient

    api = APIClient(HTTP_HOST="127.0.0.1")
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    for label, path in (("first page", API), ("deep page", f"{API}?cursor={cursors['deep']}")):
        sql = next(s for s in captured(lambda path=path: api.get(path)) if "posts_socialpost" in s and "LIMIT" in s)
        executions = []
        with connection.cursor() as cursor:
            for _ in range(20):
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
                executions.append(cursor.fetchone()[0][0]["Execution Time"])
        cpu = []
        for _ in range(50):
            start = time.process_time()
            api.get(path)
            cpu.append((time.process_time() - start) * 1000)
        results.add("B5", f"API {label}: list query in PostgreSQL, p50 / p95",
                    f"{percentile(executions, 50):.2f} / {percentile(executions, 95):.2f} ms")
        results.add("B5", f"API {label}: web process CPU per request, p50 / p95",
                    f"{percentile(cpu, 50):.1f} / {percentile(cpu, 95):.1f} ms")


def old_way(results):
    """What the lists used to cost: an exact COUNT and a numbered page by OFFSET (ORM, for comparison)."""
    from posts.models import SocialPost

    posts = SocialPost.objects.filter(tenant_id=BIG)
    count = timed(lambda: posts.count(), 20)
    offset = timed(lambda: list(posts.select_related("connection").order_by("-scheduled_at", "-created_at")[
        DEEP:DEEP + 50]), 10)
    results.add("B5", "avoided: COUNT(*) over the tenant (200,000), p50", f"{percentile(count, 50):.1f} ms",
                "not sent by any list")
    results.add("B5", "avoided: page 3,001 by OFFSET 150,000, p50", f"{percentile(offset, 50):.1f} ms",
                "not sent by any list")


def serial_latency(base, token, session, cursors):
    import requests

    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"
    staff = requests.Session()
    staff.cookies.set("sessionid", session)
    cases = [
        ("API first page", api, API),
        ("API deep page (row 150,000) by cursor", api, f"{API}?cursor={cursors['deep']}"),
        ("API deep page, status=PUBLISHED, by cursor", api, f"{API}?status=PUBLISHED&cursor={cursors['published']}"),
        ("staff list first page", staff, STAFF),
        ("staff list deep page by cursor", staff, f"{STAFF}?cursor={cursors['deep']}"),
    ]
    figures = {}
    for label, session_, path in cases:
        def call(session_=session_, path=path):
            response = session_.get(base + path, timeout=10, allow_redirects=False)
            assert response.status_code == 200, (path, response.status_code)
        figures[label] = timed(call, RUNS)
    return figures


def load_test(base, token):
    import requests

    deadline = time.monotonic() + DURATION
    latencies, errors = [], 0

    def client():
        nonlocal errors
        mine = []
        with requests.Session() as session:
            session.headers["Authorization"] = f"Token {token}"
            while time.monotonic() < deadline:
                start = time.perf_counter()
                response = session.get(base + API, timeout=10)
                mine.append((time.perf_counter() - start) * 1000)
                errors += response.status_code != 200
        return mine

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(CONNECTIONS) as pool:
        for mine in pool.map(lambda _: client(), range(CONNECTIONS)):
            latencies.extend(mine)
    return percentile(latencies, 50), percentile(latencies, 95), len(latencies) / (time.monotonic() - started), errors


def wait_for_web(base, token):
    import requests

    for _ in range(120):
        try:
            if requests.get(base + API, headers={"Authorization": f"Token {token}"}, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv):
    results = Results("b5_api")
    print("B5: creating a database of its own ...", flush=True)
    name, url = scratch_database("socialcrm_b5")
    # The staff pages need the static manifest with DEBUG off, as in production.
    run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], env=bench_environ(DATABASE_URL=url))
    os.environ.update(bench_environ(DATABASE_URL=url, CONN_MAX_AGE=60))
    import django

    django.setup()
    web = None
    try:
        print(f"B5: loading {BIG_POSTS + OTHERS * OTHER_POSTS:,} posts into {name} ...", flush=True)
        results.add("B5", f"load {BIG_POSTS + OTHERS * OTHER_POSTS:,} posts (10 tenants) + ANALYZE",
                    f"{load():.1f} s")
        token, session = staff_of(BIG)
        cursors = {"deep": deep_cursor(offset=DEEP), "published": deep_cursor(offset=100_000, status="PUBLISHED")}
        in_process_checks(results, token, session, cursors)
        cost_without_waiting(results, token, cursors)
        old_way(results)

        port = free_port()
        web = Process([sys.executable, "-m", "gunicorn", "socialcrm.wsgi", "--bind", f"127.0.0.1:{port}",
                       "--workers", str(WORKERS), "--access-logfile", "/dev/null"], name="b5-gunicorn",
                      env=bench_environ(DATABASE_URL=url, CONN_MAX_AGE=60))
        base = f"http://127.0.0.1:{port}"
        wait_for_web(base, token)
        figures = serial_latency(base, token, session, cursors)
        for label, samples in figures.items():
            judged = label.startswith("API") and "status" not in label
            p50, p95 = percentile(samples, 50), percentile(samples, 95)
            results.add("B5", f"{label}: p50 / p95", f"{p50:.1f} / {p95:.1f} ms",
                        f"p95 <= {TARGET_MS:.0f} ms" if judged else "", (p95 <= TARGET_MS) if judged else None)
        p50, p95, rps, errors = load_test(base, token)
        results.add("B5", f"API first page, {CONNECTIONS} clients at once: p50 / p95",
                    f"{p50:.1f} / {p95:.1f} ms", "(no limit set)")
        results.add("B5", f"API first page, {CONNECTIONS} clients at once: requests per second", f"{rps:.0f} req/s")
        results.add("B5", "non-200 answers or socket errors under load", str(errors), "0", errors == 0)
    finally:
        if web is not None:
            web.stop()
        from django.db import connections

        connections.close_all()
        if os.environ.get("BENCH_KEEP_DB") == "1":
            print(f"B5: kept the database {name}", flush=True)
        else:
            drop_scratch_database(name)
    results.note(f"load average when done: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} "
                 f"on {os.cpu_count()} cores (other work on the machine is not stopped)")
    results.settings = {"database": f"{name} (own, dropped after)", "rows": "200,000 in the tenant, 380,000 in all",
                        "page size": 50, "latency": f"{RUNS} requests per case, one client, after 1 warm-up",
                        "gunicorn": f"{WORKERS} sync workers", "CONN_MAX_AGE": 60, "load": f"python threads, "
                        f"{CONNECTIONS} connections, {DURATION} s"}
    results.save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
