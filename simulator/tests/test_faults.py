"""Fault injection: every kind on every platform answers with that platform's real error shape."""

import json
import time

import pytest

from simulator import world


@pytest.fixture
def calls(sim):
    """One authenticated read per platform, as (endpoint pattern, zero-argument call)."""
    user = sim.fb_user_token()
    x = {"Authorization": f"Bearer {sim.x_token()}"}
    li = sim.li_headers(sim.li_tokens()["access_token"])
    return {
        "facebook": ("GET /me", lambda: sim.get("/v25.0/me", params={"access_token": user})),
        "instagram": ("GET /1784*", lambda: sim.get(f"/v25.0/{world.INSTAGRAM_USER_ID}",
                                                    params={"fields": "username", "access_token": user})),
        "twitter": ("GET /2/users/me", lambda: sim.get("/2/users/me", headers=x)),
        "linkedin": ("GET /rest/organizations/*", lambda: sim.get("/rest/organizations/3001", headers=li)),
    }


def check_graph(kind, answer):
    error = answer.json()["error"]
    assert error["type"] == "OAuthException" and error["fbtrace_id"]
    expected = {"server_error": (500, 1), "rate_limit": (400, None), "revoked_token": (400, 190),
                "expired_token": (400, 190), "duplicate": (400, 506), "permission": (403, 200)}[kind]
    assert answer.status_code == expected[0]
    if expected[1] is not None:
        assert error["code"] == expected[1]
    if kind == "rate_limit":
        assert error["code"] in (4, 17, 32, 80001, 80002)  # BUC codes for Page and Instagram calls
        assert json.loads(answer.headers["X-App-Usage"])["call_count"] == 100
    if kind in ("revoked_token", "expired_token"):
        assert error["error_subcode"] == {"revoked_token": 460, "expired_token": 463}[kind]


def check_twitter(kind, answer):
    body = answer.json()
    status = {"server_error": 503, "rate_limit": 429, "revoked_token": 401, "expired_token": 401,
              "duplicate": 403, "permission": 403}[kind]
    assert answer.status_code == status and body["status"] == status and body["type"] == "about:blank"
    if kind == "rate_limit":
        assert answer.headers["x-rate-limit-remaining"] == "0"
        assert int(answer.headers["x-rate-limit-reset"]) >= int(time.time()) + 590
    if kind == "duplicate":
        assert "duplicate content" in body["detail"]


def check_linkedin(kind, answer):
    body = answer.json()
    status = {"server_error": 500, "rate_limit": 429, "revoked_token": 401, "expired_token": 401,
              "duplicate": 422, "permission": 403}[kind]
    assert answer.status_code == status and body["status"] == status
    if kind == "rate_limit":
        assert not any(h.lower().startswith("x-rate-limit") for h in answer.headers)
    if kind == "revoked_token":
        assert body["serviceErrorCode"] == 65601
    if kind == "duplicate":
        assert body["errorDetails"]["inputErrors"][0]["code"] == "DUPLICATE_POST"


CHECKS = {"facebook": check_graph, "instagram": check_graph, "twitter": check_twitter, "linkedin": check_linkedin}


@pytest.mark.parametrize("platform", ["facebook", "instagram", "twitter", "linkedin"])
@pytest.mark.parametrize("kind", ["server_error", "rate_limit", "revoked_token", "expired_token", "duplicate",
                                  "permission"])
def test_each_fault_kind_fails_the_next_matching_calls_then_stops(sim, calls, platform, kind):
    endpoint, call = calls[platform]
    assert call().status_code == 200
    sim.client.inject(platform, endpoint, kind, times=2, reset_after=600)
    for _ in range(2):
        CHECKS[platform](kind, call())
    assert call().status_code == 200
    assert [r.get("fault") for r in sim.client.requests(platform)][-3:] == [kind, kind, None]


def test_faults_only_hit_their_platform_and_endpoint(sim, calls):
    sim.client.inject("facebook", "POST */feed", "server_error")
    sim.client.inject("twitter", "*", "server_error")
    assert calls["facebook"][1]().status_code == 200
    assert calls["instagram"][1]().status_code == 200
    assert calls["twitter"][1]().status_code == 503
    assert calls["twitter"][1]().status_code == 200


def test_graph_server_error_can_be_a_503_with_code_2(sim, calls):
    sim.client.inject("facebook", "*", "server_error", status=503)
    answer = calls["facebook"][1]()
    assert answer.status_code == 503 and answer.json()["error"]["code"] == 2


def test_timeout_delays_the_answer(sim, calls):
    sim.client.inject("twitter", "GET /2/users/me", "timeout", delay=0.4)
    started = time.monotonic()
    assert calls["twitter"][1]().status_code == 200
    assert time.monotonic() - started >= 0.4


def test_timeout_fires_on_the_client_side(sim, calls):
    import requests

    sim.client.inject("linkedin", "*", "timeout", delay=1.0)
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(sim.url + "/rest/organizations/3001", timeout=0.3)


def test_latency_applies_to_platform_calls(sim, calls):
    sim.client.set_latency(150)
    started = time.monotonic()
    calls["linkedin"][1]()
    assert time.monotonic() - started >= 0.15
    sim.client.set_latency(0)


def test_bad_fault_requests_are_refused(sim):
    with pytest.raises(RuntimeError):
        sim.client.inject("myspace", "*", "server_error")
    with pytest.raises(RuntimeError):
        sim.client.inject("twitter", "*", "meteor_strike")
