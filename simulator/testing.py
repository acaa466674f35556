"""Start the simulator from tests and drive its control API (standard library only)."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from . import world

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SimulatorProcess:
    """`python -m simulator --port 0` as a child process; `url` once started."""

    def __init__(self, python=None, startup_timeout=15, args=()):
        self.python = python or sys.executable
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self.process = None
        self.url = None

    def start(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen([self.python, "-m", "simulator", "--port", "0", *self.args], cwd=PROJECT_ROOT, env=env,
                                        stdout=subprocess.PIPE, stderr=None, text=True)
        line = self.process.stdout.readline().strip()
        prefix = "simulator listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(f"the simulator did not start (first line: {line!r})")
        self.url = line[len(prefix):]
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                SimulatorClient(self.url).health()
                return self
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("the simulator did not answer /_sim/health") from None
                time.sleep(0.05)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process and self.process.stdout:
            self.process.stdout.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class SimulatorClient:
    """The control API of a running simulator at `url`."""

    def __init__(self, url, timeout=30):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method, path, body=None, query=None):
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"simulator control call {method} {path} failed: {exc.code} {exc.read()!r}") from None

    def health(self):
        return self._call("GET", "/_sim/health")

    def reset(self):
        return self._call("POST", "/_sim/reset")

    def inject(self, platform, endpoint, kind, times=1, **options):
        """The next `times` calls matching `endpoint` ("POST /2/tweets", "POST */feed", "*") fail with `kind`."""
        return self._call("POST", "/_sim/faults",
                          {"platform": platform, "endpoint": endpoint, "kind": kind, "times": times, **options})

    def clear_faults(self):
        return self._call("DELETE", "/_sim/faults")

    def requests(self, platform=None, since=0):
        return self._call("GET", "/_sim/requests", query={"platform": platform, "since": since})["requests"]

    def published(self, platform=None, account=None):
        return self._call("GET", "/_sim/published", query={"platform": platform, "account": account})["published"]

    def advance_clock(self, seconds):
        return self._call("POST", "/_sim/clock", {"advance": seconds})

    def now(self):
        return self._call("GET", "/_sim/clock")["now"]

    def set_latency(self, ms):
        return self._call("POST", "/_sim/latency", {"ms": ms})

    def set_usage(self, platform="facebook", account=None, **numbers):
        """Reported usage percentages (call_count, total_cputime, total_time); 100 throttles."""
        return self._call("POST", "/_sim/usage", {"platform": platform, "account": account, **numbers})

    def set_metrics(self, post_id, **metrics):
        """Fix counts for one post: likes, comments, shares, impressions, reach, clicks, saves, quotes, bookmarks."""
        return self._call("POST", "/_sim/metrics", {"post_id": post_id, "metrics": metrics})

    def configure_x(self, **options):
        """X's 24-hour caps and media rules: user_24h_limit, app_24h_limit, processing_seconds,
        processing_fails, chunk_max_bytes, image_max_bytes, gif_max_bytes, video_max_bytes."""
        return self._call("POST", "/_sim/x", options)["x"]

    def set_processing(self, platform, seconds, outcome="ready"):
        """Videos uploaded from now on take `seconds` of simulated time to process, then end `outcome`
        ("ready" or "error"); platform "instagram" (containers) or "facebook" (Page videos)."""
        return self._call("POST", "/_sim/processing", {"platform": platform, "seconds": seconds, "outcome": outcome})

    def set_publish_quota(self, total):
        """Instagram's content publishing limit (posts per rolling 24 h), 50 by default."""
        return self._call("POST", "/_sim/limits", {"instagram_publish_quota": total})

    def revoke_tokens(self, platform, account=None):
        return self._call("POST", "/_sim/tokens/revoke", {"platform": platform, "account": account})["revoked"]

    def linkedin_config(self, **values):
        """LinkedIn behaviour: processing_seconds, processing_outcome, video_part_size,
        programmatic_refresh={client_id: bool}."""
        return self._call("POST", "/_sim/linkedin", values)

    def video_url(self):
        return f"{self.url}/_sim/media/sample.mp4"

    def media_url(self, name="sample.jpg"):
        return f"{self.url}/_sim/media/{name}"

    def settings(self):
        """Django settings that point the app at this simulator."""
        return {
            "FACEBOOK_DIALOG_URL": self.url,
            "FACEBOOK_GRAPH_URL": self.url,
            "X_AUTHORIZE_URL": self.url + "/i/oauth2/authorize",
            "X_API_URL": self.url,
            "LINKEDIN_OAUTH_URL": self.url + "/oauth/v2",
            "LINKEDIN_API_URL": self.url,
            "FACEBOOK_APP_ID": world.FACEBOOK_APP_ID,
            "FACEBOOK_APP_SECRET": world.FACEBOOK_APP_SECRET,
            "X_CLIENT_ID": world.X_CLIENT_ID,
            "X_CLIENT_SECRET": world.X_CLIENT_SECRET,
            "LINKEDIN_CLIENT_ID": world.LINKEDIN_CLIENT_ID,
            "LINKEDIN_CLIENT_SECRET": world.LINKEDIN_CLIENT_SECRET,
            # the app fetches the simulator's sample media, on loopback, so it must be allowed by name
            "FETCH_ALLOWED_HOSTS": urllib.parse.urlsplit(self.url).netloc,
        }
