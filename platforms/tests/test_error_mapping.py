"""Each platform's real error shapes map to exactly one error class (no network: built responses)."""

import json
from datetime import datetime, timedelta, timezone

import pytest
import requests

from platforms import (
    AuthExpired,
    DuplicateContent,
    InvalidContent,
    NotFound,
    PermissionMissing,
    PlatformError,
    RateLimited,
    TransientError,
    get_adapter,
)


def response(status, body, headers=None, url="https://api.example/rest/posts"):
    built = requests.Response()
    built.status_code = status
    built._content = json.dumps(body).encode() if not isinstance(body, bytes) else body
    built.headers.update(headers or {})
    built.url = url
    built.request = requests.Request("POST", url).prepare()
    return built


def graph(code, subcode=None, message="x", status=400, headers=None, url="https://graph.facebook.com/v25.0/2001/feed"):
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1"}
    if subcode:
        error["error_subcode"] = subcode
    return response(status, {"error": error}, headers, url)


@pytest.mark.parametrize("code, subcode, expected", [
    (1, None, TransientError), (2, None, TransientError), (341, None, TransientError), (368, None, TransientError),
    (80001, None, RateLimited), (80002, None, RateLimited), (4, None, RateLimited), (17, None, RateLimited), (32, None, RateLimited),
    (613, None, RateLimited), (190, 463, AuthExpired), (190, 460, AuthExpired), (102, None, AuthExpired),
    (10, None, PermissionMissing), (200, None, PermissionMissing), (299, None, PermissionMissing),
    (506, None, DuplicateContent), (100, None, InvalidContent), (100, 33, NotFound),
    (9, 2207042, RateLimited), (9004, 2207052, TransientError),
])
def test_graph_codes(code, subcode, expected):
    error = get_adapter("INSTAGRAM").map_error(graph(code, subcode))
    assert type(error) is expected
    assert error.code == str(code) and error.status == 400


def test_graph_throttle_uses_the_regain_estimate():
    headers = {"X-Business-Use-Case-Usage": json.dumps({"2001": [
        {"type": "pages", "call_count": 100, "total_cputime": 20, "total_time": 20,
         "estimated_time_to_regain_access": 12}]})}
    error = get_adapter("FACEBOOK").map_error(graph(32, headers=headers))
    expected = datetime.now(timezone.utc) + timedelta(minutes=12)
    assert abs((error.reset_at - expected).total_seconds()) < 5


def test_graph_5xx_without_a_body_is_transient():
    assert type(get_adapter("FACEBOOK").map_error(response(503, b"<html>"))) is TransientError


def test_graph_code_exchange_refusal_is_not_a_content_problem():
    error = get_adapter("FACEBOOK").map_error(graph(100, 36009, "This authorization code has been used.",
                                                    url="https://graph.facebook.com/v25.0/oauth/access_token"))
    assert type(error) is PlatformError and not error.retryable


@pytest.mark.parametrize("status, body, expected", [
    (401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}, AuthExpired),
    (403, {"detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank",
           "title": "Forbidden", "status": 403}, DuplicateContent),
    (403, {"detail": "You are not permitted to perform this action.", "title": "Forbidden", "status": 403},
     PermissionMissing),
    (400, {"detail": "Your media IDs are invalid.", "title": "Invalid Request", "status": 400}, InvalidContent),
    (404, {"title": "Not Found Error", "status": 404, "detail": "gone"}, NotFound),
    (503, {"title": "Service Unavailable", "status": 503}, TransientError),
])
def test_x_statuses(status, body, expected):
    error = get_adapter("TWITTER").map_error(response(status, body, url="https://api.x.com/2/tweets"))
    assert type(error) is expected


def test_x_rate_limit_reset_comes_from_the_header():
    reset = int(datetime.now(timezone.utc).timestamp()) + 321
    error = get_adapter("TWITTER").map_error(response(
        429, {"title": "Too Many Requests", "status": 429}, {"x-rate-limit-reset": str(reset)},
        url="https://api.x.com/2/tweets"))
    assert isinstance(error, RateLimited) and int(error.reset_at.timestamp()) == reset
    assert 300 < error.retry_after <= 321


