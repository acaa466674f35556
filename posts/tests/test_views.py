"""The posts pages through Django's test client: composer, rules endpoint, list, bulk, calendar, detail."""

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import ClubFactory, StaffFactory
from library.tests import images
from posts.models import PostMetricSnapshot, SocialPost
from posts.models import SocialPostStatus as S
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sydney(tenant):
    return ClubFactory(tenant=tenant, timezone="Australia/Sydney")


@pytest.fixture
def staff(client, tenant):
    user = StaffFactory(tenant=tenant).user
    client.force_login(user)
    return client


def test_composer_makes_one_post_per_connection_scheduled_in_club_time(staff, sydney):
    fb = SocialConnectionFactory(club=sydney, tenant=sydney.tenant)
    x = SocialConnectionFactory(club=sydney, tenant=sydney.tenant, platform="TWITTER")
    local = (timezone.now() + timedelta(days=3)).astimezone(ZoneInfo("Australia/Sydney")).replace(
        hour=9, minute=30, second=0, microsecond=0, tzinfo=None)
    response = staff.post(reverse("posts:compose"), {
        "connections": [fb.pk, x.pk], "content": "Club champs this weekend", "hashtags": "#golf champs",
        "link_url": "", "scheduled_local": local.strftime("%Y-%m-%dT%H:%M"), "intent": "schedule"})
    assert response.status_code == 302
    posts = SocialPost.objects.order_by("connection__platform")
    assert [p.connection_id for p in posts] == [fb.pk, x.pk]
    for post in posts:
        assert post.status == S.SCHEDULED and post.hashtags == ["#golf", "champs"]
        assert post.scheduled_at.astimezone(ZoneInfo("Australia/Sydney")).replace(tzinfo=None) == local


def test_composer_refuses_over_length_x_and_creates_nothing(staff, club):
    fb = SocialConnectionFactory(club=club, tenant=club.tenant)
    x = SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER")
    response = staff.post(reverse("posts:compose"), {
        "connections": [fb.pk, x.pk], "content": "a" * 300, "intent": "draft"})
    assert response.status_code == 200
    assert "X (Twitter) allows 280 characters; this post has 300" in response.content.decode()
    assert not SocialPost.objects.exists()


