"""What the local stand-ins for the mail provider and the SMS gateway share: a JSON answering handler,
a loopback-only threading server and the serve-until-Ctrl-C loop. Each stand-in keeps its own routes and state."""

import http.server
import json
import socket
import sys

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class JsonHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as written, without waiting for a delayed ACK
    label = "stand-in"  # how log lines name the stand-in

    def log_message(self, format, *args):
        if self.server.verbose:
            sys.stderr.write(f"{self.label}: {format % args}\n")

    def answer(self, status, body):
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


class StandinServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server that listens on loopback only; ``state`` is the stand-in's own."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host, port, handler, *, state, verbose=False, label="stand-in"):
        if host not in LOOPBACK:
            raise ValueError(f"the {label} binds to loopback only, not {host!r}")
        self.state = state
        self.verbose = verbose
        if host == "::1":
            self.address_family = socket.AF_INET6
        super().__init__(("127.0.0.1" if host == "localhost" else host, port), handler)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(parser, args, make_server, label):
    """Refuse a non-loopback address, start the server, serve until Ctrl-C; the exit status."""
    if args.host not in LOOPBACK:
        parser.exit(2, f"{label}: refusing to listen on {args.host!r}: loopback only\n")
    server = make_server()
    print(f"{label} listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