def test_x_refused_refresh_token_means_reconnect(settings, monkeypatch):
    adapter = get_adapter("TWITTER")
    refused = response(400, {"error": "invalid_request", "error_description": "Value passed for the token was invalid."},
                       url="https://api.x.com/2/oauth2/token")
    monkeypatch.setattr(adapter.session, "request", lambda *a, **kw: refused)
    from platforms import Credentials

    with pytest.raises(AuthExpired):
        adapter.refresh(credentials=Credentials("1", "old-access", "old-refresh"))


@pytest.mark.parametrize("status, body, expected", [
    (401, {"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid"},
     AuthExpired),
    (401, {"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN", "message": "Revoked"},
     AuthExpired),
    (403, {"status": 403, "message": "Not enough permissions"}, PermissionMissing),
    (404, {"status": 404, "message": "Not found"}, NotFound),
    (422, {"status": 422, "message": "ERROR :: /commentary :: duplicate",
           "errorDetails": {"inputErrors": [{"code": "DUPLICATE_POST", "description": "dup"}]}}, DuplicateContent),
    (422, {"status": 422, "message": "too long",
           "errorDetails": {"inputErrors": [{"code": "MAX_LENGTH_EXCEEDED", "description": "long"}]}},
     InvalidContent),
    (400, {"status": 400, "message": "bad field"}, InvalidContent),
    (500, {"status": 500, "message": "Internal"}, TransientError),
])
def test_linkedin_statuses(status, body, expected):
    assert type(get_adapter("LINKEDIN").map_error(response(status, body))) is expected


def test_linkedin_429_waits_for_midnight_utc_and_426_asks_for_a_new_version():
    limited = get_adapter("LINKEDIN").map_error(response(429, {"status": 429, "message": "Too many"}))
    assert limited.reset_at.hour == 0 and limited.reset_at > datetime.now(timezone.utc)
    assert limited.reset_at - datetime.now(timezone.utc) <= timedelta(days=1)
    sunset = get_adapter("LINKEDIN").map_error(response(426, {"status": 426, "code": "NONEXISTENT_VERSION",
                                                              "message": "Requested version 202301 is not active"}))
    assert type(sunset) is PlatformError and not sunset.retryable and "LINKEDIN_API_VERSION" in sunset.message


def test_facebook_metrics_survive_missing_insights(monkeypatch):
    """Insights refused on the batched read: the batch is read again for counts; reach and views are
    unknown (None), never 0."""
    from platforms import Credentials

    adapter = get_adapter("FACEBOOK")
    counts = {"2001_1": {"id": "2001_1", "reactions": {"summary": {"total_count": 7}},
                         "comments": {"summary": {"total_count": 2}}}}
    asked = []

    def answer(method, url, params=None, **kw):
        assert requests.utils.urlparse(url).path == "/v25.0/"
        asked.append(params["fields"])
        if "insights" in params["fields"]:
            return graph(10, message="(#10) Not enough viewers for the media to show insights", url=url)
        return response(200, counts, url=url)

    monkeypatch.setattr(adapter.session, "request", answer)
    metrics = adapter.fetch_metrics(credentials=Credentials("2001", "page-token"), post_ids=["2001_1"])
    assert metrics["2001_1"].likes == 7 and metrics["2001_1"].comments == 2
    assert (metrics["2001_1"].shares, metrics["2001_1"].reach, metrics["2001_1"].impressions) == (0, None, None)
    assert len(asked) == 2 and "insights.metric(" in asked[0] and "insights" not in asked[1]


def test_network_failure_is_transient_and_names_no_secret(monkeypatch):
    adapter = get_adapter("FACEBOOK")

    def refuse(*args, **kwargs):
        raise requests.ConnectionError("HTTPSConnectionPool: /v25.0/oauth/access_token?client_secret=shh&code=abc")

    monkeypatch.setattr(adapter.session, "request", refuse)
    with pytest.raises(TransientError) as caught:
        adapter.exchange_code(code="abc", redirect_uri="https://app.example/cb")
    assert "shh" not in str(caught.value) and "abc" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
