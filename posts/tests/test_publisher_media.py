"""Media addresses at publish time: internal targets are never fetched, uploads are read from storage."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import StaffFactory
from posts.models import PublishErrorKind as K
from posts.models import SocialPost
from posts.models import SocialPostStatus as S
from posts.publishing import posts_publish_due
from posts.services import media_store, post_create

pytestmark = pytest.mark.django_db

PRIVATE = "points to a private network address and cannot be used"
LEAKS = ("internal-secret", "admin panel", "text/plain", "200", "HTTP")


@pytest.fixture
def run_scan(django_capture_on_commit_callbacks, eager_celery):
    def _scan():
        with django_capture_on_commit_callbacks(execute=True):
            return posts_publish_due()
    return _scan


def due(connection, **kw):
    return post_create(tenant=connection.tenant, connection=connection, content="Results of the medal",
                       created_by="alex", scheduled_at=timezone.now(), **kw)


@pytest.mark.parametrize("slug", ["twitter", "facebook", "linkedin", "instagram"])
def test_a_loopback_media_address_fails_the_post_without_reaching_it(connect, simulator, run_scan, listener, slug):
    post = due(connect(slug), media_urls=[listener.url + "/admin/export.jpg"])
    run_scan()
    post.refresh_from_db()
    assert post.status == S.FAILED and post.error_kind == K.INVALID_CONTENT
    assert f"export.jpg {PRIVATE}" in post.error
    for leak in LEAKS:
        assert leak not in post.error
    assert listener.hits == []
    assert simulator.published(platform=slug) == []


def test_a_redirect_to_loopback_fails_the_post_without_reaching_it(connect, simulator, run_scan, listener,
                                                                   second_listener, settings):
    connection = connect("twitter")
    settings.FETCH_ALLOWED_HOSTS = [*settings.FETCH_ALLOWED_HOSTS.split(","), second_listener.netloc]
    second_listener.route("/photo.jpg", status=302, headers={"Location": listener.url + "/secret"})
    post = due(connection, media_urls=[second_listener.url + "/photo.jpg"])
    run_scan()
    post.refresh_from_db()
    assert post.status == S.FAILED and PRIVATE in post.error
    assert second_listener.hits_on("/photo.jpg") and listener.hits == []
    assert simulator.published(platform="twitter") == []


def test_a_name_resolving_to_the_metadata_address_fails_the_post(connect, simulator, run_scan, monkeypatch):
    import socket

    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda host, *a, **kw: real("169.254.169.254" if host == "img.example" else host, *a, **kw))
    connected = []
    original = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", lambda sock, address: (connected.append(address),
                                                                         original(sock, address))[1])
    post = due(connect("facebook"), media_urls=["http://img.example/latest/meta-data/photo.jpg"])
    run_scan()
    post.refresh_from_db()
    assert post.status == S.FAILED and PRIVATE in post.error
    assert not [address for address in connected if address[0] == "169.254.169.254"]


def test_what_an_allowed_target_answered_is_not_repeated(connect, simulator, run_scan, listener, settings):
    connection = connect("facebook")
    settings.FETCH_ALLOWED_HOSTS = [*settings.FETCH_ALLOWED_HOSTS.split(","), listener.netloc]
    post = due(connection, media_urls=[listener.url + "/status.jpg"])  # answers text/plain with a secret
    run_scan()
    post.refresh_from_db()
    assert post.status == S.FAILED and "status.jpg is not an image or video" in post.error
    for leak in LEAKS:
        assert leak not in post.error


@pytest.fixture
def uploaded(settings, tmp_path, club):
    """An image uploaded through the composer's storage path, on a site address nobody answers."""
    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_URL = "http://127.0.0.1:9"
    image = (tmp_path / "src.jpg")
    from simulator.media import SAMPLES

    image.write_bytes(SAMPLES["sample.jpg"])
    return media_store(upload=SimpleUploadedFile("flag.jpg", image.read_bytes(), content_type="image/jpeg"),
                       tenant=club.tenant)


@pytest.mark.parametrize("slug", ["twitter", "linkedin"])
def test_uploaded_media_is_read_from_storage_and_published(connect, simulator, run_scan, uploaded, slug):
    post = due(connect(slug), media_urls=[uploaded])
    run_scan()
    post.refresh_from_db()
    assert post.status == S.PUBLISHED, post.error
    (published,) = simulator.published(platform=slug)
    assert len(published["media"]) == 1


def test_uploaded_media_that_is_gone_fails_with_the_reason(connect, simulator, run_scan, uploaded):
    from django.core.files.storage import default_storage

    from platforms.fetch import stored_media_name

    default_storage.delete(stored_media_name(uploaded))
    post = due(connect("twitter"), media_urls=[uploaded])
    run_scan()
    post.refresh_from_db()
    assert post.status == S.FAILED and "flag.jpg is no longer stored" in post.error


# ---------------------------------------------------------------------------- where addresses come in


@pytest.fixture
def api(club):
    client = APIClient()
    client.force_authenticate(StaffFactory(tenant=club.tenant).user)
    return client


@pytest.mark.parametrize("address, reason", [
    ("file:///etc/passwd", "http:// or https://"),
    ("ftp://files.example.com/a.jpg", "http:// or https://"),
    ("http://admin:hunter2@cdn.example.com/a.jpg", "user name or password"),
])
def test_the_api_refuses_media_addresses_that_can_never_be_fetched(api, club, address, reason):
    connection = SocialConnectionFactory(club=club)
    response = api.post("/api/v1/posts/", {"connection": str(connection.pk), "content": "Open day",
                                           "media_urls": [address]}, format="json")
    assert response.status_code == 400, response.content
    assert reason in str(response.json()["fields"]["media_urls"])
    assert not SocialPost.objects.exists()


def test_the_service_refuses_credentials_in_a_media_address(club):
    from django.core.exceptions import ValidationError

    connection = SocialConnectionFactory(club=club)
    with pytest.raises(ValidationError) as caught:
        post_create(tenant=club.tenant, connection=connection, content="Open day", created_by="alex",
                    media_urls=["https://user:pw@cdn.example.com/a.jpg"])
    assert "without a user name or password" in str(caught.value.message_dict["media_urls"])
