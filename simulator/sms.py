"""A stand-in for the HTTP SMS gateway: accepts texts and posts signed delivery receipts back.

    python -m simulator.sms --port 8102 --receipt-url http://127.0.0.1:8000/promotions/sms/receipts/

The app's HttpGatewaySmsBackend is pointed at it with SMS_GATEWAY_URL=http://127.0.0.1:8102/messages and
SMS_GATEWAY_TOKEN (the bearer token it checks). Each text gets an id, then the receipt a real gateway would
report, signed like the app expects (promotions/sms_receipts.py: ``X-Signature: sha256=<hex>``, HMAC-SHA256 with
the receipt secret over ``"<X-Signature-Timestamp>.<raw body>"``), by the number's last digits:

    …000   permanent_failure (the number does not exist)
    …111   failed (the handset was unreachable)
    other  delivered

With --receipt-url the receipts are posted there (after --delay seconds); every signed receipt is also kept,
so tests read them over HTTP and post them where they like. Control API (JSON):

    GET  /_sms/health                  {"ok": true}
    GET  /_sms/messages                texts received, newest last
    GET  /_sms/receipts                signed receipts made, newest last, with the answer each got
    POST /_sms/messages/<id>/receipts  {"status": "delivered" | "failed" | "permanent_failure"}: one more signed receipt
    POST /_sms/reset                   forget everything

Standard library only; loopback only, like the platform simulator.
"""

import argparse
import datetime
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

DEFAULT_TOKEN = "sim-sms-token"
DEFAULT_RECEIPT_SECRET = "sim-sms-receipt-secret"
MAX_KEPT = 5000
STATUSES = ("delivered", "failed", "permanent_failure")
DESCRIPTIONS = {"delivered": "", "failed": "handset unreachable", "permanent_failure": "unknown subscriber"}


def status_for(number):
    if number.endswith("000"):
        return "permanent_failure"
    if number.endswith("111"):
        return "failed"
    return "delivered"


def sign(secret, timestamp, body):
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class SmsState:
    def __init__(self, token, receipt_secret, receipt_url=None, delay=0.5):
        self.token, self.receipt_secret = token, receipt_secret
        self.receipt_url, self.delay = receipt_url, delay
        self.lock = threading.Lock()
        self.messages = []  # dicts: id, to, from, text, reference, received_at
        self.receipts = []  # dicts: message_id, status, body, headers, answer (from the receipt URL, or None)

    def reset(self):
        with self.lock:
            self.messages.clear()
            self.receipts.clear()

    def accept(self, fields):
        message = {"id": "sms-" + secrets.token_hex(8), "to": fields["to"], "from": fields.get("from", ""),
                   "text": fields["text"], "reference": fields.get("reference", ""), "received_at": time.time()}
        with self.lock:
            self.messages.append(message)
            del self.messages[:-MAX_KEPT]
        self.emit(message, status_for(message["to"]))
        return message

    def find(self, message_id):
        with self.lock:
            return next((m for m in self.messages if m["id"] == message_id), None)

    def emit(self, message, status):
        """Build one signed receipt for the message, keep it, and post it when a receipt URL is set."""
        body = json.dumps({
            "id": "rcpt-" + secrets.token_hex(8), "reference": message["reference"], "message_id": message["id"],
            "to": message["to"], "status": status, "description": DESCRIPTIONS[status],
            "occurred_at": datetime.datetime.now(datetime.UTC).isoformat(),
        }).encode()
        timestamp = str(int(time.time()))
        record = {"message_id": message["id"], "status": status, "body": body.decode(),
                  "headers": {"Content-Type": "application/json", "X-Signature-Timestamp": timestamp,
                              "X-Signature": sign(self.receipt_secret, timestamp, body)},
                  "answer": None}
        with self.lock:
            self.receipts.append(record)
            del self.receipts[:-MAX_KEPT]
        if self.receipt_url:
            threading.Thread(target=self._post, args=(record,), daemon=True).start()
        return record

    def _post(self, record):
        time.sleep(self.delay)
        request = urllib.request.Request(self.receipt_url, data=record["body"].encode(), headers=record["headers"],
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - a configured local URL
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = "unreachable"
        with self.lock:
            record["answer"] = status


class Handler(JsonHandler):
    server_version = "SocialCRM-SmsSimulator/1.0"
    label = "sms simulator"

    def do_GET(self):
        state = self.server.state
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_sms/health":
            return self.answer(200, {"ok": True})
        if path == "/_sms/messages":
            with state.lock:
                return self.answer(200, {"messages": list(state.messages)})
        if path == "/_sms/receipts":
            with state.lock:
                return self.answer(200, {"receipts": list(state.receipts)})
        return self.answer(404, {"message": "Not found"})

    def do_POST(self):
        state = self.server.state
        path = urllib.parse.urlsplit(self.path).path
        body = self.body()
        parts = path.strip("/").split("/")
        if path == "/_sms/reset":
            state.reset()
            return self.answer(200, {"ok": True})
        try:
            fields = json.loads(body or b"{}")
        except ValueError:
            return self.answer(400, {"message": "the body must be JSON"})
        if not isinstance(fields, dict):
            return self.answer(400, {"message": "the body must be a JSON object"})
        if len(parts) == 4 and parts[:2] == ["_sms", "messages"] and parts[3] == "receipts":
            message = state.find(urllib.parse.unquote(parts[2]))
            if message is None:
                return self.answer(404, {"message": "no such message"})
            if fields.get("status") not in STATUSES:
                return self.answer(400, {"message": f"status must be one of {', '.join(STATUSES)}"})
            return self.answer(200, state.emit(message, fields["status"]))
        if path == "/messages":
            header = self.headers.get("Authorization") or ""
            if not hmac.compare_digest(header.encode(), f"Bearer {state.token}".encode()):
                return self.answer(401, {"message": "bad token"})
            if not isinstance(fields.get("to"), str) or not isinstance(fields.get("text"), str):
                return self.answer(400, {"message": "'to' and 'text' are required"})
            message = state.accept(fields)
            return self.answer(200, {"id": message["id"]})
        return self.answer(404, {"message": "Not found"})


class SmsSimulatorServer(StandinServer):
    def __init__(self, host="127.0.0.1", port=0, *, token=DEFAULT_TOKEN, receipt_secret=DEFAULT_RECEIPT_SECRET,
                 receipt_url=None, delay=0.5, verbose=False):
        super().__init__(host, port, Handler, state=SmsState(token, receipt_secret, receipt_url, delay),
                         verbose=verbose, label="sms simulator")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m simulator.sms", description="A local stand-in for the SMS gateway.")
    parser.add_argument("--port", type=int, default=8102, help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address")
    parser.add_argument("--receipt-url", default="", help="where to post the signed delivery receipts")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bearer token senders must use")
    parser.add_argument("--receipt-secret", default=DEFAULT_RECEIPT_SECRET, help="the receipt signing secret")
    parser.add_argument("--delay", type=float, default=0.5, help="seconds before each receipt is posted")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    return serve(parser, args, lambda: SmsSimulatorServer(
        args.host, args.port, token=args.token, receipt_secret=args.receipt_secret,
        receipt_url=args.receipt_url or None, delay=args.delay, verbose=args.verbose), "sms simulator")

if __name__ == "__main__":
    sys.exit(main())
