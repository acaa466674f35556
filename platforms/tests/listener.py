"""A tiny HTTP server on 127.0.0.1 that records every request it gets (for the media-fetch tests)."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SECRET_BODY = b"internal-secret: admin panel v9.9"


class Listener:
    """Answers from ``routes`` (path -> status, headers, body, delay) and records (method, path) hits."""

    def __init__(self):
        self.hits = []
        self.routes = {}
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self._answer()

            def do_HEAD(self):  # noqa: N802
                self._answer(body=False)

            def _answer(self, body=True):
                listener.hits.append((self.command, self.path))
                status, headers, content, delay, drip = listener.routes.get(
                    self.path, (200, {"Content-Type": "text/plain; charset=utf-8"}, SECRET_BODY, 0, 0))
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                for name, value in headers.items():
                    if value is not None:  # None: leave the header out (e.g. no Content-Length)
                        self.send_header(name, value)
                if "Content-Length" not in headers and content is not None:
                    self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if not (body and content):
                    return
                try:
                    if not drip:
                        self.wfile.write(content)
                        return
                    for start in range(0, len(content), 100):  # a trickle: 100 bytes every `drip` seconds
                        self.wfile.write(content[start:start + 100])
                        self.wfile.flush()
                        time.sleep(drip)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.netloc = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.netloc}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def route(self, path, status=200, headers=None, body=b"", delay=0, drip=0):
        self.routes[path] = (status, dict(headers or {}), body, delay, drip)

    def hits_on(self, path):
        return [hit for hit in self.hits if hit[1] == path]

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    """A loopback HTTP server that is NOT in FETCH_ALLOWED_HOSTS (the internal target)."""
    server = Listener().start()
    yield server
    server.stop()


@pytest.fixture
def second_listener():
    server = Listener().start()
    yield server
    server.stop()
