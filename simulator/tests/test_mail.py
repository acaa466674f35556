"""The Mailgun stand-in: its send API, the events each address gets, and the signed webhooks it posts."""

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from simulator.mail import MailSimulatorServer

KEY, SIGNING = "k-123", "s-456"


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def receiver():
    """A loopback listener recording the webhooks posted to it."""
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler))
    yield f"http://127.0.0.1:{server.server_address[1]}/hook/", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def mail(receiver):
    server = serve(MailSimulatorServer(port=0, api_key=KEY, signing_key=SIGNING, webhook_url=receiver[0], delay=0))
    yield server
    server.shutdown()
    server.server_close()


def send(mail, to, key=KEY):
    body = urllib.parse.urlencode([("from", "club@mail.example"), ("to", to), ("subject", "Hi"), ("text", "Hello"),
                                   ("v:scrm_delivery", "42"), ("o:tag", "promotion")]).encode()
    request = urllib.request.Request(f"{mail.url}/v3/mail.example/messages", data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "Basic " + base64.b64encode(f"api:{key}".encode()).decode()})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


def wait_for(received, count):
    deadline = time.monotonic() + 5
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return received


def test_a_send_needs_the_api_key(mail):
    with pytest.raises(urllib.error.HTTPError) as refused:
        send(mail, "ada@example.com", key="wrong")
    assert refused.value.code == 401
    assert mail.state.messages == []


@pytest.mark.parametrize(("to", "events"), [
    ("ada@example.com", ["delivered"]),
    ("bounce@example.com", ["failed"]),
    ("complain.me@example.com", ["delivered", "complained"]),
    ("open@example.com", ["delivered", "opened"]),
])
def test_each_address_gets_the_events_a_sandbox_reports_signed_with_the_key(mail, receiver, to, events):
    answer = send(mail, to)
    assert answer["message"] == "Queued. Thank you." and answer["id"].startswith("<")
    posted = wait_for(receiver[1], len(events))
    assert [p["event-data"]["event"] for p in posted] == events
    for payload in posted:
        signature = payload["signature"]
        expected = hmac.new(SIGNING.encode(), (signature["timestamp"] + signature["token"]).encode(), hashlib.sha256)
        assert signature["signature"] == expected.hexdigest()
        data = payload["event-data"]
        assert data["recipient"] == to
        assert data["user-variables"] == {"scrm_delivery": "42"}
        assert f"<{data['message']['headers']['message-id']}>" == answer["id"]
    if events == ["failed"]:
        assert posted[0]["event-data"]["severity"] == "permanent"
    # The stand-in records each answer once the receiver has replied, a moment after the receiver has the post.
    deadline = time.monotonic() + 5
    while any(w["status"] is None for w in mail.state.webhooks) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert {w["status"] for w in mail.state.webhooks} == {200}


def test_the_control_api_makes_one_more_event_for_a_message(mail, receiver):
    answer = send(mail, "ada@example.com")
    wait_for(receiver[1], 1)
    request = urllib.request.Request(f"{mail.url}/_mail/messages/{urllib.parse.quote(answer['id'])}/events",
                                     data=json.dumps({"event": "failed", "severity": "temporary"}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as made:
        record = json.loads(made.read())
    assert record["payload"]["event-data"]["severity"] == "temporary"
    assert [p["event-data"]["event"] for p in wait_for(receiver[1], 2)] == ["delivered", "failed"]
