"""Shared plumbing for the benchmarks and drills: environment, database, simulator, accounts, results.

Every benchmark runs as its own process (``python -m bench.b2_database`` ...) against a database of its
own on the local PostgreSQL (``socialcrm_bench_<random>``, or ``BENCH_DB``), writes its figures to
``var/bench/<name>.json`` and ``bench.run`` prints them as one table.

The broker is a redis-server this package starts on a free port (and stops at exit); children inherit
its address through ``BENCH_BROKER_URL``. A ``BENCH_BROKER_URL`` given from outside is used as is and
never shut down or flushed whole.
"""

import atexit
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from base64 import urlsafe_b64encode
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "var" / "bench"
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_DB = os.environ.get("BENCH_DB") or f"socialcrm_bench_{secrets.token_hex(4)}"
os.environ["BENCH_DB"] = BENCH_DB  # the benchmark processes started from here use the same database
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of our own (no persistence) on a free port, stopped by its own pid."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.popen = None
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        log = open(RESULTS_DIR / f"redis-{self.port}.log", "ab")
        self.popen = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--daemonize", "no"], stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        log.close()
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"our redis-server did not start on port {self.port}")

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def kill(self):
        """SIGKILL: what it held in memory (queued tasks) is lost, as in a crash."""
        if self.alive():
            self.popen.kill()
            self.popen.wait(timeout=10)

    def stop(self):
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


OWN_REDIS = None
if not os.environ.get("BENCH_BROKER_URL"):
    OWN_REDIS = RedisServer()
    os.environ["BENCH_BROKER_URL"] = OWN_REDIS.url
    atexit.register(OWN_REDIS.stop)
BROKER_URL = os.environ["BENCH_BROKER_URL"]

MAIN_ACCOUNT = {"facebook": "2001", "instagram": "17841400000000001", "twitter": "1500000000000000001",
                "linkedin": "3001"}
# Accounts of the seeded simulator world that may post.
POSTING_ACCOUNTS = {"facebook": ["2001", "2002"], "instagram": ["17841400000000001"],
                    "twitter": ["1500000000000000001"], "linkedin": ["3001", "3002"]}


def _env_file():
    """A stable key pair for the bench processes (web, worker and the bench itself must agree)."""
    path = RESULTS_DIR / "bench.env.json"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        path.write_text(json.dumps({"SECRET_KEY": secrets.token_urlsafe(48), "TOKEN_ENCRYPTION_KEYS": f"bench:{key}"}))
    return json.loads(path.read_text())


def bench_environ(**extra):
    """The environment every bench process runs with: production-like (DEBUG off), PostgreSQL, Redis."""
    env = dict(os.environ)
    env.update(_env_file())
    env.update({
        "DJANGO_SETTINGS_MODULE": "socialcrm.settings",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": BROKER_URL,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def setup_django(**extra):
    os.environ.update(bench_environ(**extra))
    import django

    django.setup()


# ----------------------------------------------------------------------------- database


def admin_connection():
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True)


def database_exists():
    with admin_connection() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone() is not None


def drop_database():
    with admin_connection() as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                     "AND pid <> pg_backend_pid()", [BENCH_DB])
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')


def create_database():
    drop_database()
    with admin_connection() as conn:
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=bench_environ())


