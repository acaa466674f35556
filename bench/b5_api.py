"""B5 API under load: ``GET /api/v1/posts/`` over B2's 1,000,000 rows, served by gunicorn on loopback.

One tenant's staff token (tenant ``bench-0001``, 1,000 posts of the million) is used by every client.
Load comes from ``wrk`` when installed (a Lua ``done`` hook prints p50/p95), else from a Python thread
pool. Queries per request are counted in-process at page sizes 10, 50 and 100: they must be equal.
"""

import concurrent.futures
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from bench.common import Process, Results, percentile, setup_django

DURATION = int(os.environ.get("BENCH_B5_SECONDS", "20"))
CONNECTIONS = int(os.environ.get("BENCH_B5_CONNECTIONS", "16"))
WORKERS = int(os.environ.get("BENCH_B5_GUNICORN_WORKERS", str(2 * (os.cpu_count() or 2))))
PATH = "/api/v1/posts/"

WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("BENCH p50=%d p95=%d requests=%d errors=%d\\n", latency:percentile(50),
    latency:percentile(95), summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query_counts(token):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.pagination import PageNumberPagination
    from rest_framework.test import APIClient

    counts = {}
    original = PageNumberPagination.page_size
    try:
        for size in (10, 50, 100):
            PageNumberPagination.page_size = size
            client = APIClient(HTTP_HOST="127.0.0.1")
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            with CaptureQueriesContext(connection) as captured:
                response = client.get(PATH)
            assert response.status_code == 200, response.content[:300]
            assert len(response.json()["results"]) == size
            counts[size] = len(captured.captured_queries)
    finally:
        PageNumberPagination.page_size = original
    return counts


def load_with_wrk(url, token):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--timeout", "10s", "-s", script.name,
                          "-H", f"Authorization: Token {token}", url], capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    print(out, flush=True)
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    values = dict(part.split("=") for part in line.split()[1:])
    rps = float(next(x for x in out.splitlines() if x.startswith("Requests/sec:")).split()[1])
    return int(values["p50"]) / 1000, int(values["p95"]) / 1000, rps, int(values["errors"]), "wrk"


def load_with_threads(url, token):
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
                response = session.get(url, timeout=10)
                mine.append((time.perf_counter() - start) * 1000)
                errors += response.status_code != 200
        return mine

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(CONNECTIONS) as pool:
        for mine in pool.map(lambda _: client(), range(CONNECTIONS)):
            latencies.extend(mine)
    elapsed = time.monotonic() - started
    return percentile(latencies, 50), percentile(latencies, 95), len(latencies) / elapsed, errors, "python threads"


def main(argv):
    setup_django(CONN_MAX_AGE=60)
    from rest_framework.authtoken.models import Token

    results = Results("b5_api")
    token = Token.objects.get(user__username="bench-staff-1").key

    counts = query_counts(token)
    same = len(set(counts.values())) == 1
    results.add("B5", "queries per request at page size 10 / 50 / 100", " / ".join(str(counts[s]) for s in (10, 50, 100)),
                "equal", same)

    port = free_port()
    web = Process([sys.executable, "-m", "gunicorn", "socialcrm.wsgi", "--bind", f"127.0.0.1:{port}",
                   "--workers", str(WORKERS), "--access-logfile", "/dev/null"], name="b5-gunicorn",
                  env={**os.environ, "CONN_MAX_AGE": "60"})
    url = f"http://127.0.0.1:{port}{PATH}"
    try:
        for _ in range(120):
            try:
                request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (our own loopback URL)
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        loader = load_with_wrk if shutil.which("wrk") else load_with_threads
        p50, p95, rps, errors, tool = loader(url, token)
    finally:
        web.stop()
    results.add("B5", f"GET {PATH} p50 latency", f"{p50:.1f} ms")
    results.add("B5", f"GET {PATH} p95 latency", f"{p95:.1f} ms", "(no limit set)")
    results.add("B5", f"GET {PATH} requests per second", f"{rps:.0f} req/s")
    results.add("B5", "non-200 answers or socket errors", str(errors), "0", errors == 0)
    results.settings = {"load": tool, "connections": CONNECTIONS, "seconds": DURATION, "gunicorn workers": WORKERS,
                        "gunicorn": "sync workers", "CONN_MAX_AGE": 60, "page size": 50,
                        "rows": "1,000,000 (1,000 in the requesting tenant)"}
    results.note(f"load by {tool}: {CONNECTIONS} connections for {DURATION} s against gunicorn with {WORKERS} sync "
                 "workers, CONN_MAX_AGE=60, DEBUG off")
    results.save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
