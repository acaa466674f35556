"""The guarded media fetcher: no request reaches loopback, private or link-local targets."""

import socket

import pytest

from platforms import InvalidContent, TransientError
from platforms.fetch import address_problem, is_allowed_host, media_fetch
from platforms.tests.listener import SECRET_BODY

PRIVATE = "points to a private network address and cannot be used"
JPEG = b"\xff\xd8\xff\xe0" + b"j" * 500


@pytest.fixture
def connects(monkeypatch):
    """Every address a socket connects to during the test (pytest-socket's guard still applies)."""
    seen = []
    original = socket.socket.connect

    def recording(sock, address):
        seen.append(address)
        return original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", recording)
    return seen


@pytest.fixture
def allow(settings):
    def _allow(*entries):
        settings.FETCH_ALLOWED_HOSTS = list(entries)

    return _allow


def refused(url, **kw):
    with pytest.raises(InvalidContent) as caught:
        media_fetch(url, **kw)
    return caught.value.message


def test_nothing_is_allowed_by_default(settings):
    assert settings.FETCH_ALLOWED_HOSTS == []


def test_an_allowed_listener_is_reached_so_zero_hits_below_mean_refused(listener, allow, connects):
    listener.route("/a.jpg", headers={"Content-Type": "image/jpeg"}, body=JPEG)
    allow(listener.netloc)
    media = media_fetch(listener.url + "/a.jpg")
    assert (media.body, media.kind, media.content_type) == (JPEG, "image", "image/jpeg")
    assert listener.hits_on("/a.jpg") == [("GET", "/a.jpg")]
    assert connects


@pytest.mark.parametrize("address", [
    "http://127.0.0.1:{port}/x.jpg",
    "http://localhost:{port}/x.jpg",
    "http://[::1]:{port}/x.jpg",
    "http://[::ffff:127.0.0.1]:{port}/x.jpg",
    "http://2130706433:{port}/x.jpg",  # 127.0.0.1 written as one number
    "http://127.1:{port}/x.jpg",
    "http://0.0.0.0:{port}/x.jpg",
])
def test_loopback_is_refused_and_never_reached(listener, connects, address):
    message = refused(address.format(port=listener.port))
    assert PRIVATE in message
    assert listener.hits == [] and connects == []


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/x.jpg",
    "http://172.16.0.1/x.jpg",
    "https://192.168.1.1/x.jpg",
    "http://100.64.0.1/x.jpg",
    "http://224.0.0.1/x.jpg",
    "http://240.0.0.1/x.jpg",
    "http://[fe80::1]/x.jpg",
    "http://[fd00::1]/x.jpg",
    "http://[fec0::1]/x.jpg",
    "http://[::ffff:10.0.0.1]/x.jpg",
    "http://[::ffff:169.254.169.254]/x.jpg",
    "http://[ff02::1]/x.jpg",
    "http://[::]/x.jpg",
])
def test_private_link_local_multicast_and_reserved_are_refused_before_connecting(connects, url):
    assert PRIVATE in refused(url)
    assert connects == []


