"""Errors are safe to show and store; usage headers turn into a slow-down signal."""

import json
import pickle
from datetime import datetime, timedelta, timezone

import pytest

from platforms import Account, Credentials, InvalidContent, RateLimited, TokenSet, Violation, usage
from platforms.scrub import scrub

TOKEN = "EAAGm0PX4ZCpsBAKZB7sLq1x2y3z4ZBb5c6d7e8f9g0h"


def test_tokens_never_show_in_repr():
    objects = [Credentials("2001", TOKEN, "refresh-" + TOKEN, {"username": "pinewood"}),
               TokenSet(access_token=TOKEN, refresh_token="r" + TOKEN),
               Account(account_id="2001", name="Pinewood", account_type="page", access_token=TOKEN)]
    for obj in objects:
        assert TOKEN not in repr(obj)


def test_scrub_removes_tokens_query_strings_and_known_secrets():
    text = (f"Error validating access token {TOKEN}; see https://graph.facebook.com/v25.0/me?access_token={TOKEN}"
            f" Authorization: Bearer abc123def456 client_secret=sim-fb-secret-value-1 my-app-secret")
    cleaned = scrub(text, secrets=["my-app-secret"])
    for secret in (TOKEN, "abc123def456", "sim-fb-secret-value-1", "my-app-secret", "?access_token"):
        assert secret not in cleaned
    assert "https://graph.facebook.com/v25.0/me" in cleaned
    assert scrub("(#506) Duplicate status message") == "(#506) Duplicate status message"


def test_error_message_is_scrubbed_and_errors_pickle():
    reset = datetime(2030, 1, 1, tzinfo=timezone.utc)
    error = RateLimited(f"slow down {TOKEN}", platform="TWITTER", status=429, code="429", reset_at=reset,
                        retry_after=5.0)
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reset_at, copy.retry_after, copy.status, copy.retryable) == (reset, 5.0, 429, True)
    invalid = pickle.loads(pickle.dumps(InvalidContent(violations=[Violation("X", "text", "too long")])))
    assert invalid.violations[0].message == "too long" and invalid.message == "too long"
    assert invalid.retryable is False


def test_graph_headers_are_parsed_and_recorded():
    headers = {"X-App-Usage": json.dumps({"call_count": 12, "total_cputime": 40, "total_time": 7}),
               "X-Business-Use-Case-Usage": json.dumps({"2001": [
                   {"type": "pages", "call_count": 95, "total_cputime": 3, "total_time": 4,
                    "estimated_time_to_regain_access": 0}]})}
    assert usage.parse_app_usage(headers).percent == 40
    business = usage.parse_business_usage(headers)
    assert business["2001"].percent == 95 and business["2001"].regain_at is None
    usage.record("FACEBOOK", "2001", business["2001"])
    assert usage.current("FACEBOOK", "2001").percent == 95
    assert usage.should_slow_down("FACEBOOK", "2001")
    assert not usage.should_slow_down("FACEBOOK", "2001", threshold=96)


def test_regain_time_means_slow_down():
    headers = {"X-Business-Use-Case-Usage": json.dumps({"2002": [
        {"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]})}
    found = usage.parse_business_usage(headers)["2002"]
    expected = datetime.now(timezone.utc) + timedelta(minutes=7)
    assert abs((found.regain_at - expected).total_seconds()) < 5
    usage.record("FACEBOOK", "2002", found)
    assert usage.should_slow_down("FACEBOOK", "2002", threshold=101)


@pytest.mark.parametrize("remaining, slow", [(5, True), (50, False)])
def test_x_rate_limit_headers(remaining, slow):
    reset = int(datetime.now(timezone.utc).timestamp()) + 600
    found = usage.parse_x_rate_limit({"x-rate-limit-limit": "100", "x-rate-limit-remaining": str(remaining),
                                      "x-rate-limit-reset": str(reset)})
    assert (found.limit, found.remaining, int(found.reset_at.timestamp())) == (100, remaining, reset)
    usage.record("TWITTER", "150", found)
    assert usage.should_slow_down("TWITTER", "150") is slow


def test_request_lines_logged_by_urllib3_lose_their_query_string(caplog):
    import logging

    import platforms  # noqa: F401  (installs the log filters)

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s', "http", "127.0.0.1", 8000, "GET",
        "/v25.0/oauth/access_token?client_id=app&client_secret=shh&code=abc", "HTTP/1.1", 200, 10)
    assert "/v25.0/oauth/access_token" in caplog.text
    assert "shh" not in caplog.text and "code=abc" not in caplog.text


def test_scrub_keeps_harmless_request_lines_readable():
    line = 'http://127.0.0.1:8000 "GET /v25.0/dialog/oauth?client_id=app&state=0123456789abcdef0123456789abcdef HTTP/1.1" 200 9'
    assert scrub(line) == 'http://127.0.0.1:8000 "GET /v25.0/dialog/oauth HTTP/1.1" 200 9'
    assert scrub("Authorization: Bearer simXAu.abcdefgh12345678") == "Authorization: Bearer [redacted]"
