"""A stand-in for Mailgun: accepts sends over its HTTP API and posts signed tracking webhooks back.

    python -m simulator.mail --port 8101 --webhook-url http://127.0.0.1:8000/anymail/mailgun/tracking/

The app's anymail Mailgun backend is pointed at it with ANYMAIL_MAILGUN_API_URL=http://127.0.0.1:8101/v3.
Each message sent gets Mailgun's answer (an id, "Queued. Thank you.") and then, per recipient, the events
a real sandbox would report, signed like Mailgun signs them (HMAC-SHA256 of timestamp + token with the
webhook signing key) in Mailgun's JSON webhook format:

    bounce…@…      failed, permanent (a hard bounce: the mailbox does not exist)
    softbounce…@…  failed, temporary (mailbox full)
    complain…@…    delivered, then complained (marked as spam)
    open…@…        delivered, then opened
    click…@…       delivered, opened, then clicked
    anything else  delivered

With --webhook-url the webhooks are posted there (after --delay seconds); every signed webhook is also kept,
so tests read them over HTTP and post them where they like. Control API (JSON):

    GET  /_mail/health                 {"ok": true}
    GET  /_mail/messages               messages received, newest last
    GET  /_mail/webhooks               signed webhooks made, newest last, with the answer each got
    POST /_mail/messages/<id>/events   {"event": "opened" | "clicked" | "complained" | "delivered" | "failed",
                                        "severity": "permanent" | "temporary", "recipient": "...", "timestamp": 123}
                                       makes (and posts) one more signed webhook for that message
    POST /_mail/reset                  forget everything

Standard library only; loopback only, like the platform simulator.
"""

import argparse
import base64
import email.parser
import email.policy
import email.utils
import hashlib
import hmac
import json
import secrets
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from simulator.standin import JsonHandler, StandinServer, serve

DEFAULT_API_KEY = "sim-mailgun-key"
DEFAULT_SIGNING_KEY = "sim-mailgun-signing-key"
MAX_KEPT = 5000

# Recipient local part → the events that follow a send, in order.
SCENARIOS = (
    ("softbounce", [("failed", "temporary")]),
    ("bounce", [("failed", "permanent")]),
    ("complain", [("delivered", None), ("complained", None)]),
    ("click", [("delivered", None), ("opened", None), ("clicked", None)]),
    ("open", [("delivered", None), ("opened", None)]),
)


def events_for(recipient):
    local = recipient.split("@", 1)[0].lower()
    for prefix, events in SCENARIOS:
        if local.startswith(prefix):
            return events
    return [("delivered", None)]


def sign(signing_key, timestamp, token):
    return hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


