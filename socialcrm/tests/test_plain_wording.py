"""Staff read plain sentences: never a scope code, a task name or what a platform answered as the main message.

The platform's own words are kept, apart, as detail (a <details> element); a reason is said once.
"""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import StaffFactory
from platforms import all_adapters
from platforms.errors import split_platform_words
from posts.models import SocialPostStatus as S
from posts.publishing import _needs_reconnecting
from posts.tests.factories import SocialPostFactory
from promotions.dispatching import dispatch_run
from promotions.models import DispatchStatus, PromotionDispatch
from promotions.planning import promotion_plan
from promotions.sms import HttpGatewaySmsBackend, SmsError, SmsMessage, SmsTemporaryError
from promotions.tests.factories import EventPromotionFactory

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_SAID = "(#200) Requires the pages_manage_posts permission to manage the object"
PERMISSION_ERROR = f"Facebook needs the “Create content” permission. Reconnect the account and tick it. ({PLATFORM_SAID})"
SCOPE_CODES = sorted({code for adapter in all_adapters() for code in adapter.scopes + adapter.required_permissions})
TASK_NAMES = ["posts.publish", "posts.sync_metrics", "promotions.send", "connections.refresh"]


@pytest.fixture
def staff(client, club):
    client.force_login(StaffFactory(tenant=club.tenant).user)
    return client


def between(page, start, end):
    tail = page[page.index(start):]
    return tail[:tail.index(end)]


def main_text(fragment):
    """What is shown as the message: the fragment without its <details> (the platform's words)."""
    return re.sub(r"<details.*?</details>", "", fragment, flags=re.S)


# ----------------------------------------------------------------------------- templates


@pytest.mark.parametrize("path", sorted((ROOT / "templates").rglob("*.html")), ids=lambda p: p.name)
def test_no_template_writes_a_scope_code_or_a_task_name(path):
    text = path.read_text()
    for code in SCOPE_CODES + TASK_NAMES:
        assert not re.search(rf"(?<![\w.]){re.escape(code)}(?![\w])", text), f"{path.name} names {code}"


# ----------------------------------------------------------------------------- permissions


def test_a_missing_permission_is_named_by_its_consent_screen_name_everywhere(staff, club):
    fb = SocialConnectionFactory(club=club, platform="FACEBOOK", account_name="Pinewood page",
                                 permissions=["pages_show_list", "pages_read_engagement"])
    SocialPostFactory(connection=fb, status=S.SCHEDULED, scheduled_at=timezone.now() + timedelta(days=1),
                      content="Spring open")
    listing = staff.get(reverse("connections:list")).content.decode()
    row = between(listing, f'data-connection="{fb.pk}"', "</tr>")
    assert "publish posts on the Page (“Create content”)" in row
    for page in (listing, staff.get("/").content.decode(), staff.get(reverse("posts:list")).content.decode()):
        assert "Create content" in page
        assert not [code for code in SCOPE_CODES if code in page]


# ----------------------------------------------------------------------------- errors


def test_a_failed_post_on_the_list_leads_with_the_sentence_and_keeps_the_platforms_words_apart(staff, club):
    fb = SocialConnectionFactory(club=club, platform="FACEBOOK")
    post = SocialPostFactory(connection=fb, status=S.FAILED, error=PERMISSION_ERROR, error_kind="PERMISSION")
    page = staff.get(reverse("posts:list")).content.decode()
    cell = between(page, f'id="post-{post.pk}"', "</tr>")
    shown = main_text(cell)
    assert "Facebook needs the “Create content” permission." in shown and "pages_manage_posts" not in shown
    assert "What Facebook said" in cell and "(#200) Requires the pages_manage_posts permission" in cell


def test_a_connections_last_error_leads_with_the_sentence(staff, club):
    said = "Error validating access token: Session has expired on Friday"
    fb = SocialConnectionFactory(club=club, platform="FACEBOOK", is_active=False,
                                 last_error=f"The Facebook connection has expired or was revoked; reconnect the "
                                            f"account. ({said})", last_error_at=timezone.now())
    row = between(staff.get(reverse("connections:list")).content.decode(), f'data-connection="{fb.pk}"', "</tr>")
    shown = main_text(row)
    assert "The Facebook connection has expired or was revoked; reconnect the account." in shown
    assert said not in shown and said in row


