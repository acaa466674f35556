import time
from datetime import datetime, timedelta, timezone

import pytest

from platforms import (
    AuthExpired,
    Credentials,
    DuplicateContent,
    InvalidContent,
    PlatformError,
    PostContent,
    ProcessingPending,
    adapter_for_slug,
)
from simulator import world

from .contract import AdapterContract


class TestLinkedInAdapter(AdapterContract):
    slug = "linkedin"
    sim_platform = "linkedin"
    main_account_id = "3001"
    url_pattern = r"https://www\.linkedin\.com/feed/update/urn:li:share:\d+/"
    publish_endpoint = "POST /rest/posts"
    read_endpoint = "GET /rest/posts"
    records_usage = False

    @pytest.fixture
    def adapter(self, simulator, simulator_settings, settings):
        # LinkedIn sunsets versions after about a year: test with last month's, whatever today is.
        today = datetime.now(timezone.utc)
        last_month = (today.replace(day=1) - timedelta(days=1))
        settings.LINKEDIN_API_VERSION = last_month.strftime("%Y%m")
        settings.LINKEDIN_MEDIA_POLL_SECONDS = 0.1
        settings.LINKEDIN_MEDIA_WAIT_SECONDS = 5
        return adapter_for_slug(self.slug)

    def check_accounts(self, accounts):
        # 3002: the member is a content administrator, who may post too; 3003: an analyst, who may not.
        orgs = {a.account_id: a for a in accounts}
        assert set(orgs) == {"3001", "3002"}
        assert orgs["3001"].name == "Pinewood Golf Club" and orgs["3002"].name == "Pinewood Events Ltd"
        assert orgs["3001"].details == {"urn": "urn:li:organization:3001", "vanity_name": "pinewood-golf"}
        assert all(a.can_publish and a.account_type == "company" for a in accounts)

    def unknown_post_id(self):
        return "urn:li:share:7299999999999999999"

    def expected_reset(self, reset_after):
        now = datetime.now(timezone.utc)
        return datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)

    def test_every_rest_call_sends_the_version_headers(self, adapter, simulator, credentials, settings):
        adapter.publish(credentials=credentials, content=self.content(simulator))
        rest = [r for r in simulator.requests(platform="linkedin") if r["path"].startswith("/rest/")]
        assert rest
        for call in rest:
            headers = {k.lower(): v for k, v in call["headers"].items()}
            assert headers["linkedin-version"] == settings.LINKEDIN_API_VERSION
            assert headers["x-restli-protocol-version"] == "2.0.0"

    def test_sunset_version_tells_the_operator(self, adapter, simulator, credentials, settings):
        settings.LINKEDIN_API_VERSION = "202001"
        with pytest.raises(PlatformError) as caught:
            adapter.publish(credentials=credentials, content=self.content(simulator))
        assert not caught.value.retryable and "LINKEDIN_API_VERSION" in caught.value.message

    def test_post_with_an_image(self, adapter, simulator, credentials):
        content = self.content(simulator, text="Greens are (finally) open_today!", hashtags=["golf"],
                               media_urls=[self.image(simulator)])
        result = adapter.publish(credentials=credentials, content=content)
        post = self.published(simulator, result.platform_post_id)
        assert post["media"] and post["media"][0].startswith("urn:li:image:")
        assert post["text"] == "Greens are \\(finally\\) open\\_today!\n\n#golf"

    def test_link_becomes_an_article(self, adapter, simulator, credentials):
        content = self.content(simulator, link="https://www.pinewoodgolf.com/open-day")
        post = self.published(simulator, adapter.publish(credentials=credentials, content=content).platform_post_id)
        assert post["link"] == "https://www.pinewoodgolf.com/open-day"

    def test_same_commentary_twice_is_a_duplicate(self, adapter, simulator, credentials):
        content = self.content(simulator)
        adapter.publish(credentials=credentials, content=content)
        with pytest.raises(DuplicateContent):
            adapter.publish(credentials=credentials, content=content)

    def test_refresh_gives_a_new_access_token(self, adapter, credentials):
        fresh = adapter.refresh(credentials=credentials)
        assert fresh.access_token and fresh.refresh_token
        assert fresh.refresh_expires_at is not None
        renewed = Credentials(credentials.account_id, fresh.access_token, fresh.refresh_token, credentials.details)
        adapter.recent_posts(credentials=renewed, since=datetime.now(timezone.utc) - timedelta(hours=1))

    def test_revoke_ends_the_token(self, adapter, credentials):
        adapter.revoke(credentials=credentials)
        with pytest.raises(AuthExpired):
            adapter.recent_posts(credentials=credentials, since=datetime.now(timezone.utc) - timedelta(hours=1))


# ---------------------------------------------------------------------------- LinkedIn's real behaviour

MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4  # 1,048 bytes


