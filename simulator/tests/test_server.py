"""The process itself: loopback only, startup line, control API, request log scrubbing, sample media."""

import json
import struct
import subprocess
import sys
import urllib.request

import pytest

from simulator import world
from simulator.server import SimulatorServer
from simulator.testing import PROJECT_ROOT, SimulatorClient, SimulatorProcess

from .conftest import REDIRECT


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_refuses_to_listen_beyond_loopback(host):
    result = subprocess.run([sys.executable, "-m", "simulator", "--host", host, "--port", "0"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=20, check=False)
    assert result.returncode == 2 and "loopback only" in result.stderr and result.stdout == ""
    with pytest.raises(ValueError):
        SimulatorServer(host, 0)


def test_prints_one_line_with_its_url_and_stops_cleanly():
    process = SimulatorProcess()
    with process:
        assert process.url.startswith("http://127.0.0.1:") and int(process.url.rsplit(":", 1)[1]) > 0
        assert SimulatorClient(process.url).health() == {"ok": True}
    assert process.process.returncode is not None


def test_listens_on_loopback_address(simulator_process):
    assert simulator_process.url.startswith(("http://127.0.0.1:", "http://[::1]:", "http://localhost:"))


def test_sample_media_are_jpegs(sim):
    for name in [n for n in world.SAMPLE_MEDIA if n.endswith(".jpg")]:
        answer = sim.get(f"/_sim/media/{name}")
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/jpeg"
        data = answer.content
        assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
        sof = data.index(b"\xff\xc0")
        height, width = struct.unpack(">HH", data[sof + 5:sof + 9])
        assert 320 <= width <= 1440 and 0.8 <= width / height <= 1.91
    assert sim.get("/_sim/media/other.jpg").status_code == 404
    png, mp4 = sim.get("/_sim/media/sample.png"), sim.get("/_sim/media/sample.mp4")
    assert png.headers["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert mp4.headers["Content-Type"] == "video/mp4" and mp4.content[4:8] == b"ftyp"


def test_sample_gif_and_video_for_x_uploads(sim):
    gif, video = sim.get("/_sim/media/sample.gif"), sim.get("/_sim/media/sample.mp4")
    assert gif.headers["Content-Type"] == "image/gif" and gif.content.startswith(b"GIF89a")
    assert video.headers["Content-Type"] == "video/mp4" and video.content[4:8] == b"ftyp"


def test_request_log_scrubs_every_token_and_secret(sim):
    tokens = sim.x_tokens()
    sim.x_token_call({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    user = sim.fb_user_token()
    sim.get("/v25.0/me/accounts", params={"access_token": user})
    li = sim.li_tokens()
    sim.get("/rest/organizations/3001", headers=sim.li_headers(li["access_token"]))
    log = sim.client.requests()
    text = json.dumps(log)
    secrets = [tokens["access_token"], tokens["refresh_token"], user, li["access_token"], li["refresh_token"],
               world.X_CLIENT_SECRET, world.FACEBOOK_APP_SECRET, world.LINKEDIN_CLIENT_SECRET]
    for secret in secrets:
        assert secret not in text
    x_exchange = next(r for r in log if r["path"] == "/2/oauth2/token" and r["body"]["grant_type"] ==
                      "authorization_code")
    assert x_exchange["headers"]["Authorization"] == "Basic ***"
    assert x_exchange["body"]["code"] == "***" and len(x_exchange["body"]["code_verifier"]) > 40
    assert x_exchange["body"]["redirect_uri"] == REDIRECT and x_exchange["status"] == 200
    li_call = next(r for r in log if r["path"] == "/rest/organizations/3001")
    assert li_call["headers"]["Authorization"] == "Bearer ***" and li_call["headers"]["LinkedIn-Version"]
    fb_call = next(r for r in log if r["path"] == "/v25.0/me/accounts")
    assert fb_call["query"]["access_token"] == "***" and fb_call["platform"] == "facebook"
    assert [r["seq"] for r in log] == sorted(r["seq"] for r in log)
    last = log[-1]["seq"]
    sim.get("/2/users/me")
    assert [r["path"] for r in sim.client.requests(since=last)] == ["/2/users/me"]
    assert {r["platform"] for r in sim.client.requests("linkedin")} == {"linkedin"}


def test_reset_forgets_tokens_posts_faults_log_and_clock(sim):
    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    sim.post("/2/tweets", json={"text": "Before reset"}, headers=headers)
    sim.client.inject("twitter", "*", "server_error", times=5)
    sim.client.advance_clock(1000)
    sim.client.set_latency(5)
    sim.client.reset()
    assert sim.client.published() == [] and sim.client.requests() == []
    assert abs(sim.client.now() - __import__("time").time()) < 5
    assert sim.get("/2/users/me", headers=headers).status_code == 401


def test_published_filters_by_platform_and_account(sim):
    page = sim.page_token()
    sim.post("/v25.0/2001/feed", data={"message": "Main", "access_token": page})
    sim.post("/2/tweets", json={"text": "X"}, headers={"Authorization": f"Bearer {sim.x_token()}"})
    assert [p["platform"] for p in sim.client.published()] == ["facebook", "twitter"]
    only = sim.client.published("facebook", "2001")
    assert len(only) == 1 and set(only[0]) >= {"platform", "account_id", "post_id", "text", "media", "link",
                                              "created_at", "url"}
    assert sim.client.published("facebook", "2002") == []


def test_clock_only_moves_forward_and_unknown_control_calls_404(sim):
    with pytest.raises(RuntimeError):
        sim.client.advance_clock(-5)
    assert sim.get("/_sim/nothing").status_code == 404
    world_summary = sim.get("/_sim/world").json()
    assert world_summary["facebook"]["user_id"] == "10001"


def test_client_settings_point_every_base_url_at_the_simulator(simulator):
    values = simulator.settings()
    assert values["X_AUTHORIZE_URL"] == simulator.url + "/i/oauth2/authorize"
    assert values["LINKEDIN_OAUTH_URL"] == simulator.url + "/oauth/v2"
    assert values["FACEBOOK_APP_ID"] == "sim-fb-app"
    with urllib.request.urlopen(simulator.url + "/_sim/health", timeout=5) as answer:
        assert json.loads(answer.read()) == {"ok": True}


def test_plugin_imports_without_django():
    code = "import sys, simulator.pytest_plugin, simulator.testing; assert 'django' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True, timeout=20)


def test_concurrent_calls_are_served(sim):
    from concurrent.futures import ThreadPoolExecutor

    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: sim.post("/2/tweets", json={"text": f"Parallel {i}"},
                                                    headers=headers).status_code, range(40)))
    assert statuses == [201] * 40
    assert len({p["post_id"] for p in sim.client.published("twitter")}) == 40


def test_state_file_keeps_tokens_and_posts_across_restarts(tmp_path):
    from simulator.tests.conftest import Sim

    state_file = tmp_path / "sim.state"
    first = SimulatorProcess(args=["--state-file", str(state_file)]).start()
    try:
        tokens = Sim(SimulatorClient(first.url)).x_tokens()
    finally:
        first.stop()
    assert state_file.exists()
    second = SimulatorProcess(args=["--state-file", str(state_file)]).start()
    try:
        request = urllib.request.Request(second.url + "/2/users/me",
                                         headers={"Authorization": f"Bearer {tokens['access_token']}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["data"]["id"] == world.X_USER_ID
    finally:
        second.stop()


def test_raised_quotas_lift_x_caps_and_the_instagram_quota_and_survive_a_reset():
    from simulator.quotas import RAISED

    from .conftest import Sim

    with SimulatorProcess(args=["--raised-quotas"]) as process:
        sim = Sim(SimulatorClient(process.url))
        headers = {"Authorization": f"Bearer {sim.x_token()}"}
        for n in range(world.X_TWEETS_PER_15_MIN + 1):  # one past the 15-minute window of the real world
            answer = sim.post("/2/tweets", json={"text": f"Tee time {n}"}, headers=headers)
            assert answer.status_code == 201, answer.text
        assert answer.headers["x-user-limit-24hour-limit"] == str(RAISED)
        assert answer.headers["x-app-limit-24hour-limit"] == str(RAISED)
        assert sim.post("/_sim/limits", json={}).json()["instagram_publish_quota"] == RAISED
        sim.client.reset()
        assert sim.get("/_sim/x").json()["x"]["user_24h_limit"] == RAISED
        assert sim.get("/_sim/x").json()["x"]["app_24h_limit"] == RAISED
        assert sim.post("/_sim/limits", json={}).json()["instagram_publish_quota"] == RAISED