def test_composer_uploads_media_and_publishes_by_public_url(staff, club, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_URL = "https://crm.example.com"
    fb = SocialConnectionFactory(club=club, tenant=club.tenant)
    image = SimpleUploadedFile("flag.jpg", images.jpeg(), content_type="image/jpeg")
    staff.post(reverse("posts:compose"), {"connections": [fb.pk], "content": "Pin positions", "media": image,
                                          "upload_alt": "The pin on the 9th", "intent": "draft"})
    post = SocialPost.objects.get()
    (url,) = post.media_urls
    # Images uploaded while composing go into the media library, with the description typed beside them.
    assert url.startswith("https://crm.example.com/media/library/") and url.endswith("flag.jpg")
    assert post.media_items.get().asset.alt_text == "The pin on the 9th"
    assert (tmp_path / url.split("/media/", 1)[1]).read_bytes().startswith(b"\xff\xd8")


def test_composer_refuses_other_files(staff, club, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    fb = SocialConnectionFactory(club=club, tenant=club.tenant)
    page = staff.post(reverse("posts:compose"), {
        "connections": [fb.pk], "content": "x", "intent": "draft",
        "media": SimpleUploadedFile("notes.txt", b"hi", content_type="text/plain")}).content.decode()
    assert "is not an image" in page and not SocialPost.objects.exists()


def test_composer_trusts_the_file_not_the_browser(staff, club, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    fb = SocialConnectionFactory(club=club, tenant=club.tenant)
    disguised = SimpleUploadedFile("evil.html", b"<script>alert(1)</script>", content_type="image/jpeg")
    page = staff.post(reverse("posts:compose"), {"connections": [fb.pk], "content": "x", "intent": "draft",
                                                 "media": disguised}).content.decode()
    assert "is not an image" in page and not list(tmp_path.rglob("*.*"))
    gif_named_html = SimpleUploadedFile("photo.html", images.animated_gif(), content_type="text/html")
    staff.post(reverse("posts:compose"), {"connections": [fb.pk], "content": "x", "intent": "draft",
                                          "media": gif_named_html})
    (url,) = SocialPost.objects.get().media_urls
    assert url.endswith("/photo.gif")


def _png(width, height):
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 120, 40, 128)).save(out, "PNG")
    return out.getvalue()


def test_png_uploads_are_stored_as_jpeg(staff, club, settings, tmp_path):
    """Instagram publishes JPEG only: still images are converted when they are uploaded."""
    settings.MEDIA_ROOT = str(tmp_path)
    fb = SocialConnectionFactory(club=club, tenant=club.tenant)
    upload = SimpleUploadedFile("flag.png", _png(100, 100), content_type="image/png")
    staff.post(reverse("posts:compose"), {"connections": [fb.pk], "content": "x", "intent": "draft", "media": upload})
    (url,) = SocialPost.objects.get().media_urls
    assert url.endswith("/flag.jpg")
    assert (tmp_path / url.split("/media/", 1)[1]).read_bytes()[:3] == b"\xff\xd8\xff"
    broken = SimpleUploadedFile("broken.png", b"\x89PNG\r\n\x1a\n" + b"0" * 20, content_type="image/png")
    page = staff.post(reverse("posts:compose"), {"connections": [fb.pk], "content": "y", "intent": "draft",
                                                 "media": broken}).content.decode()
    assert "could not be read as an image" in page and SocialPost.objects.count() == 1


def test_composer_ignores_other_tenants_connections(staff, club):
    theirs = SocialConnectionFactory()
    page = staff.post(reverse("posts:compose"), {"connections": [theirs.pk], "content": "x", "intent": "draft"})
    assert "Choose at least one account" in page.content.decode() and not SocialPost.objects.exists()


def test_rules_endpoint_counts_x_weighted_and_lists_violations(staff):
    body = {"platforms": ["TWITTER", "INSTAGRAM"], "content": "日本" * 100, "hashtags": "golf",
            "link_url": "https://example.com/a/very/long/path/that/counts/as/twenty-three"}
    answer = staff.post(reverse("posts:rules"), json.dumps(body), content_type="application/json").json()
    x = answer["platforms"]["TWITTER"]
    assert x["limit"] == 280 and x["length"] == 400 + 2 + 23 + 2 + 5
    assert any("280" in v for v in x["violations"])
    assert answer["platforms"]["INSTAGRAM"]["length"] == 200 + 2 + len(body["link_url"]) + 2 + 5
    assert any("image or video" in v for v in answer["platforms"]["INSTAGRAM"]["violations"])


def test_list_filters_and_bulk_cancel(staff, club):
    fb = SocialConnectionFactory(club=club, tenant=club.tenant)
    soon = timezone.now() + timedelta(hours=2)
    scheduled = SocialPostFactory(connection=fb, status=S.SCHEDULED, scheduled_at=soon, content="Scheduled one")
    published = SocialPostFactory(connection=fb, status=S.PUBLISHED, scheduled_at=soon - timedelta(days=9),
                                  published_at=soon - timedelta(days=9), content="Published one")
    page = staff.get(reverse("posts:list"), {"status": "SCHEDULED"}).content.decode()
    assert "Scheduled one" in page and "Published one" not in page
    day = (soon - timedelta(days=9)).date().isoformat()
    page = staff.get(reverse("posts:list"), {"date_from": day, "date_to": day}).content.decode()
    assert "Published one" in page and "Scheduled one" not in page
    response = staff.post(reverse("posts:list"), {"bulk": "cancel", "post": [scheduled.pk, published.pk]},
                          follow=True)
    text = response.content.decode()
    assert "1 post cancelled" in text and "Cannot cancel a post that is published" in text
    scheduled.refresh_from_db()
    assert scheduled.status == S.DRAFT


def test_calendar_week_and_month_show_posts_in_club_time(staff, sydney):
    fb = SocialConnectionFactory(club=sydney, tenant=sydney.tenant)
    zone = ZoneInfo("Australia/Sydney")
    local = datetime(2031, 3, 12, 18, 45, tzinfo=zone)
    SocialPostFactory(connection=fb, status=S.SCHEDULED, scheduled_at=local, content="Twilight comp")
    week = staff.get(reverse("posts:calendar"), {"view": "week", "date": "2031-03-12"}).content.decode()
    assert "18:45" in week and "Twilight comp" in week
    month = staff.get(reverse("posts:calendar"), {"view": "month", "date": "2031-03-01"}).content.decode()
    assert 'data-date="2031-03-12"' in month and "Twilight comp" in month
    other = staff.get(reverse("posts:calendar"), {"view": "month", "date": "2031-05-01"}).content.decode()
    assert "Twilight comp" not in other


def test_detail_shows_live_link_error_and_history(staff, club):
    fb = SocialConnectionFactory(club=club, tenant=club.tenant)
    post = SocialPostFactory(connection=fb, status=S.PUBLISHED, published_at=timezone.now(),
                             platform_url="https://www.facebook.com/2001_77", likes=5, attempts=2)
    PostMetricSnapshot.objects.create(post=post, taken_at=timezone.now(), likes=5, impressions=40)
    page = staff.get(reverse("posts:detail", args=[post.pk])).content.decode()
    assert 'href="https://www.facebook.com/2001_77"' in page and 'id="metrics-data"' in page
    assert "Nothing to do" in page
    other = SocialPostFactory()
    assert staff.get(reverse("posts:detail", args=[other.pk])).status_code == 404


def test_detail_actions_go_through_the_flow(staff, club):
    fb = SocialConnectionFactory(club=club, tenant=club.tenant)
    post = SocialPostFactory(connection=fb, status=S.SCHEDULED, scheduled_at=timezone.now() + timedelta(hours=1))
    staff.post(reverse("posts:action", args=[post.pk]), {"action": "cancel"})
    post.refresh_from_db()
    assert post.status == S.DRAFT
    response = staff.post(reverse("posts:action", args=[post.pk]), {"action": "retry"}, follow=True)
    assert "Cannot retry a post that is draft" in response.content.decode()


def test_dashboard_shows_publisher_last_run_and_engagement_chart(staff, club):
    from posts.publishing import posts_publish_due

    fb = SocialConnectionFactory(club=club, tenant=club.tenant)
    post = SocialPostFactory(connection=fb, status=S.PUBLISHED, published_at=timezone.now())
    PostMetricSnapshot.objects.create(post=post, taken_at=timezone.now(), likes=7, impressions=70)
    page = staff.get("/").content.decode()
    assert "The publisher has not run yet" in page and 'id="engagement-data"' in page
    posts_publish_due()
    page = staff.get("/").content.decode()
    assert "The publisher last ran" in page


def test_detail_page_edits_text_and_media_of_a_draft(staff, club, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_URL = "https://crm.example.com"
    ig = SocialConnectionFactory(club=club, tenant=club.tenant, platform="INSTAGRAM", account_id="1784",
                                 permissions=["instagram_basic", "instagram_content_publish"])
    old = "https://crm.example.com/media/posts/old/a.jpg"
    post = SocialPostFactory(connection=ig, content="Course walk", media_urls=[old, "https://cdn.example.com/b.jpg"])
    url = reverse("posts:action", args=[post.pk])
    assert "Edit text and media" in staff.get(reverse("posts:detail", args=[post.pk])).content.decode()
    new = SimpleUploadedFile("green.png", _png(100, 100), content_type="image/png")
    staff.post(url, {"action": "edit", "content": "Course walk at dawn", "hashtags": "golf", "media_form": "1",
                     "keep_media": ["https://cdn.example.com/b.jpg"], "media": new})
    post.refresh_from_db()
    assert post.content == "Course walk at dawn" and post.hashtags == ["golf"]
    assert post.media_urls[0] == "https://cdn.example.com/b.jpg" and post.media_urls[1].endswith("/green.jpg")
    # Removing every image is refused for Instagram, and nothing changes.
    response = staff.post(url, {"action": "edit", "content": "No picture", "media_form": "1"}, follow=True)
    post.refresh_from_db()
    assert "Instagram" in response.content.decode() and len(post.media_urls) == 2 and post.content != "No picture"


def test_upcoming_posts_on_an_unhealthy_connection_carry_a_warning_on_the_list_and_dashboard(staff, club):
    soon = timezone.now() + timedelta(hours=2)
    healthy = SocialConnectionFactory(tenant=club.tenant, club=club, platform="FACEBOOK",
                                      permissions=["pages_manage_posts", "pages_read_engagement"])
    lacking = SocialConnectionFactory(tenant=club.tenant, club=None, platform="FACEBOOK", account_name="Group page",
                                      permissions=["pages_read_engagement"])
    SocialPostFactory(connection=healthy, status=S.SCHEDULED, scheduled_at=soon, content="Fine post")
    SocialPostFactory(connection=lacking, status=S.SCHEDULED, scheduled_at=soon, content="Stuck post")
    warning = "Facebook: Group page needs attention: Facebook has not allowed SocialCRM to publish posts on the Page"
    for name in ("posts:list", "dashboard"):
        page = staff.get(reverse(name)).content.decode()
        assert page.count(warning) == 1, name
        stuck = page[page.index("Stuck post"):]
        assert stuck.index(warning) < stuck.index("</li>" if name == "dashboard" else "</tr>"), name
