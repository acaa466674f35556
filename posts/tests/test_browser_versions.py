"""One post with a version per network, in headless Chromium: a different X text, both previews, scheduled,
and each network receiving its own text at the simulator."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm.tests.factories import StaffFactory
from posts.models import Composition
from posts.models import SocialPostStatus as S
from posts.publishing import posts_publish_due
from simulator.media import SAMPLES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE = "Spring medal entries close on Friday at noon. Sign up at the pro shop or online, and bring a friend."
X_TEXT = "Spring medal: entries close Friday noon ⛳"


def test_a_different_x_text_is_previewed_scheduled_and_received_by_x_alone(page, login, club, connect, simulator,
                                                                          eager_celery, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    StaffFactory(tenant=club.tenant, user__username="pat")
    fb, x = connect("facebook"), connect("twitter")
    login("pat")
    page.goto("/posts/new/")
    page.check(f"input[name=connections][value='{fb.pk}']")
    page.check(f"input[name=connections][value='{x.pk}']")
    page.fill("#id_content", BASE)
    x_section = page.locator(f"#version-{x.pk}")
    x_section.locator("summary").click()
    page.fill(f"#v-{x.pk}-content", X_TEXT)
    # An image for X only: chosen in X's section, shown on X's card alone.
    page.set_input_files(f"#v-{x.pk}-media", files=[{"name": "flag.jpg", "mimeType": "image/jpeg",
                                                    "buffer": SAMPLES["sample.jpg"]}])
    page.locator(f"[data-preview-slot='{x.pk}'] .post-card-image").wait_for()
    assert page.locator(f"[data-preview-slot='{fb.pk}'] .post-card-image").count() == 0
    # Both previews, each with its own text, from the server's rules.
    x_card = page.locator(f"[data-preview-slot='{x.pk}'] .post-card")
    x_card.filter(has_text=X_TEXT).wait_for()
    fb_card = page.locator(f"[data-preview-slot='{fb.pk}'] .post-card")
    fb_card.filter(has_text="Spring medal entries close").wait_for()
    assert "Spring medal entries" not in x_card.inner_text()
    assert fb.account_name in fb_card.inner_text() and x.account_name in x_card.inner_text()
    assert page.locator(f"[data-preview-slot='{x.pk}'] .counter .count").inner_text() == "42 / 280"  # ⛳ weighs 2
    local = (timezone.now() + timedelta(days=2)).astimezone(ZoneInfo(str(club.timezone)))
    page.fill("#id_scheduled_local", local.strftime("%Y-%m-%dT%H:%M"))
    page.click("#schedule")
    page.wait_for_selector("#composition-statuses")
    composition = Composition.objects.get()
    assert "X (Twitter): Scheduled" in page.inner_text("#composition-statuses")
    assert "Facebook: Scheduled" in page.inner_text("#composition-statuses")
    at = max(v.scheduled_at for v in composition.versions.all())
    posts_publish_due(now=at + timedelta(seconds=1))
    assert {v.status for v in composition.versions.all()} == {S.PUBLISHED}
    (tweet,) = simulator.published(platform="twitter")
    (fb_post,) = simulator.published(platform="facebook")
    assert tweet["text"] == X_TEXT and len(tweet["media"]) == 1
    assert fb_post["text"] == BASE and not fb_post.get("media")
    assert [p.connection.platform for p in composition.versions.exclude(media_urls=[])] == ["TWITTER"]
    page.goto("/posts/")
    row = page.locator(f"#composition-{composition.pk}")
    assert "X (Twitter): Published" in row.inner_text() and "Facebook: Published" in row.inner_text()
