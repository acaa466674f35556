"""HTTP server: routes each call to its platform, applies faults and latency, records every call."""

import fnmatch
import http.server
import socket
import sys
import time
import traceback

from . import graph, linkedin, twitter
from .control import Control
from .protocol import HttpError, Request, Response
from .state import Fault, State

SECRET_KEYS = {"access_token", "refresh_token", "token", "client_secret", "fb_exchange_token", "input_token", "code"}
MAX_LOG = 20000
LOOPBACK_HOSTS = {"127.0.0.1": socket.AF_INET, "localhost": socket.AF_INET, "::1": socket.AF_INET6}


def platform_of(state, path):
    if path.startswith("/_sim/linkedin-upload/"):
        return "linkedin"
    if path.startswith("/_sim"):
        return None
    if path.startswith(("/i/oauth2/", "/2/")):
        return "twitter"
    if path.startswith(("/oauth/v2/", "/rest/")):
        return "linkedin"
    return graph.platform_for(state, path)


def scrub(value):
    if isinstance(value, dict):
        return {k: "***" if k in SECRET_KEYS and v not in (None, "") else scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def scrub_headers(headers):
    result = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme = value.strip().split(" ", 1)[0]
            value = f"{scheme} ***"
        result[name] = value
    return result


def logged_body(req):
    if req.json is not None:
        return scrub(req.json)
    if req.files:
        return {"fields": scrub(req.form), "files": {k: {"size": len(v)} for k, v in req.files.items()}}
    if req.form_multi:
        return scrub({k: v[0] if len(v) == 1 else v for k, v in req.form_multi.items()})
    if req.body:
        return {"bytes": len(req.body)}
    return None


def fault_matches(fault, platform, method, path):
    if fault.platform != platform or fault.times <= 0:
        return False
    if fault.method not in ("*", method):
        return False
    candidates = {path, graph.strip_version(path)} if platform in ("facebook", "instagram") else {path}
    return any(fnmatch.fnmatchcase(c, fault.pattern) for c in candidates)


def parse_fault(body):
    platform = body.get("platform")
    if platform not in ("facebook", "instagram", "twitter", "linkedin"):
        raise ValueError("platform must be facebook, instagram, twitter or linkedin")
    kind = body.get("kind")
    if kind not in ("server_error", "timeout", "rate_limit", "revoked_token", "expired_token", "duplicate",
                    "permission"):
        raise ValueError(f"unknown fault kind {kind!r}")
    endpoint = (body.get("endpoint") or "*").strip()
    method, _, pattern = endpoint.partition(" ")
    if not pattern:
        method, pattern = ("*", method) if method.startswith(("/", "*")) else (method, "*")
    options = {k: v for k, v in body.items() if k not in ("platform", "kind", "endpoint", "times")}
    return Fault(platform, method.upper(), pattern.strip(), kind, int(body.get("times", 1)), options)


def platform_fault_error(state, fault, platform, business, headers):
    if platform in ("facebook", "instagram"):
        return graph.fault_error(fault.kind, platform, business, fault.options, headers)
    if platform == "twitter":
        return twitter.fault_error(fault.kind, fault.options, state, None)
    return linkedin.fault_error(fault.kind, fault.options)


class Simulator:
    def __init__(self):
        self.state = State()
        self.graph = graph.Graph(self.state)
        self.twitter = twitter.Twitter(self.state)
        self.linkedin = linkedin.LinkedIn(self.state)
        self.control = Control(self.state, parse_fault)

    def respond(self, req):
        state = self.state
        with state.lock:
            platform = platform_of(state, req.path)
        if platform is None:
            with state.lock:
                return self.control.handle(req)
        with state.lock:
            entry = {"seq": state.next_id("seq"), "time": state.now(), "platform": platform, "method": req.method,
                     "path": req.path, "query": scrub({k: v[0] if len(v) == 1 else v
                                                       for k, v in req.query_multi.items()}),
                     "headers": scrub_headers(req.headers), "body": logged_body(req), "status": None}
            entry["seq"] = int(entry["seq"])
            state.log.append(entry)
            if len(state.log) > MAX_LOG:  # a long local run must not grow without bound
                del state.log[: len(state.log) - MAX_LOG]
            latency = state.latency_ms
            fault = next((f for f in state.faults if fault_matches(f, platform, req.method, req.path)), None)
            if fault:
                fault.times -= 1
                entry["fault"] = fault.kind
        if latency:
            time.sleep(latency / 1000)
        if fault and fault.kind == "timeout":
            time.sleep(float(fault.options.get("delay", 10)))
            if not fault.options.get("process", True):
                response = Response(504, {"message": "Gateway Timeout"})
                with state.lock:
                    entry["status"] = response.status
                return response
            fault = None
        with state.lock:
            headers, business = {}, None
            try:
                if platform in ("facebook", "instagram"):
                    headers, business = graph.usage_headers(state, req.path, platform)
                    graph.throttle_check(state, platform, business, headers)
                if fault:
                    raise platform_fault_error(state, fault, platform, business, headers)
                handler = {"facebook": self.graph, "instagram": self.graph, "twitter": self.twitter,
                           "linkedin": self.linkedin}[platform]
                response = handler.handle(req)
            except HttpError as exc:
                response = exc.response
            except Exception:  # noqa: BLE001  a simulator bug must still answer, loudly
                traceback.print_exc()
                response = Response(500, {"message": "simulator internal error", "trace": traceback.format_exc()})
            response.headers = {**headers, **response.headers}
            entry["status"] = response.status
        return response


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A response is written as headers then body: with Nagle's algorithm on, the body waits for the
    # client's delayed ACK of the headers (~40 ms on loopback), a stall no real platform adds.
    disable_nagle_algorithm = True
    server_version = "SocialCRM-PlatformSimulator/1.0"

    def log_message(self, format, *args):
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_any(self):
        body = self.read_body()
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        req = Request(self.command, self.path, self.headers, body, f"http://{host}")
        response = self.server.simulator.respond(req)
        payload, content_type = response.encode()
        try:
            self.send_response(response.status)
            if content_type:
                self.send_header("Content-Type", content_type)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


class SimulatorServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host="127.0.0.1", port=0, verbose=False):
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the simulator binds to loopback only (127.0.0.1, localhost or ::1), not {host!r}")
        self.address_family = LOOPBACK_HOSTS[host]
        self.simulator = Simulator()
        self.verbose = verbose
        super().__init__(("127.0.0.1" if host == "localhost" else host, port), Handler)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
