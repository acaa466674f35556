"""The posts pages in headless Chromium: counter, scheduling onto the calendar, a published post's link and metrics."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import StaffFactory
from posts.metrics import posts_sync_metrics
from posts.models import SocialPost
from posts.models import SocialPostStatus as S
from posts.tests.factories import SocialPostFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pat(club):
    StaffFactory(tenant=club.tenant, user__username="pat")
    return "pat"


def test_over_length_x_post_shows_counter_in_error_and_cannot_be_scheduled(page, login, pat, club):
    x = SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER", account_name="Pinewood X")
    login(pat)
    page.goto("/posts/new/")
    page.check(f"input[name=connections][value='{x.pk}']")
    page.fill("#id_content", "Fairways " * 35)
    counter = page.locator(".counter[data-platform=TWITTER]")
    counter.and_(page.locator(".error")).wait_for()
    assert counter.locator(".count").inner_text() == "314 / 280"
    assert "X (Twitter) allows 280 characters" in page.inner_text(".violations")
    assert page.is_disabled("#schedule") and page.is_disabled("#publish-now")
    local = (timezone.now() + timedelta(days=2)).astimezone(ZoneInfo(str(club.timezone)))
    page.fill("#id_scheduled_local", local.strftime("%Y-%m-%dT%H:%M"))
    # Even a forced submission is refused by the server.
    page.evaluate("""() => { const f = document.getElementById('composer');
        const i = document.createElement('input'); i.type = 'hidden'; i.name = 'intent'; i.value = 'schedule';
        f.appendChild(i); f.submit(); }""")
    page.wait_for_selector("#compose-errors")
    assert "280" in page.inner_text("#compose-errors")
    assert not SocialPost.objects.exists()
    page.fill("#id_content", "Fairways are open")
    page.locator(".counter[data-platform=TWITTER]:not(.error)").wait_for()
    assert page.is_enabled("#schedule")


def test_scheduled_post_appears_on_the_calendar(page, login, pat, club):
    fb = SocialConnectionFactory(club=club, tenant=club.tenant, account_name="Pinewood page")
    login(pat)
    page.goto("/posts/new/")
    page.check(f"input[name=connections][value='{fb.pk}']")
    page.fill("#id_content", "Spring meeting entries close Friday")
    local = (timezone.now() + timedelta(days=3)).astimezone(ZoneInfo(str(club.timezone))).replace(hour=10, minute=15)
    page.fill("#id_scheduled_local", local.strftime("%Y-%m-%dT%H:%M"))
    page.locator(".counter[data-platform=FACEBOOK]").wait_for()
    page.click("#schedule")
    page.wait_for_selector("#post-status")
    assert page.inner_text("#post-status") == "Scheduled"
    page.goto(f"/posts/calendar/?view=week&date={local:%Y-%m-%d}")
    cell = page.locator(f"td[data-date='{local:%Y-%m-%d}'][data-time='10:00']")  # the week's hour grid
    assert "10:15" in cell.inner_text() and "Spring meeting" in cell.inner_text()
    page.goto(f"/posts/calendar/?view=month&date={local:%Y-%m-%d}")
    assert "Spring meeting" in page.locator(f"td[data-date='{local:%Y-%m-%d}']").inner_text()


def test_published_post_shows_live_link_and_metrics(page, login, pat, club, connect, simulator, eager_celery):
    x = connect("twitter")
    login(pat)
    page.goto("/posts/new/")
    page.check(f"input[name=connections][value='{x.pk}']")
    page.fill("#id_content", "Course record tied today")
    page.locator(".counter[data-platform=TWITTER]").wait_for()
    page.click("#publish-now")
    page.wait_for_selector("#post-status")
    post = SocialPost.objects.get()
    assert post.status == S.PUBLISHED, post.error
    simulator.set_metrics(post.platform_post_id, likes=21, impressions=480, reach=300)
    posts_sync_metrics()
    simulator.set_metrics(post.platform_post_id, likes=34, impressions=900, reach=520)
    posts_sync_metrics(now=timezone.now() + timedelta(hours=1, minutes=31))  # the account's hourly grid: <= 1.5 h
    page.reload()
    assert page.inner_text("#post-status") == "Published"
    link = page.locator("#live-link")
    assert link.get_attribute("href") == post.platform_url and post.platform_post_id in post.platform_url
    assert page.inner_text("#m-likes") == "34" and page.inner_text("#m-impressions") == "900"
    page.locator("#metrics-chart svg polyline[data-metric=likes]").wait_for()
    assert page.locator("#metrics-chart svg circle").count() == 2 * 5
    # The time labels are the server's, written as every staff page writes times (not the browser's locale).
    from crm.dates import format_moment
    snapshots = list(post.metric_snapshots.order_by("taken_at"))
    club = post.connection.club
    assert page.locator("#metrics-chart .chart-time").evaluate_all("els => els.map(e => e.textContent)") == [
        format_moment(snapshots[0].taken_at, club), format_moment(snapshots[-1].taken_at, club)]


def test_select_all_ticks_the_posts_on_the_page_by_keyboard_and_the_server_checks_each(page, login, pat, club):
    fb = SocialConnectionFactory(club=club, tenant=club.tenant, account_name="Pinewood page")
    soon = timezone.now() + timedelta(days=2)
    scheduled = [SocialPostFactory(connection=fb, status=S.SCHEDULED, content=f"Medal {n}",
                                   scheduled_at=soon + timedelta(hours=n)) for n in range(2)]
    published = SocialPostFactory(connection=fb, status=S.PUBLISHED, content="Medal results",
                                  scheduled_at=soon - timedelta(days=5), published_at=soon - timedelta(days=5),
                                  metrics_next_sync_at=timezone.now() + timedelta(days=1))
    login(pat)
    page.goto("/posts/")
    count = page.locator("#selected-count")
    assert count.inner_text() == "None selected"
    select_all = page.get_by_role("checkbox", name="Select every post on this page")
    select_all.focus()
    page.keyboard.press("Space")
    assert count.inner_text() == "3 selected"
    assert page.locator("input[name=post]:checked").count() == 3
    # Unticking one row leaves the header box half-ticked; Space on it ticks every row again.
    page.get_by_role("checkbox", name="Select post: Medal results").uncheck()
    assert count.inner_text() == "2 selected"
    assert select_all.evaluate("box => box.indeterminate") is True
    select_all.focus()
    page.keyboard.press("Space")
    assert count.inner_text() == "3 selected"
    page.select_option("select[name=bulk]", "cancel")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_selector(".messages")
    messages = page.inner_text(".messages")
    assert "2 posts cancelled" in messages and "Cannot cancel a post that is published" in messages
    assert [SocialPost.objects.get(pk=p.pk).status for p in scheduled] == [S.DRAFT, S.DRAFT]
    assert SocialPost.objects.get(pk=published.pk).status == S.PUBLISHED