def settle_database(*, timeout=180):
    """Bring the bench database to the state a production one is in before a rush: what earlier benchmarks
    and this one's set-up loaded or deleted vacuumed and analysed, dirty pages written out, and no
    autovacuum worker still busy on it (so none runs during the figure). Returns the seconds it took."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:  # VACUUM cannot run inside a transaction
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' "
                "AND datname = current_database()").fetchone()[0]:
            time.sleep(1)
    return time.monotonic() - started


def terminate_connections():
    """Drop every connection to the bench database (the PostgreSQL drill)."""
    with admin_connection() as conn:
        return len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                                "AND pid <> pg_backend_pid()", [BENCH_DB]).fetchall())


def run(args, **kwargs):
    kwargs.setdefault("cwd", ROOT)
    subprocess.run(args, check=True, **kwargs)


# ----------------------------------------------------------------------------- processes


class Process:
    """A child process we started, stopped by its own pid (and its process group)."""

    def __init__(self, args, *, env=None, log=None, name=None):
        self.name = name or args[0]
        self.log_path = RESULTS_DIR / f"{log or self.name}.log"
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env or bench_environ(), stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def signal(self, sig):
        if self.alive():
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout=15):
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(timeout=10)
        self._log.close()

    def kill(self):
        self.signal(signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._log.close()


def celery_worker(*, concurrency, env=None, name="worker", queues=None):
    """One worker consuming every queue (or ``queues``), threads pool (time limits are not enforced there)."""
    from socialcrm.task_routing import QUEUES

    args = [sys.executable, "-m", "celery", "-A", "socialcrm", "worker", "-Q", ",".join(queues or QUEUES),
            "--pool=threads",
            f"--concurrency={concurrency}", "--loglevel=WARNING", "-n", f"bench-{name}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return Process(args, env=env, name=name)


def wait_for_worker(timeout=60):
    from socialcrm.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if app.control.inspect(timeout=1).ping():
                return
        except Exception as exc:  # broker still coming up
            print(f"waiting for a worker ({type(exc).__name__})", flush=True)
        time.sleep(0.5)
    raise RuntimeError("no Celery worker answered")


def purge_queue():
    """Empty the task queues: the whole database of our own Redis, only the queues of one given to us."""
    import redis

    from socialcrm.task_routing import QUEUES

    client = redis.Redis.from_url(BROKER_URL)
    if OWN_REDIS is not None:
        client.flushdb()
    else:
        client.delete(*QUEUES, "celery", "unacked", "unacked_index")


def procfile_workers(*, env, only=None, name="procfile"):
    """The Procfile's ``worker-*`` lines, run as they are (queues, pool, concurrency, ``nice``), with this Python."""
    workers = []
    for line in (ROOT / "Procfile").read_text().splitlines():
        proc, _, command = line.partition(":")
        if not proc.startswith("worker") or (only and proc not in only):
            continue
        command = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), command.strip())
        args = command.split()
        prefix = []
        if args[0] == "nice":  # bulk workers yield the CPU to publishing: kept as the Procfile says
            prefix, args = args[:3], args[3:]
        assert args[0].endswith("celery"), line
        args = prefix + [sys.executable, "-m", "celery"] + args[1:]
        args = [a.replace("@%h", f"-{name}-{uuid.uuid4().hex[:6]}@%h") for a in args]
        args = [a if not a.startswith("--loglevel") else "--loglevel=WARNING" for a in args]
        workers.append(Process(args + ["--without-gossip", "--without-mingle"], env=env, name=f"{name}-{proc}"))
    return workers


def beat_process(*, env, name="beat"):
    """Celery beat with the product's periodic jobs (the database scheduler), as the Procfile runs it."""
    run([sys.executable, "manage.py", "setup_periodic_tasks"], env=env, capture_output=True)
    return Process([sys.executable, "-m", "celery", "-A", "socialcrm", "beat", "--loglevel=WARNING"], env=env,
                   name=name)


# ----------------------------------------------------------------------------- simulator


class Simulator:
    """The platform simulator on an ephemeral port (``bench.simulator``: real rules, optional raised quotas)."""

    def __init__(self, *, raised_quotas=False):
        args = [sys.executable, "-m", "bench.simulator", "--port", "0"] + (["--raised-quotas"] if raised_quotas else [])
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        # Its stderr (connection resets from killed workers, mostly) goes to a log, not the results.
        self._stderr = open(RESULTS_DIR / "simulator.log", "ab")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=bench_environ(), stdout=subprocess.PIPE,
                                      stderr=self._stderr, text=True, start_new_session=True)
        line = self.popen.stdout.readline().strip()
        prefix = "simulator listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        from simulator.testing import SimulatorClient

        self.url = line[len(prefix):]
        self.client = SimulatorClient(self.url)
        for _ in range(100):
            try:
                self.client.health()
                break
            except OSError:
                time.sleep(0.05)

    def settings(self):
        return self.client.settings()

    def stop(self):
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        self._stderr.close()