@pytest.fixture
def resolves(monkeypatch):
    """Make a made-up name resolve to an address of the test's choice."""
    real = socket.getaddrinfo
    names = {}

    def fake(host, *args, **kwargs):
        return real(names.get(host, host), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return names


def test_a_name_resolving_to_loopback_is_refused(listener, connects, resolves):
    resolves["photos.club-media.example"] = "127.0.0.1"
    assert PRIVATE in refused(f"http://photos.club-media.example:{listener.port}/x.jpg")
    assert listener.hits == [] and connects == []


def test_a_name_resolving_to_the_metadata_address_is_refused(connects, resolves):
    resolves["cdn.club-media.example"] = "169.254.169.254"
    assert PRIVATE in refused("http://cdn.club-media.example/latest/meta-data/iam/")
    assert connects == []


def test_a_redirect_from_an_allowed_host_to_loopback_is_refused(listener, second_listener, allow):
    second_listener.route("/photo.jpg", status=302, headers={"Location": f"{listener.url}/secret"})
    allow(second_listener.netloc)
    message = refused(second_listener.url + "/photo.jpg")
    assert PRIVATE in message and "secret" not in message
    assert second_listener.hits_on("/photo.jpg")  # the allowed host was asked ...
    assert listener.hits_on("/secret") == []  # ... and its redirect was not followed


def test_a_redirect_to_the_metadata_address_is_refused_before_connecting(second_listener, allow, connects):
    second_listener.route("/photo.jpg", status=301, headers={"Location": "http://169.254.169.254/latest/"})
    allow(second_listener.netloc)
    assert PRIVATE in refused(second_listener.url + "/photo.jpg")
    assert all(address[0] == "127.0.0.1" for address in connects)


def test_a_relative_redirect_on_an_allowed_host_is_followed(second_listener, allow):
    second_listener.route("/old.jpg", status=302, headers={"Location": "/new.jpg"})
    second_listener.route("/new.jpg", headers={"Content-Type": "image/jpeg"}, body=JPEG)
    allow(second_listener.netloc)
    assert media_fetch(second_listener.url + "/old.jpg").body == JPEG


def test_a_redirect_to_another_scheme_or_in_circles_is_refused(second_listener, allow):
    second_listener.route("/file.jpg", status=302, headers={"Location": "file:///etc/passwd"})
    second_listener.route("/loop.jpg", status=302, headers={"Location": "/loop.jpg"})
    allow(second_listener.netloc)
    assert "cannot be used" in refused(second_listener.url + "/file.jpg")
    assert "too many redirects" in refused(second_listener.url + "/loop.jpg")
    assert len(second_listener.hits_on("/loop.jpg")) == 6


def test_the_allow_list_names_a_port_not_the_whole_host(listener, second_listener, allow):
    allow(second_listener.netloc)
    assert PRIVATE in refused(listener.url + "/x.jpg")
    assert listener.hits == []


@pytest.mark.parametrize("entries, url, allowed", [
    (["127.0.0.1:8100"], "http://127.0.0.1:8100/a.jpg", True),
    (["127.0.0.1:8100"], "http://127.0.0.1:8101/a.jpg", False),
    (["127.0.0.1"], "http://127.0.0.1:9/a.jpg", True),
    (["10.1.0.0/16"], "http://10.1.2.3/a.jpg", True),
    (["10.1.0.0/16"], "http://10.2.0.1/a.jpg", False),
    (["10.1.0.0/16"], "http://ten.example/a.jpg", False),  # networks match written addresses only, never DNS
    (["media.internal"], "https://media.internal/a.jpg", True),
    (["media.internal:443"], "http://media.internal/a.jpg", False),
    (["[::1]:8100"], "http://[::1]:8100/a.jpg", True),
    ("127.0.0.1:8100,media.internal", "http://media.internal/a.jpg", True),  # as written in the environment
    ([], "http://127.0.0.1:8100/a.jpg", False),
])
def test_allow_list_entries(settings, entries, url, allowed):
    settings.FETCH_ALLOWED_HOSTS = entries
    assert is_allowed_host(url) is allowed


@pytest.mark.parametrize("url, problem", [
    ("ftp://example.com/a.jpg", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("gopher://127.0.0.1:6379/_INFO", "http:// or https://"),
    ("http://user:secret@example.com/a.jpg", "user name or password"),
    ("http:///a.jpg", "no host name"),
    ("http://example.com:99999/a.jpg", "not a valid web address"),
    ("https://example.com/a b.jpg", "http:// or https://"),
])
def test_addresses_that_can_never_be_fetched(url, problem, connects):
    assert problem in address_problem(url)
    assert problem in refused(url)
    assert connects == []


def test_errors_never_repeat_what_the_target_answered(listener, allow):
    allow(listener.netloc)
    listener.route("/page.jpg", headers={"Content-Type": "text/html; charset=utf-8"}, body=SECRET_BODY)
    listener.route("/gone.jpg", status=404, headers={"Content-Type": "text/plain"}, body=SECRET_BODY)
    listener.route("/broken.jpg", status=503, headers={"Content-Type": "text/plain"}, body=SECRET_BODY)
    messages = [refused(listener.url + "/page.jpg"), refused(listener.url + "/gone.jpg")]
    with pytest.raises(TransientError) as caught:
        media_fetch(listener.url + "/broken.jpg")
    messages.append(caught.value.message)
    assert "page.jpg is not an image or video" in messages[0]
    assert "gone.jpg is not reachable at its address" in messages[1]
    assert "broken.jpg could not be fetched; it will be tried again" in messages[2]
    for message in messages:
        for leak in ("text/", "html", "404", "503", "internal-secret", "admin"):
            assert leak not in message


def test_only_images_when_only_images_are_wanted(listener, allow):
    allow(listener.netloc)
    listener.route("/clip.mp4", headers={"Content-Type": "video/mp4"}, body=b"v" * 100)
    assert media_fetch(listener.url + "/clip.mp4").kind == "video"
    assert "clip.mp4 is not an image." in refused(listener.url + "/clip.mp4", kinds=("image",))


def test_size_is_capped_by_the_declared_length_and_while_streaming(listener, allow, settings):
    allow(listener.netloc)
    settings.MEDIA_MAX_BYTES = {"image": 1000, "video": 1000}
    listener.route("/declared.jpg", headers={"Content-Type": "image/jpeg", "Content-Length": "5000"}, body=b"")
    listener.route("/undeclared.jpg", headers={"Content-Type": "image/jpeg", "Content-Length": None},
                   body=b"x" * 5000)
    assert "declared.jpg is larger than 1,000 bytes" in refused(listener.url + "/declared.jpg")
    assert "undeclared.jpg is larger than 1,000 bytes" in refused(listener.url + "/undeclared.jpg")
    assert "undeclared.jpg is larger" in refused(listener.url + "/undeclared.jpg", read_body=False)


def test_a_silent_address_is_abandoned_at_the_time_limit(listener, allow, settings):
    allow(listener.netloc)
    settings.PLATFORM_HTTP_TIMEOUT = 0.5
    listener.route("/slow.jpg", headers={"Content-Type": "image/jpeg"}, body=JPEG, delay=2)
    with pytest.raises(TransientError) as caught:
        media_fetch(listener.url + "/slow.jpg")
    assert "slow.jpg did not answer within 0.5 s" in caught.value.message


def test_a_trickle_is_abandoned_at_the_time_limit(listener, allow, settings):
    import time

    allow(listener.netloc)
    settings.PLATFORM_HTTP_TIMEOUT = 0.6
    listener.route("/trickle.jpg", headers={"Content-Type": "image/jpeg"}, body=JPEG * 4, drip=0.2)
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        media_fetch(listener.url + "/trickle.jpg")
    assert "trickle.jpg did not answer within 0.6 s" in caught.value.message
    assert time.monotonic() - started < 2


# ---------------------------------------------------------------------------- our own stored files


@pytest.fixture
def stored(settings, tmp_path):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_URL = "http://127.0.0.1:9"  # nothing listens there, and it is not allowed

    def _stored(name, data):
        path = default_storage.save(name, ContentFile(data))
        return settings.SITE_URL + settings.MEDIA_URL + path

    return _stored


def test_stored_media_is_read_from_storage_without_any_connection(stored, connects):
    url = stored("posts/1/abc/photo.jpg", JPEG)
    media = media_fetch(url)
    assert (media.body, media.kind, media.content_type, media.size) == (JPEG, "image", "image/jpeg", len(JPEG))
    assert media_fetch(url, read_body=False).body is None
    assert connects == []


def test_stored_media_checks_its_size_and_type(stored, settings):
    settings.MEDIA_MAX_BYTES = {"image": 100, "video": 100}
    assert "photo.jpg is larger than 100 bytes" in refused(stored("posts/1/abc/photo.jpg", JPEG))
    assert "notes.txt is not an image or video" in refused(stored("posts/1/abc/notes.txt", b"hello"))


@pytest.mark.parametrize("path", ["posts/1/none.jpg", "../../../etc/hosts.jpg", "%2e%2e/%2e%2e/etc/x.jpg",
                                  "posts/..%2F..%2Fsecret.jpg"])
def test_missing_or_escaping_stored_names_are_refused(stored, settings, connects, path):
    message = refused(settings.SITE_URL + settings.MEDIA_URL + path)
    assert "is no longer stored" in message
    assert connects == []