@pytest.fixture
def adapter(simulator, simulator_settings, settings):
    today = datetime.now(timezone.utc)
    settings.LINKEDIN_API_VERSION = (today.replace(day=1) - timedelta(days=1)).strftime("%Y%m")
    settings.LINKEDIN_MEDIA_POLL_SECONDS = 0.1
    settings.LINKEDIN_MEDIA_WAIT_SECONDS = 5
    return adapter_for_slug("linkedin")


@pytest.fixture
def credentials(adapter):
    test = TestLinkedInAdapter()
    account = next(a for a in adapter.list_accounts(tokens=test.connect(adapter)) if a.account_id == "3001")
    return Credentials(account.account_id, account.access_token, account.refresh_token, dict(account.details))


@pytest.fixture
def stored_video(settings, tmp_path):
    """A tiny MP4 the app stored itself (read from storage, never fetched over HTTP)."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_URL = "http://127.0.0.1:9"
    name = default_storage.save("uploads/clip.mp4", ContentFile(MP4))
    return f"http://127.0.0.1:9{settings.MEDIA_URL}{name}"


def calls(simulator, since=0):
    return [r for r in simulator.requests(platform="linkedin", since=since)]


def unique(text="Course news"):
    return f"{text} {time.monotonic_ns()}"


def test_an_image_still_processing_is_waited_for_and_the_post_created_once(adapter, simulator, credentials):
    simulator.linkedin_config(processing_seconds=0.6)
    content = PostContent(text=unique(), media_urls=[simulator.media_url()])
    result = adapter.publish(credentials=credentials, content=content)
    log = calls(simulator)
    polls = [r for r in log if r["method"] == "GET" and r["path"].startswith("/rest/images/")]
    posts = [r for r in log if (r["method"], r["path"]) == ("POST", "/rest/posts")]
    assert len(polls) >= 2 and len(posts) == 1 and posts[0]["status"] == 201
    assert simulator.published("linkedin")[0]["post_id"] == result.platform_post_id


def test_media_still_processing_is_left_for_a_later_attempt_that_reuses_the_upload(adapter, simulator, credentials,
                                                                                   settings):
    simulator.linkedin_config(processing_seconds=3600)
    settings.LINKEDIN_MEDIA_WAIT_SECONDS = 0.3
    content = PostContent(text=unique(), media_urls=[simulator.media_url()])
    progress, saved = {}, []
    started = time.monotonic()
    with pytest.raises(ProcessingPending) as caught:
        adapter.publish_resuming(credentials=credentials, content=content, progress=progress,
                                 checkpoint=lambda: saved.append(dict(progress)))
    assert time.monotonic() - started < 3  # a worker is not held for long
    assert caught.value.retryable and caught.value.retry_after >= 60
    (urn,) = [a["urn"] for a in progress["linkedin_media"]["assets"].values()]
    assert urn.startswith("urn:li:image:") and saved
    assert simulator.published("linkedin") == []
    simulator.advance_clock(3600)
    since = max(r["seq"] for r in simulator.requests())
    result = adapter.publish_resuming(credentials=credentials, content=content, progress=progress)
    again = calls(simulator, since)
    assert not [r for r in again if r["path"] == "/rest/images" or r["path"].startswith("/_sim/linkedin-upload/")]
    assert simulator.published("linkedin")[0]["media"] == [urn]
    assert result.platform_post_id == simulator.published("linkedin")[0]["post_id"]


def test_media_that_fails_processing_is_refused_with_the_reason(adapter, simulator, credentials):
    simulator.linkedin_config(processing_seconds=0, processing_outcome="PROCESSING_FAILED")
    progress = {}
    with pytest.raises(InvalidContent) as caught:
        adapter.publish_resuming(credentials=credentials, progress=progress,
                                 content=PostContent(text=unique(), media_urls=[simulator.media_url()]))
    assert "could not process the image sample.jpg" in caught.value.message
    assert progress["linkedin_media"]["assets"] == {}  # a later try uploads again


def test_a_video_is_uploaded_in_parts_finalized_and_published(adapter, simulator, credentials, stored_video):
    simulator.linkedin_config(processing_seconds=0.3, video_part_size=400)
    result = adapter.publish(credentials=credentials, content=PostContent(text=unique("Swing clinic"),
                                                                          media_urls=[stored_video]))
    log = calls(simulator)
    init = next(r for r in log if r["path"] == "/rest/videos" and r["query"].get("action") == "initializeUpload")
    assert init["body"]["initializeUploadRequest"]["fileSizeBytes"] == len(MP4)
    puts = [r for r in log if r["method"] == "PUT" and r["path"].startswith("/_sim/linkedin-upload/video/")]
    assert len(puts) == 3 and all(r["status"] == 200 for r in puts)
    assert not any(k.lower() == "authorization" for r in puts for k in r["headers"])  # pre-signed: no token
    final = next(r for r in log if r["path"] == "/rest/videos" and r["query"].get("action") == "finalizeUpload")
    assert final["status"] == 200 and len(final["body"]["finalizeUploadRequest"]["uploadedPartIds"]) == 3
    (post,) = simulator.published("linkedin")
    assert post["post_id"] == result.platform_post_id and post["media"][0].startswith("urn:li:video:")


def test_a_video_is_accepted_alone_but_not_with_other_media(adapter, simulator, stored_video):
    assert adapter.validate(PostContent(text="Clip", media_urls=[stored_video])) == []
    (violation,) = adapter.validate(PostContent(text="Clip", media_urls=[stored_video, simulator.media_url()]))
    assert violation.field == "media" and "one video on its own" in violation.message


def test_an_upload_address_on_another_host_gets_neither_the_token_nor_the_bytes(adapter, simulator, credentials,
                                                                               stored_video):
    elsewhere = simulator.url.replace("127.0.0.1", "localhost")
    simulator.linkedin_config(upload_base_url=elsewhere)
    for media in (simulator.media_url(), stored_video):
        with pytest.raises(PlatformError) as caught:
            adapter.publish(credentials=credentials, content=PostContent(text=unique(), media_urls=[media]))
        assert not caught.value.retryable and "another host (localhost)" in caught.value.message
    assert not [r for r in simulator.requests() if r["path"].startswith("/_sim/linkedin-upload/")]
    assert simulator.published("linkedin") == []


@pytest.mark.parametrize("message_only", [False, True])
def test_a_duplicate_names_the_earlier_post(adapter, simulator, credentials, message_only):
    simulator.inject("linkedin", "POST /rest/posts", "duplicate", earlier="urn:li:share:7141138937766391808",
                     message_only=message_only)
    with pytest.raises(DuplicateContent) as caught:
        adapter.publish(credentials=credentials, content=PostContent(text=unique()))
    assert "urn:li:share:7141138937766391808" in caught.value.message
    assert "com.linkedin" not in caught.value.message and caught.value.code == "DUPLICATE_POST"


def test_a_real_duplicate_keeps_the_earlier_urn(adapter, simulator, credentials):
    content = PostContent(text=unique())
    first = adapter.publish(credentials=credentials, content=content)
    with pytest.raises(DuplicateContent) as caught:
        adapter.publish(credentials=credentials, content=content)
    assert first.platform_post_id in caught.value.message


def test_an_app_without_programmatic_refresh_is_never_refreshed(adapter, simulator, settings):
    settings.LINKEDIN_CLIENT_ID = world.LINKEDIN_BASIC_CLIENT_ID
    settings.LINKEDIN_CLIENT_SECRET = world.LINKEDIN_BASIC_CLIENT_SECRET
    tokens = TestLinkedInAdapter().connect(adapter)
    assert tokens.refresh_token is None and tokens.refresh_expires_at is None
    assert timedelta(days=59) < tokens.expires_at - datetime.now(timezone.utc) <= timedelta(days=60)
    since = max(r["seq"] for r in simulator.requests())
    with pytest.raises(AuthExpired) as caught:
        adapter.refresh(credentials=Credentials("3001", tokens.access_token, None, {}))
    assert "reconnect" in caught.value.message
    assert not [r for r in calls(simulator, since) if r["path"] == "/oauth/v2/accessToken"]


@pytest.mark.django_db
def test_a_connection_without_refresh_token_warns_then_needs_reconnect_and_is_not_refreshed(adapter, simulator,
                                                                                           settings):
    from connections.selectors import Health, connection_health
    from connections.services import connections_due_for_refresh
    from connections.tests.factories import SocialConnectionFactory

    simulator.linkedin_config(programmatic_refresh={world.LINKEDIN_CLIENT_ID: False})
    tokens = TestLinkedInAdapter().connect(adapter)
    account = next(a for a in adapter.list_accounts(tokens=tokens) if a.account_id == "3001")
    assert account.refresh_token is None
    connection = SocialConnectionFactory(platform="LINKEDIN", account_id="3001", permissions=account.permissions,
                                         account_details=account.details, token_expiry=account.expires_at,
                                         tokens=(account.access_token, None))
    assert connection.refresh_token is None
    now = datetime.now(timezone.utc)
    assert connection_health(connection, now=now) == Health.ACTIVE
    near_expiry = account.expires_at - timedelta(days=settings.TOKEN_EXPIRY_WARNING_DAYS - 1)
    assert connection_health(connection, now=near_expiry) == Health.EXPIRING_SOON
    assert connection.pk not in [pk for pk, _ in connections_due_for_refresh(now=near_expiry)]
    assert connection_health(connection, now=account.expires_at + timedelta(seconds=1)) == Health.NEEDS_RECONNECT