def test_a_failed_network_on_the_promotion_timeline_leads_with_the_sentence(staff, club):
    promotion = EventPromotionFactory(club=club, channels=["SOCIAL"], event_name="Club championship")
    dispatch = PromotionDispatch.objects.create(tenant=club.tenant, promotion=promotion, kind="ANNOUNCEMENT",
                                                channel="SOCIAL", scheduled_for=timezone.now(),
                                                status=DispatchStatus.SENT, planned_count=1)
    fb = SocialConnectionFactory(club=club, platform="FACEBOOK", account_name="Pinewood page")
    SocialPostFactory(connection=fb, dispatch=dispatch, status=S.FAILED, error=PERMISSION_ERROR)
    page = staff.get(reverse("promotions:detail", args=[promotion.pk])).content.decode()
    outcome = between(page, 'class="outcome outcome-failed"', "</li>")
    assert "Facebook needs the “Create content” permission." in main_text(outcome)
    assert "pages_manage_posts" not in main_text(outcome) and PLATFORM_SAID in outcome


def test_a_reason_two_accounts_share_is_said_once(staff, club):
    promotion = EventPromotionFactory(club=club, channels=["SOCIAL"], event_image_url="", reminder_days=[])
    for name in ("Pinewood on Instagram", "Pinewood juniors on Instagram"):
        SocialConnectionFactory(club=club, platform="INSTAGRAM", account_name=name)
    promotion_plan(promotion=promotion, now=timezone.now())
    dispatch = dispatch_run(dispatch_id=promotion.dispatches.get(kind="ANNOUNCEMENT").pk, now=timezone.now())
    assert dispatch.skipped_count == 2
    assert len(dispatch.status_reason.splitlines()) == 1
    # A reason stored twice before this was fixed is shown once too.
    PromotionDispatch.objects.filter(pk=dispatch.pk).update(status_reason="Same reason.\nSame reason.")
    page = staff.get(reverse("promotions:detail", args=[promotion.pk])).content.decode()
    assert page.count("Same reason.") == 1


class FakeGateway:
    def __init__(self, status, text):
        self.status, self.text = status, text

    def post(self, url, **kwargs):
        return type("Answer", (), {"status_code": self.status, "text": self.text, "json": lambda self: {}})()


@pytest.mark.parametrize("status,error,sentence", [
    (400, SmsError, "The SMS gateway refused the text."),
    (503, SmsTemporaryError, "The SMS gateway is unavailable for now."),
])
def test_an_sms_gateway_refusal_leads_with_a_sentence(status, error, sentence):
    backend = HttpGatewaySmsBackend(url="http://gateway.test/send", token="t", session=FakeGateway(status, '{"err":\n "barred"}'))
    with pytest.raises(error) as caught:
        backend.send(SmsMessage(to="+447700900123", body="Hi", sender="Club"))
    assert split_platform_words(str(caught.value)) == (sentence, f'HTTP {status}: {{"err": "barred"}}')


def test_an_expired_connection_is_said_to_need_reconnecting_once():
    said = "The Facebook connection has expired or was revoked; reconnect the account. (Session has expired)"
    assert _needs_reconnecting(said) == said
    plain = "LinkedIn refused the token. (invalid_token)"
    assert _needs_reconnecting(plain) == "LinkedIn refused the token. The connection needs reconnecting. (invalid_token)"


# ----------------------------------------------------------------------------- channels


def visible_text(page):
    body = page[page.index("<main"):page.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def channel_codes_in(text):
    return re.findall(r"\bEMAIL\b|\bSOCIAL\b|(?<!\()\bSMS\b(?!\))", text)


def test_promotion_pages_name_channels_never_their_codes(staff, club):
    promotion = EventPromotionFactory(club=club, channels=["EMAIL", "SMS", "SOCIAL"], event_name="Spring open",
                                      reminder_days=[])
    promotion_plan(promotion=promotion, now=timezone.now())
    pages = {
        "list": reverse("promotions:list"), "detail": reverse("promotions:detail", args=[promotion.pk]),
        "edit": reverse("promotions:edit", args=[promotion.pk]), "create": reverse("promotions:create"),
        "preview": reverse("promotions:preview", args=[promotion.pk]),
    }
    for name, url in pages.items():
        text = visible_text(staff.get(url).content.decode())
        assert not channel_codes_in(text), f"{name}: {channel_codes_in(text)}"
        assert "Text message (SMS)" in text and "Social posts" in text, name
    detail = visible_text(staff.get(pages["detail"]).content.decode())
    assert "Channels Email, Text message (SMS), Social posts" in detail
    timeline = staff.get(pages["detail"]).content.decode().split('id="timeline-h"')[1]
    assert all(label in timeline for label in ("<td>Email</td>", "<td>Text message (SMS)</td>", "<td>Social posts</td>"))
