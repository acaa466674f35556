"""``make bench``: create the bench database, run each benchmark in its own process, print one table.

Order: B2 (loads 1,000,000 posts), B5 (loads its own 200,000-post tenant into a database of its own and
reads it through gunicorn), B4, B1, B3. The database is
dropped at the end unless BENCH_KEEP_DB=1. Each benchmark's own output (EXPLAIN plans, wrk) is
printed as it runs; the table at the end holds every figure beside its limit.
"""

import datetime
import json
import os
import platform
import subprocess
import sys
import time

from bench.common import BENCH_DB, BROKER_URL, RESULTS_DIR, ROOT, bench_environ, create_database, drop_database

BENCHMARKS = ["b2_database", "b5_api", "b4_metrics", "b1_publish", "b3_fanout", "b6_morning_rush"]


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor())
    mem_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    pg = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version"],
                        capture_output=True, text=True).stdout.strip()
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.replace(" v=", "\nredis_version:").replace(" sha=", "\n")
    redis_version = next((x.split(":")[1].strip() for x in redis.splitlines() if x.startswith("redis_version")), "?")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.1f} GiB RAM, {model}",
        "software": f"Python {platform.python_version()}, PostgreSQL {pg}, Redis {redis_version}",
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
    }


def print_table(info, names, durations):
    width = 118
    print("\n" + "=" * width)
    print("SocialCRM benchmarks")
    for key in ("date", "machine", "software", "commit"):
        print(f"  {key:<9} {info[key]}")
    print(f"  database  {BENCH_DB} on 127.0.0.1:5432; broker {BROKER_URL} (a redis-server of its own); DEBUG off")
    print("-" * width)
    print(f"  {'':<4} {'figure':<58} {'value':>18}  {'limit':<24} verdict")
    print("-" * width)
    failed = 0
    for name in names:
        path = RESULTS_DIR / f"{name}.json"
        if not path.exists():
            print(f"  {name}: no results (the benchmark stopped; see its output above)")
            failed += 1
            continue
        data = json.loads(path.read_text())
        for row in data["rows"]:
            verdict = "" if row["pass"] is None else ("PASS" if row["pass"] else "FAIL")
            failed += row["pass"] is False
            print(f"  {row['bench']:<4} {row['figure']:<58} {row['value']:>18}  {row['limit']:<24} {verdict}")
        for note in data["notes"]:
            print(f"       note: {note}")
        if data["settings"]:
            print("       settings: " + "; ".join(f"{k}: {v}" for k, v in data["settings"].items()))
        print(f"       ({durations.get(name, 0):.0f} s)")
        print("-" * width)
    print(f"  {failed} figure(s) outside their limit" if failed else "  every figure within its limit")
    print("=" * width)
    return failed


def main(argv):
    names = [n for n in BENCHMARKS if not argv or n in argv or n.split("_")[0] in argv]
    info = machine()
    for name in names:
        (RESULTS_DIR / f"{name}.json").unlink(missing_ok=True)
    print(f"creating database {BENCH_DB} ...", flush=True)
    create_database()
    durations = {}
    try:
        for name in names:
            print(f"\n##### {name}", flush=True)
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT, env=bench_environ())
            durations[name] = time.monotonic() - started
    finally:
        if os.environ.get("BENCH_KEEP_DB") != "1":
            drop_database()
    failed = print_table(info, names, durations)
    (RESULTS_DIR / "table.json").write_text(json.dumps({"info": info, "names": names}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