def connect_accounts(*, tenant, club, accounts=POSTING_ACCOUNTS):
    """Connect simulated accounts through the real OAuth flow; returns {(slug, account_id): SocialConnection}."""
    from connections.models import SocialConnection
    from platforms import adapter_for_slug
    from platforms.tests.contract import click_consent, query_of

    connections = {}
    for slug, wanted in accounts.items():
        adapter = adapter_for_slug(slug)
        state, verifier = uuid.uuid4().hex, adapter.new_code_verifier()
        redirect = f"http://127.0.0.1/connections/callback/{slug}/"
        location = click_consent(adapter.authorization_url(redirect_uri=redirect, state=state, code_verifier=verifier))
        tokens = adapter.exchange_code(code=query_of(location)["code"], redirect_uri=redirect, code_verifier=verifier)
        for account in adapter.list_accounts(tokens=tokens):
            if account.account_id not in wanted:
                continue
            connection = SocialConnection(
                tenant=tenant, club=club, platform=adapter.platform, account_id=account.account_id,
                account_name=account.name, account_type=adapter.account_type, permissions=account.permissions,
                account_details=account.details, token_expiry=account.expires_at, connected_by="bench")
            connection.set_tokens(access_token=account.access_token, refresh_token=account.refresh_token)
            connection.save()
            connections[(slug, account.account_id)] = connection
    return connections


def make_tenant(name):
    """A tenant with one club, for the flow benchmarks (separate from B2's 1,000 tenants)."""
    from crm.models import Club, Tenant

    tenant, _ = Tenant.objects.get_or_create(id=name, defaults={"name": name, "inbound_event_secret": secrets.token_hex(16)})
    club, _ = Club.objects.get_or_create(id=f"{name}-club", defaults={"tenant": tenant, "name": f"{name} club",
                                                                       "timezone": "Europe/London"})
    return tenant, club


def wipe_tenant(name):
    from bench.wipe import wipe_posts_in_sql
    from crm.models import Tenant

    wipe_posts_in_sql([name])
    Tenant.objects.filter(id=name).delete()


# ----------------------------------------------------------------------------- results


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    f, c = int(k), min(int(k) + 1, len(values) - 1)
    return values[f] + (values[c] - values[f]) * (k - f)


class Results:
    """Rows of (figure, value, limit, pass) plus notes, written to var/bench/<name>.json."""

    def __init__(self, name):
        self.name = name
        self.rows = []
        self.notes = []
        self.settings = {}

    def add(self, bench, figure, value, limit="", ok=None):
        self.rows.append({"bench": bench, "figure": figure, "value": value, "limit": limit, "pass": ok})
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"  {bench:<4} {figure:<52} {value:>16}  {limit:<22} {verdict}", flush=True)

    def note(self, text):
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def save(self):
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / f"{self.name}.json").write_text(json.dumps(
            {"name": self.name, "rows": self.rows, "notes": self.notes, "settings": self.settings}, indent=2))


def wait_until(predicate, *, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# ----------------------------------------------------------------------------- a database of one's own
# A benchmark that loads its own rows works in a database named <prefix>_<random>, created and dropped by
# itself, so two runs (or two benchmarks) never share or drop each other's fixed-name database.


def scratch_database(prefix):
    """Create and migrate ``<prefix>_<8 hex>``; returns (name, DATABASE_URL).

    ``BENCH_SCRATCH_PREFIX`` replaces the prefix (a shared server where each person's databases carry
    their own name)."""
    name = f"{os.environ.get('BENCH_SCRATCH_PREFIX') or prefix}_{secrets.token_hex(4)}"
    url = f"postgres://postgres@127.0.0.1:5432/{name}"
    with admin_connection() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=bench_environ(DATABASE_URL=url))
    return name, url


def drop_scratch_database(name):
    """Drop a database made by ``scratch_database`` (and only such a one)."""
    prefixes = ("socialcrm_b", "scrm_b", *filter(None, [os.environ.get("BENCH_SCRATCH_PREFIX")]))
    if not name.startswith(prefixes) or len(name.rsplit("_", 1)[-1]) != 8:
        raise ValueError(f"{name} is not a scratch database")
    with admin_connection() as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                     "AND pid <> pg_backend_pid()", [name])
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
