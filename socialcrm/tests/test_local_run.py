"""Running the product locally: the bundled PostgreSQL, the ports `make run` uses and the .env it writes."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.db import connection

from socialcrm import devdb, localenv, ports

ROOT = Path(__file__).resolve().parents[2]


# Reads `env_file` where settings read the project's .env, so a developer's own .env does not leak in.
ENV_FILE_SWAP = ("import os, environ; _read = environ.Env.read_env; "
                 "environ.Env.read_env = lambda path, **kw: _read(os.environ['TEST_ENV_FILE'], **kw); ")


def python_in_subprocess(code, env_file=None, **environment):
    """Run `code` after the .env swap with `environment` (None removes a variable); its last stdout line."""
    if env_file is None:
        env_file = Path(os.environ.get("TMPDIR", "/tmp")) / "socialcrm-empty.env"
        env_file.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in environment}
    env.update({k: v for k, v in environment.items() if v is not None})
    env.update(TEST_ENV_FILE=str(env_file))
    result = subprocess.run([sys.executable, "-c", ENV_FILE_SWAP + code], cwd=ROOT, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


def settings_in_subprocess(names, env_file=None, **environment):
    """Values of settings `names` as a fresh process sees them."""
    environment.setdefault("DEBUG", "1")
    code = ("import json, django; from django.conf import settings; "
            f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))")
    return json.loads(python_in_subprocess(code, env_file, DJANGO_SETTINGS_MODULE="socialcrm.settings",
                                           **environment))


# -- the database


def test_the_suite_runs_on_postgresql_unless_sqlite_is_asked_for():
    """Without DATABASE_URL the suite gets the bundled PostgreSQL, so the concurrency and Celery tests run."""
    if os.environ["DATABASE_URL"].startswith("sqlite"):
        assert connection.vendor == "sqlite"
    else:
        assert connection.vendor == "postgresql"


def test_without_database_url_settings_point_at_the_local_cluster_socket():
    values = settings_in_subprocess(["DATABASES"], DATABASE_URL=None)
    default = values["DATABASES"]["default"]
    assert default["ENGINE"] == "django.db.backends.postgresql"
    assert default["HOST"] == str(devdb.local_socket_dir())
    assert (default["NAME"], default["USER"]) == ("socialcrm", "postgres")


def test_database_url_is_used_as_given():
    values = settings_in_subprocess(["DATABASES"], DATABASE_URL="postgres://app:pw@db.example.com:6543/crm")
    default = values["DATABASES"]["default"]
    assert (default["HOST"], default["PORT"], default["NAME"]) == ("db.example.com", 6543, "crm")
    sqlite = settings_in_subprocess(["DATABASES"], DATABASE_URL="sqlite:////tmp/x.sqlite3")
    assert sqlite["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"


def test_a_deep_checkout_keeps_the_socket_path_short_enough(tmp_path):
    deep = tmp_path / ("d" * 120) / "var" / "postgres"
    assert devdb.local_socket_dir(deep) != deep
    assert len(str(devdb.local_socket_dir(deep) / ".s.PGSQL.5432.lock")) <= devdb.SOCKET_PATH_MAX
    assert devdb.local_socket_dir(Path("/srv/crm/var/postgres")) == Path("/srv/crm/var/postgres")


@pytest.fixture
def local_dir(monkeypatch):
    """A folder standing in for var/: outside pytest's tmp tree (pytest resets that tree to 0700, and under root
    the server runs as another account that must traverse to its data)."""
    folder = Path(tempfile.mkdtemp(prefix="socialcrm-devdb-test-"))
    folder.chmod(0o711)
    monkeypatch.setattr(devdb, "LOCAL_DATA_DIR", folder / "postgres")
    monkeypatch.setattr(devdb, "LOCAL_LOG", folder / "postgres.log")
    monkeypatch.delenv("DATABASE_URL")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_launcher_runs_a_command_with_the_database_up_and_stops_it_after(local_dir, tmp_path):
    """`devdb run` starts the cluster, creates the database, runs the command, then nothing is left running."""
    data_dir = local_dir / "postgres"
    out = tmp_path / "out.txt"
    socket_dir = devdb.local_socket_dir(data_dir)
    probe = ("import psycopg, sys; c = psycopg.connect(host=sys.argv[1], port=5432, user='postgres', "
             "dbname='socialcrm'); open(sys.argv[2], 'w').write(c.execute('select current_database()').fetchone()[0])")
    code = devdb.run([sys.executable, "-c", probe, str(socket_dir), str(out)])
    assert code == 0
    assert out.read_text() == "socialcrm"
    assert devdb.Cluster(data_dir).running_pid() is None
    assert not (data_dir / "postmaster.pid").exists()
    # A second run reuses the cluster's data: the database is still there.
    assert devdb.run([sys.executable, "-c", probe, str(socket_dir), str(out)]) == 0


def test_the_launcher_passes_the_exit_code_through_and_stops_the_cluster(local_dir):
    data_dir = local_dir / "postgres"
    assert devdb.run([sys.executable, "-c", "raise SystemExit(3)"]) == 3
    assert devdb.Cluster(data_dir).running_pid() is None


def test_with_database_url_the_launcher_starts_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(devdb, "LOCAL_DATA_DIR", tmp_path / "postgres")
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
    assert devdb.run([sys.executable, "-c", "pass"]) == 0
    assert not (tmp_path / "postgres").exists()


def test_a_throwaway_cluster_is_removed_when_stopped():
    cluster = devdb.throwaway_cluster()
    folder = cluster.data_dir.parent
    with socket.create_connection(("127.0.0.1", cluster.port), timeout=5):
        pass
    devdb.remove_throwaway(cluster)
    assert not folder.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", cluster.port), timeout=1)


# -- ports


def test_sitewide_url_follows_port_unless_set():
    assert settings_in_subprocess(["SITE_URL"], SITE_URL=None, PORT="18000")["SITE_URL"] == "http://127.0.0.1:18000"
    assert settings_in_subprocess(["SITE_URL"], SITE_URL=None, PORT=None)["SITE_URL"] == "http://127.0.0.1:8000"
    explicit = settings_in_subprocess(["SITE_URL"], SITE_URL="https://crm.example.com/", PORT="18000")
    assert explicit["SITE_URL"] == "https://crm.example.com"


PLATFORM_URLS = ["FACEBOOK_DIALOG_URL", "FACEBOOK_GRAPH_URL", "X_AUTHORIZE_URL", "X_API_URL", "LINKEDIN_OAUTH_URL",
                 "LINKEDIN_API_URL"]


def test_platform_urls_follow_the_simulator_port_locally(tmp_path):
    unset = {name: None for name in PLATFORM_URLS}
    values = settings_in_subprocess(PLATFORM_URLS, USE_PLATFORM_SIMULATOR="1", SIMULATOR_PORT="18100", **unset)
    assert values == {
        "FACEBOOK_DIALOG_URL": "http://127.0.0.1:18100", "FACEBOOK_GRAPH_URL": "http://127.0.0.1:18100",
        "X_AUTHORIZE_URL": "http://127.0.0.1:18100/i/oauth2/authorize", "X_API_URL": "http://127.0.0.1:18100",
        "LINKEDIN_OAUTH_URL": "http://127.0.0.1:18100/oauth/v2", "LINKEDIN_API_URL": "http://127.0.0.1:18100",
    }
    # A URL set explicitly wins; without the simulator flag the real platforms are used.
    explicit = settings_in_subprocess(["X_API_URL", "FACEBOOK_GRAPH_URL"], USE_PLATFORM_SIMULATOR="1",
                                      SIMULATOR_PORT=None, **{**unset, "X_API_URL": "http://127.0.0.1:9999"})
    assert explicit == {"X_API_URL": "http://127.0.0.1:9999", "FACEBOOK_GRAPH_URL": "http://127.0.0.1:8100"}
    real = settings_in_subprocess(["FACEBOOK_GRAPH_URL"], USE_PLATFORM_SIMULATOR=None, **unset)
    assert real == {"FACEBOOK_GRAPH_URL": "https://graph.facebook.com"}
    dotenv = tmp_path / "local.env"
    dotenv.write_text("USE_PLATFORM_SIMULATOR=1\n")
    real = settings_in_subprocess(["FACEBOOK_GRAPH_URL"], dotenv, USE_PLATFORM_SIMULATOR="0", SIMULATOR_PORT="18100",
                                  **unset)
    assert real == {"FACEBOOK_GRAPH_URL": "https://graph.facebook.com"}


def test_the_written_env_holds_no_port(tmp_path):
    path = tmp_path / ".env"
    localenv.main(["--path", str(path)])
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    assert not [name for name, value in values.items() if "SITE_URL" in name or "127.0.0.1:" in value]
    assert values["USE_PLATFORM_SIMULATOR"] == "1"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_an_env_written_with_frozen_ports_loses_them_and_keeps_its_keys(tmp_path):
    path = tmp_path / ".env"
    path.write_text("DEBUG=1\nTOKEN_ENCRYPTION_KEYS=local1:abc\nSITE_URL=http://127.0.0.1:8000\n"
                    "FACEBOOK_GRAPH_URL=http://127.0.0.1:8100\nX_AUTHORIZE_URL=http://127.0.0.1:8100/i/oauth2/authorize\n"
                    "LINKEDIN_API_URL=https://api.linkedin.com\n")
    localenv.main(["--path", str(path)])
    assert path.read_text() == ("DEBUG=1\nTOKEN_ENCRYPTION_KEYS=local1:abc\nLINKEDIN_API_URL=https://api.linkedin.com\n"
                                "USE_PLATFORM_SIMULATOR=1\n")
    before = path.read_text()
    localenv.main(["--path", str(path)])
    assert path.read_text() == before


def test_the_process_environment_wins_over_env(tmp_path):
    """`make run` hands every process SITE_URL as settings read it: environment, then .env, then PORT."""
    site_url = "from socialcrm.localenv import site_url; print(site_url())"
    empty, explicit = tmp_path / "empty.env", tmp_path / "explicit.env"
    empty.write_text("DEBUG=1\n")
    explicit.write_text("DEBUG=1\nSITE_URL=https://from-dotenv.example.com\n")
    assert python_in_subprocess(site_url, empty, PORT="18000", SITE_URL=None) == "http://127.0.0.1:18000"
    assert python_in_subprocess(site_url, explicit, PORT="18000", SITE_URL=None) == "https://from-dotenv.example.com"
    assert python_in_subprocess(site_url, explicit, PORT="18000",
                                SITE_URL="https://crm.example.com") == "https://crm.example.com"


def test_a_taken_port_is_named_before_anything_starts(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert ports.main([f"PORT={port}", f"SIMULATOR_PORT={devdb.free_port()}"]) == 1
    err = capsys.readouterr().err
    assert f"PORT={port}: port {port} on 127.0.0.1 is already in use" in err
    assert "Nothing was started" in err


def test_free_distinct_ports_pass_and_bad_ones_are_explained():
    assert ports.ports_problems({"PORT": devdb.free_port(), "SIMULATOR_PORT": devdb.free_port()}) == []
    assert ports.ports_problems({"PORT": "abc"}) == ["PORT='abc' is not a port number (1-65535)."]
    assert ports.ports_problems({"PORT": "70000"}) == ["PORT=70000 is not a port number (1-65535)."]
    free = devdb.free_port()
    assert ports.ports_problems({"PORT": free, "SIMULATOR_PORT": free}) == [
        f"PORT and SIMULATOR_PORT are both {free}: each needs a port of its own."]


def test_the_procfile_binds_port_and_the_simulator_port():
    procfile = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert "--bind 127.0.0.1:${PORT:-8000}" in procfile["web"]
    assert "--port ${SIMULATOR_PORT:-8100}" in procfile["simulator"]
    assert "--port ${MAIL_SIMULATOR_PORT:-8101}" in procfile["mail"]
    assert "/anymail/mailgun/tracking/" in procfile["mail"]


MAIL_SETTINGS = ["EMAIL_BACKEND", "EMAIL_PROVIDER", "ANYMAIL", "EMAIL_TRACKING_PROVIDERS"]


def test_local_runs_send_email_through_the_mail_stand_in_and_production_through_the_chosen_provider():
    local = settings_in_subprocess(MAIL_SETTINGS, USE_PLATFORM_SIMULATOR="1", MAIL_SIMULATOR_PORT="18101",
                                   EMAIL_PROVIDER=None, EMAIL_URL=None, EMAIL_BACKEND=None)
    assert local["EMAIL_BACKEND"] == "anymail.backends.mailgun.EmailBackend"
    assert local["ANYMAIL"]["MAILGUN_API_URL"] == "http://127.0.0.1:18101/v3"
    assert local["EMAIL_TRACKING_PROVIDERS"] == ["mailgun"]
    # Email set up explicitly (an SMTP server, a backend) wins over the stand-in.
    smtp = settings_in_subprocess(MAIL_SETTINGS, USE_PLATFORM_SIMULATOR="1", EMAIL_PROVIDER=None,
                                  EMAIL_URL="smtp://127.0.0.1:2525", EMAIL_BACKEND=None)
    assert smtp["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    # Without the simulator: SMTP (here the console) stays the default, and no webhook is mounted.
    plain = settings_in_subprocess(MAIL_SETTINGS, USE_PLATFORM_SIMULATOR=None, EMAIL_PROVIDER=None, EMAIL_URL=None,
                                   EMAIL_BACKEND=None)
    assert plain["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert plain["EMAIL_TRACKING_PROVIDERS"] == []
    chosen = settings_in_subprocess(MAIL_SETTINGS, EMAIL_PROVIDER="Postmark", ANYMAIL_POSTMARK_SERVER_TOKEN="tok",
                                    ANYMAIL_WEBHOOK_SECRET="user:pass")
    assert chosen["EMAIL_BACKEND"] == "anymail.backends.postmark.EmailBackend"
    assert chosen["ANYMAIL"]["POSTMARK_SERVER_TOKEN"] == "tok"
    assert chosen["EMAIL_TRACKING_PROVIDERS"] == ["postmark"]


def test_a_provider_without_webhook_verification_or_an_unknown_one_stops_production_start():
    code = "import django; from django.conf import settings; settings.EMAIL_BACKEND"
    base = {"DJANGO_SETTINGS_MODULE": "socialcrm.settings", "DEBUG": "0", "SECRET_KEY": "x" * 50,
            "TOKEN_ENCRYPTION_KEYS": localenv.generate_key_entry("k1"), "ALLOWED_HOSTS": "crm.example.com"}
    for environment, expected in (
        ({"EMAIL_PROVIDER": "mailgun", "ANYMAIL_MAILGUN_API_KEY": "key"}, "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY must be set"),
        ({"EMAIL_PROVIDER": "postmark", "ANYMAIL_POSTMARK_SERVER_TOKEN": "tok"}, "ANYMAIL_WEBHOOK_SECRET must be set"),
        ({"EMAIL_PROVIDER": "carrier-pigeon"}, "EMAIL_PROVIDER must be one of"),
    ):
        with pytest.raises(AssertionError, match=expected):
            python_in_subprocess(code, **base, **environment)


def test_a_cluster_left_by_a_killed_run_is_stopped_by_the_next_one(local_dir):
    """A `make run` killed with SIGKILL leaves PostgreSQL running; the next run takes charge and stops it."""
    data_dir = local_dir / "postgres"
    orphan = devdb.local_cluster().start()  # as if its launcher had died: no live owner
    (local_dir / "postgres.owner").write_text("999999999")
    try:
        assert devdb.run([sys.executable, "-c", "pass"]) == 0
        orphan.process.wait(timeout=10)
        assert devdb.Cluster(data_dir).running_pid() is None
        assert not (local_dir / "postgres.owner").exists()
    finally:
        orphan.stop()


def test_a_run_beside_a_live_one_leaves_its_cluster_running(local_dir):
    """`make migrate` while `make run` is up uses the same server and does not stop it under the app."""
    data_dir = local_dir / "postgres"
    running = devdb.local_cluster().start()
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    (local_dir / "postgres.owner").write_text(str(owner.pid))
    try:
        assert devdb.run([sys.executable, "-c", "pass"]) == 0
        assert running.process.poll() is None
        assert devdb.Cluster(data_dir).running_pid() == running.process.pid
    finally:
        owner.kill()
        owner.wait()
        running.stop()
