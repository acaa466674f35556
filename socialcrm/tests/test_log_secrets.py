"""No OAuth code or state, and no unsubscribe token, in any log line of the web process."""

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from socialcrm.redaction import redact_path, redact_text

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ["SECRETCODE4711", "SECRETSTATE4712", "REFERERCODE4713", "UNSUBTOKEN4714"]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _procfile_web_args(port):
    """The web line of the Procfile as deployed, bound to a free loopback port, one worker."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    args = shlex.split(line.partition(":")[2])
    assert args[0].endswith("gunicorn")
    args = args[1:]
    for flag, value in (("--bind", f"127.0.0.1:{port}"), ("--workers", "1")):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return [sys.executable, "-m", "gunicorn", *args]


def test_gunicorn_access_and_error_logs_carry_no_codes_states_or_unsubscribe_tokens(tmp_path):
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "socialcrm.test_settings", "PYTHONUNBUFFERED": "1"}
    out, err = open(tmp_path / "out.log", "w+"), open(tmp_path / "err.log", "w+")
    server = subprocess.Popen(_procfile_web_args(port), cwd=ROOT, env=env, stdout=out, stderr=err,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/login/", timeout=5)
                break
            except requests.ConnectionError:
                assert server.poll() is None, (tmp_path / "err.log").read_text()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.3)
        login = requests.get(f"{base}/login/?code={SECRETS[0]}&state={SECRETS[1]}", timeout=10,
                             headers={"Referer": f"https://www.facebook.com/dialog/oauth?code={SECRETS[2]}"})
        assert login.status_code == 200
        unsubscribe = requests.get(f"{base}/promotions/unsubscribe/{SECRETS[3]}/?state={SECRETS[1]}", timeout=10)
        assert unsubscribe.status_code == 404
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    out.seek(0)
    err.seek(0)
    access, errors = out.read(), err.read()
    assert '"GET /login/ HTTP/1.1" 200' in access
    assert '"GET /promotions/unsubscribe/[redacted]/ HTTP/1.1" 404' in access
    assert "https://www.facebook.com/dialog/oauth" in access  # the referer, without its query
    assert "Not Found: /promotions/unsubscribe/[redacted]/" in errors  # Django's own log line
    for secret in SECRETS:
        assert secret not in access and secret not in errors, secret


def test_redaction_of_paths_and_free_text():
    assert redact_path("/promotions/unsubscribe/abc:def/?x=1") == "/promotions/unsubscribe/[redacted]/"
    assert redact_text('"GET /connections/callback/x/?code=abc&state=def HTTP/1.1" 302') == (
        '"GET /connections/callback/x/ HTTP/1.1" 302')
    assert redact_text("Not Found: /promotions/unsubscribe/abc:1x/") == "Not Found: /promotions/unsubscribe/[redacted]/"
    assert redact_text("see https://x.example/a?b=c now") == "see https://x.example/a now"
    assert redact_text('"GET /posts/calendar/feed/Zx-9_secret.ics HTTP/1.1" 200') == (
        '"GET /posts/calendar/feed/[redacted] HTTP/1.1" 200')
    assert redact_path("/posts/calendar/feed/") == "/posts/calendar/feed/"  # the feed page itself