class MailState:
    def __init__(self, api_key, signing_key, webhook_url=None, delay=0.5):
        self.api_key, self.signing_key = api_key, signing_key
        self.webhook_url, self.delay = webhook_url, delay
        self.lock = threading.Lock()
        self.messages = []  # dicts: id, domain, from, to, subject, variables, tags, received_at
        self.webhooks = []  # dicts: message_id, event, payload, status (answer from the webhook URL, or None)
        self.sequence = 0

    def reset(self):
        with self.lock:
            self.messages.clear()
            self.webhooks.clear()

    # ------------------------------------------------------------ sending

    def accept(self, domain, fields):
        with self.lock:
            self.sequence += 1
            message_id = f"{time.strftime('%Y%m%d%H%M%S')}.{self.sequence}.{secrets.token_hex(4)}@{domain}"
            message = {
                "id": message_id, "domain": domain, "from": _first(fields, "from"), "to": fields.get("to", []),
                "subject": _first(fields, "subject"), "text": _first(fields, "text"),
                "variables": {k[2:]: _first(fields, k) for k in fields if k.startswith("v:")},
                "tags": fields.get("o:tag", []), "received_at": time.time(),
            }
            self.messages.append(message)
            del self.messages[:-MAX_KEPT]
        records = []
        for recipient in message["to"]:
            address = email.utils.parseaddr(recipient)[1] or recipient
            records += [self.emit(message, kind, recipient=address, severity=severity, post=False)
                        for kind, severity in events_for(address)]
        self.post(records)
        return message

    def find(self, message_id):
        with self.lock:
            return next((m for m in self.messages if m["id"] == message_id.strip("<>")), None)

    # ------------------------------------------------------------ webhooks

    def emit(self, message, kind, *, recipient=None, severity=None, timestamp=None, post=True):
        """Build one signed webhook for the message; post it (when a webhook URL is set) unless told not to."""
        now = time.time()
        token = secrets.token_hex(25)
        signed_at = str(int(now))
        data = {
            "event": kind, "id": secrets.token_urlsafe(16), "timestamp": float(timestamp if timestamp is not None else now),
            "recipient": recipient or (message["to"][0] if message["to"] else ""),
            "tags": message["tags"], "user-variables": message["variables"],
            "message": {"headers": {"message-id": message["id"], "from": message["from"],
                                    "to": ", ".join(message["to"]), "subject": message["subject"]}},
        }
        if kind == "failed":
            severity = severity or "permanent"
            data["severity"] = severity
            data["reason"] = "bounce" if severity == "permanent" else "generic"
            data["delivery-status"] = (
                {"code": 550, "message": "5.1.1 The email account that you tried to reach does not exist",
                 "description": "mailbox does not exist"} if severity == "permanent" else
                {"code": 452, "message": "4.2.2 The email account that you tried to reach is over quota",
                 "description": "mailbox full"})
        elif kind == "delivered":
            data["delivery-status"] = {"code": 250, "message": "OK", "description": ""}
        elif kind == "clicked":
            data["url"] = "https://example.com/clicked"
        payload = {"signature": {"timestamp": signed_at, "token": token,
                                 "signature": sign(self.signing_key, signed_at, token)},
                   "event-data": data}
        record = {"message_id": message["id"], "event": kind, "recipient": data["recipient"], "payload": payload,
                  "status": None}
        with self.lock:
            self.webhooks.append(record)
            del self.webhooks[:-MAX_KEPT]
        if post:
            self.post([record])
        return record

    def post(self, records):
        """Post the webhooks in their order, one after another, off the request's thread."""
        if self.webhook_url and records:
            threading.Thread(target=self._post_in_order, args=(records,), daemon=True).start()

    def _post_in_order(self, records):
        for record in records:
            time.sleep(self.delay)
            self._post(record)

    def _post(self, record):
        request = urllib.request.Request(self.webhook_url, data=json.dumps(record["payload"]).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - a configured local URL
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = "unreachable"
        with self.lock:
            record["status"] = status


def _first(fields, name):
    values = fields.get(name) or [""]
    return values[0]


def parse_fields(content_type, body):
    """Form fields (multipart or urlencoded) as name → list of values; files are ignored."""
    content_type = content_type or ""
    if "application/x-www-form-urlencoded" in content_type:
        return urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    if "multipart/form-data" not in content_type:
        return {}
    raw = b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name and part.get_filename() is None:
            fields.setdefault(name, []).append((part.get_payload(decode=True) or b"").decode("utf-8", "replace"))
    return fields


class Handler(JsonHandler):
    server_version = "SocialCRM-MailSimulator/1.0"
    label = "mail simulator"

    def authorised(self):
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, key = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == "api" and hmac.compare_digest(key, self.server.state.api_key)

    def do_GET(self):
        state = self.server.state
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_mail/health":
            return self.answer(200, {"ok": True})
        if path == "/_mail/messages":
            with state.lock:
                return self.answer(200, {"messages": list(state.messages)})
        if path == "/_mail/webhooks":
            with state.lock:
                return self.answer(200, {"webhooks": list(state.webhooks)})
        return self.answer(404, {"message": "Not found"})

    def do_POST(self):
        state = self.server.state
        path = urllib.parse.urlsplit(self.path).path
        body = self.body()
        parts = path.strip("/").split("/")
        if path == "/_mail/reset":
            state.reset()
            return self.answer(200, {"ok": True})
        if len(parts) == 4 and parts[:2] == ["_mail", "messages"] and parts[3] == "events":
            message = state.find(urllib.parse.unquote(parts[2]))
            if message is None:
                return self.answer(404, {"message": "no such message"})
            try:
                options = json.loads(body or b"{}")
            except ValueError:
                return self.answer(400, {"message": "the body must be JSON"})
            kind = options.get("event")
            if kind not in ("delivered", "opened", "clicked", "complained", "failed", "unsubscribed"):
                return self.answer(400, {"message": "event must be delivered, opened, clicked, complained, failed or unsubscribed"})
            record = state.emit(message, kind, recipient=options.get("recipient"), severity=options.get("severity"),
                                timestamp=options.get("timestamp"))
            return self.answer(200, record)
        # Mailgun's send API: POST /v3/<domain>/messages with basic auth api:<key>.
        if len(parts) == 3 and parts[0] == "v3" and parts[2] == "messages":
            if not self.authorised():
                return self.answer(401, {"message": "Invalid private key"})
            fields = parse_fields(self.headers.get("Content-Type"), body)
            if not fields.get("to") or not fields.get("from"):
                return self.answer(400, {"message": "'to' and 'from' parameters are missing"})
            message = state.accept(parts[1], fields)
            return self.answer(200, {"id": f"<{message['id']}>", "message": "Queued. Thank you."})
        return self.answer(404, {"message": "Not found"})


class MailSimulatorServer(StandinServer):
    def __init__(self, host="127.0.0.1", port=0, *, api_key=DEFAULT_API_KEY, signing_key=DEFAULT_SIGNING_KEY,
                 webhook_url=None, delay=0.5, verbose=False):
        super().__init__(host, port, Handler, state=MailState(api_key, signing_key, webhook_url, delay),
                         verbose=verbose, label="mail simulator")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m simulator.mail", description="A local stand-in for Mailgun.")
    parser.add_argument("--port", type=int, default=8101, help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address")
    parser.add_argument("--webhook-url", default="", help="where to post the signed tracking webhooks")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the API key senders must use")
    parser.add_argument("--signing-key", default=DEFAULT_SIGNING_KEY, help="the webhook signing key")
    parser.add_argument("--delay", type=float, default=0.5, help="seconds before each webhook is posted")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    return serve(parser, args, lambda: MailSimulatorServer(
        args.host, args.port, api_key=args.api_key, signing_key=args.signing_key,
        webhook_url=args.webhook_url or None, delay=args.delay, verbose=args.verbose), "mail simulator")

if __name__ == "__main__":
    sys.exit(main())
