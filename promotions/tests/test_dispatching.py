import datetime
import smtplib
import threading
import zoneinfo
from collections import Counter

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection as db_connection
from django.utils import timezone
from django.utils.text import slugify

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import CampaignFactory, ClubFactory, MemberFactory, SegmentFactory
from platforms import get_adapter
from posts.models import SocialPost
from promotions.dispatching import dispatch_claim, dispatch_due, dispatch_run, dispatch_send
from promotions.models import DeliveryStatus, DispatchStatus, PromotionDelivery, PromotionDispatch
from promotions.planning import promotion_plan
from promotions.services import dispatch_retry_failed
from promotions.tests.factories import EventPromotionFactory

UTC = datetime.timezone.utc
LONDON = zoneinfo.ZoneInfo("Europe/London")


def announcement(promotion, channel):
    return promotion.dispatches.get(kind="ANNOUNCEMENT", channel=channel)


def planned_promotion(*, club, channels, now, **fields):
    fields.setdefault("event_starts_at", now + datetime.timedelta(days=30))
    promotion = EventPromotionFactory(club=club, channels=channels, reminder_days=[], **fields)
    promotion_plan(promotion=promotion, now=now)
    return promotion


@pytest.fixture
def club(db):
    return ClubFactory(timezone="Europe/London", latitude=51.5, longitude=-0.1)


@pytest.mark.django_db
def test_radius_segment_and_consent_decide_who_gets_the_email(club):
    now = timezone.now()
    near = MemberFactory(club=club, first_name="Near")
    far = MemberFactory(club=club, first_name="Far", latitude=53.48, longitude=-2.24)  # Manchester, ~260 km
    no_consent = MemberFactory(club=club, first_name="Quiet", email_consent=False)
    unknown_place = MemberFactory(club=club, first_name="Nowhere", latitude=None, longitude=None)
    other_club = MemberFactory(club=ClubFactory(tenant=club.tenant), first_name="Elsewhere")

    everyone = planned_promotion(club=club, channels=["EMAIL"], now=now)
    nearby = planned_promotion(club=club, channels=["EMAIL"], now=now, target_radius=50)
    segment = SegmentFactory(tenant=club.tenant, club=club)
    segment.members.set([far, no_consent, other_club])
    segmented = planned_promotion(club=club, channels=["EMAIL"], now=now, segment=segment)

    results = {}
    for name, promotion in [("everyone", everyone), ("nearby", nearby), ("segment", segmented)]:
        mail.outbox.clear()
        dispatch = dispatch_run(dispatch_id=announcement(promotion, "EMAIL").pk, now=now)
        results[name] = sorted(m.to[0] for m in mail.outbox)
        assert dispatch.status == DispatchStatus.SENT
        assert dispatch.planned_count == dispatch.sent_count == len(results[name])

    assert results["everyone"] == sorted([near.email, far.email, unknown_place.email])
    assert results["nearby"] == [near.email]
    assert results["segment"] == sorted([far.email, other_club.email])
    everyone.refresh_from_db()
    assert everyone.last_promoted_at == now


@pytest.mark.django_db
def test_email_is_rendered_per_member_with_unsubscribe_headers(club):
    now = datetime.datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
    member = MemberFactory(club=club, first_name="Robin")
    promotion = planned_promotion(club=club, channels=["EMAIL"], now=now, event_name="Spring Foursomes",
                                  event_starts_at=datetime.datetime(2031, 4, 5, 9, 30, tzinfo=UTC))
    dispatch_run(dispatch_id=announcement(promotion, "EMAIL").pk, now=now)
    [message] = mail.outbox
    assert message.to == [member.email]
    assert "Spring Foursomes" in message.subject
    assert "Hello Robin" in message.body
    assert "Saturday 5 April 2031, 10:30" in message.body  # 09:30 UTC is 10:30 BST, the club's clock
    assert "https://example.com/event" in message.body
    unsubscribe = message.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<http") and "/promotions/unsubscribe/" in unsubscribe
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.strip("<>") in message.body
    assert message.alternatives and "text/html" == message.alternatives[0][1]


@pytest.mark.django_db
def test_staff_email_template_is_used(club):
    from crm.tests.factories import MessageTemplateFactory

    now = timezone.now()
    MemberFactory(club=club, first_name="Kim")
    template = MessageTemplateFactory(tenant=club.tenant, subject="Play {{ event_name }}!",
                                      body="Hi {{ first_name }} — {{ event_starts_local }} — {{ club_name }}")
    promotion = planned_promotion(club=club, channels=["EMAIL"], now=now, email_template=template, event_name="Pairs")
    dispatch_run(dispatch_id=announcement(promotion, "EMAIL").pk, now=now)
    [message] = mail.outbox
    assert message.subject == "Play Pairs!"
    assert message.body.startswith("Hi Kim — ") and club.name in message.body


@pytest.mark.django_db
def test_sms_quiet_hours_hold_texts_until_eight_and_invalid_numbers_are_skipped(club, sms_outbox):
    late = datetime.datetime(2031, 6, 10, 22, 30, tzinfo=LONDON)
    good = MemberFactory(club=club, phone="+447911123456")
    MemberFactory(club=club, phone="+4412", first_name="Badnumber")  # saved without validation: skipped at send
    MemberFactory(club=club, sms_consent=False)
    promotion = planned_promotion(club=club, channels=["SMS"], now=late)
    dispatch = dispatch_run(dispatch_id=announcement(promotion, "SMS").pk, now=late)
    assert sms_outbox == []
    assert dispatch.status == DispatchStatus.HELD
    eight = datetime.datetime(2031, 6, 11, 8, 0, tzinfo=LONDON)
    assert dispatch.resume_at == eight
    assert set(PromotionDelivery.objects.filter(dispatch=dispatch).values_list("not_before", flat=True)) == {eight}

    assert dispatch_due(now=eight - datetime.timedelta(minutes=1)) == []
    [dispatch] = dispatch_due(now=eight)
    assert [t.to for t in sms_outbox] == [good.phone]
    assert "Reply STOP" in sms_outbox[0].body
    assert (dispatch.status, dispatch.planned_count, dispatch.sent_count, dispatch.skipped_count) == ("SENT", 2, 1, 1)
    skipped = PromotionDelivery.objects.get(dispatch=dispatch, status=DeliveryStatus.SKIPPED)
    assert "E.164" in skipped.reason


@pytest.mark.django_db
def test_a_due_dispatch_is_claimed_once(club):
    now = timezone.now()
    promotion = planned_promotion(club=club, channels=["EMAIL"], now=now)
    dispatch_id = announcement(promotion, "EMAIL").pk
    assert dispatch_claim(dispatch_id=dispatch_id, now=now) is not None
    assert dispatch_claim(dispatch_id=dispatch_id, now=now) is None
    assert dispatch_due(now=now) == []


class CrashingBackend(EmailBackend):
    """Hands over a few messages, then the worker 'dies' right after the next one went out."""

    remaining = 3

    def send_messages(self, messages):
        sent = super().send_messages(messages)
        CrashingBackend.remaining -= 1
        if CrashingBackend.remaining <= 0:
            raise SystemExit("worker killed")
        return sent


@pytest.mark.django_db
def test_a_rerun_after_a_crash_halfway_through_a_batch_sends_each_member_once(club, settings):
    settings.EMAIL_BACKEND = "promotions.tests.test_dispatching.CrashingBackend"
    settings.PROMOTION_DISPATCH_BATCH_SIZE = 4
    now = timezone.now()
    members = MemberFactory.create_batch(10, club=club)
    promotion = planned_promotion(club=club, channels=["EMAIL"], now=now)
    dispatch_id = announcement(promotion, "EMAIL").pk
    CrashingBackend.remaining = 3
    with pytest.raises(SystemExit):
        dispatch_run(dispatch_id=dispatch_id, now=now)
    assert len(mail.outbox) == 3
    assert PromotionDispatch.objects.get(pk=dispatch_id).status == DispatchStatus.SENDING

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert dispatch_run(dispatch_id=dispatch_id, now=now) is None  # not stale yet: the first worker may be alive
    later = now + datetime.timedelta(seconds=settings.PROMOTION_DISPATCH_STALE_SECONDS + 1)
    [dispatch] = dispatch_due(now=later)
    per_member = Counter(m.to[0] for m in mail.outbox)
    assert per_member == Counter({m.email: 1 for m in members})
    # The one in flight when the worker died went out, but its outcome was unknown: not resent, marked for a look.
    assert (dispatch.planned_count, dispatch.sent_count, dispatch.failed_count) == (10, 9, 1)


@pytest.mark.django_db
def test_retrying_failed_deliveries_sends_only_those(club, monkeypatch):
    now = timezone.now()
    members = MemberFactory.create_batch(3, club=club)
    promotion = planned_promotion(club=club, channels=["EMAIL"], now=now)
    dispatch_id = announcement(promotion, "EMAIL").pk
    original = EmailBackend.send_messages

    def refuse_one(self, messages):
        if messages[0].to == [members[1].email]:
            # A permanent refusal (a connection error would now be retried automatically, with backoff).
            raise smtplib.SMTPRecipientsRefused({members[1].email: (550, b"5.2.1 mailbox unavailable")})
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", refuse_one)
    dispatch = dispatch_run(dispatch_id=dispatch_id, now=now)
    assert (dispatch.sent_count, dispatch.failed_count) == (2, 1)
    monkeypatch.setattr(EmailBackend, "send_messages", original)
    assert dispatch_retry_failed(dispatch=dispatch) == 1
    [dispatch] = dispatch_due(now=timezone.now())
    assert (dispatch.status, dispatch.sent_count, dispatch.failed_count) == ("SENT", 3, 0)
    assert Counter(m.to[0] for m in mail.outbox) == Counter({m.email: 1 for m in members})


@pytest.mark.django_db
def test_social_posts_one_per_active_connection_and_instagram_needs_an_image(club):
    now = timezone.now()
    facebook = SocialConnectionFactory(club=club, tenant=club.tenant, platform="FACEBOOK")
    SocialConnectionFactory(club=club, tenant=club.tenant, platform="INSTAGRAM", account_type="business")
    SocialConnectionFactory(club=club, tenant=club.tenant, platform="LINKEDIN", is_active=False)
    campaign = CampaignFactory(tenant=club.tenant)
    promotion = planned_promotion(club=club, channels=["SOCIAL"], now=now, campaign=campaign, event_name="Club Champs")
    dispatch = dispatch_run(dispatch_id=announcement(promotion, "SOCIAL").pk, now=now)
    [post] = SocialPost.objects.all()
    assert post.connection == facebook and post.status == "SCHEDULED" and post.campaign == campaign
    assert post.dispatch == dispatch and "Club Champs" in post.content and post.link_url == (
        promotion.event_url + f"?utm_source=facebook&utm_medium=social&utm_campaign={slugify(campaign.name)}")
    assert get_adapter("INSTAGRAM").media_required_reason() in dispatch.status_reason
    assert "Instagram skipped: the event has no image and Instagram posts need one" in dispatch.status_reason
    # The post waits for the publisher: it is not counted as sent until the platform has it.
    assert (dispatch.planned_count, dispatch.sent_count, dispatch.skipped_count) == (2, 0, 1)
    # A re-run (say, a duplicate task) finds the post already there.
    PromotionDispatch.objects.filter(pk=dispatch.pk).update(status=DispatchStatus.SENDING)
    dispatch.refresh_from_db()
    dispatch_send(dispatch=dispatch, now=now)
    assert SocialPost.objects.count() == 1

    with_image = planned_promotion(club=club, channels=["SOCIAL"], now=now, event_image_url="https://example.com/a.jpg")
    dispatch_run(dispatch_id=announcement(with_image, "SOCIAL").pk, now=now)
    assert SocialPost.objects.filter(dispatch__promotion=with_image).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_dispatch_run_twice_at_once_sends_each_member_one_message(settings):
    if db_connection.vendor != "postgresql":
        pytest.skip("threads racing on one database need PostgreSQL's row locking")
    settings.PROMOTION_DISPATCH_BATCH_SIZE = 7
    club = ClubFactory()
    now = datetime.datetime(2031, 6, 10, 12, 0, tzinfo=UTC)  # midday: outside SMS quiet hours
    members = MemberFactory.create_batch(60, club=club)
    email_promo = planned_promotion(club=club, channels=["EMAIL", "SMS"], now=now)
    from promotions import sms

    barrier = threading.Barrier(4)
    errors = []

    def run(dispatch_id):
        try:
            dispatch = PromotionDispatch.objects.select_related("promotion__club__tenant").get(pk=dispatch_id)
            barrier.wait()
            # Both copies skip the dispatch claim on purpose: the per-member claims alone must hold.
            dispatch_send(dispatch=dispatch, now=now)
        except Exception as exc:  # pragma: no cover - surfaced below
            errors.append(exc)
        finally:
            db_connection.close()

    ids = [announcement(email_promo, "EMAIL").pk, announcement(email_promo, "SMS").pk]
    PromotionDispatch.objects.filter(pk__in=ids).update(status=DispatchStatus.SENDING)
    threads = [threading.Thread(target=run, args=(pk,)) for pk in ids for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert Counter(m.to[0] for m in mail.outbox) == Counter({m.email: 1 for m in members})
    assert Counter(t.to for t in sms.outbox) == Counter({m.phone: 1 for m in members})
    for dispatch in PromotionDispatch.objects.filter(pk__in=ids):
        assert (dispatch.planned_count, dispatch.sent_count) == (60, 60)


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_claim_each_dispatch_once():
    if db_connection.vendor != "postgresql":
        pytest.skip("threads racing on one database need PostgreSQL")
    club = ClubFactory()
    now = timezone.now()
    members = MemberFactory.create_batch(20, club=club)
    planned_promotion(club=club, channels=["EMAIL"], now=now)
    barrier = threading.Barrier(3)
    claimed = []

    def run():
        try:
            barrier.wait()
            claimed.extend(dispatch_due(now=now))
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(claimed) == 1
    assert Counter(m.to[0] for m in mail.outbox) == Counter({m.email: 1 for m in members})


@pytest.mark.django_db
def test_a_reminder_missed_while_the_scheduler_was_down_is_skipped_not_sent_late(club, settings):
    settings.PROMOTION_MISSED_WINDOW_SECONDS = 3600
    MemberFactory(club=club)
    planned_at = timezone.now() - datetime.timedelta(days=1)
    promotion = EventPromotionFactory(club=club, channels=["EMAIL"], reminder_days=[7, 3],
                                      event_starts_at=planned_at + datetime.timedelta(days=10))
    promotion_plan(promotion=promotion, now=planned_at)
    seven = promotion.dispatches.get(kind="REMINDER", days_before=7)
    three = promotion.dispatches.get(kind="REMINDER", days_before=3)
    # The scheduler comes back two hours after the 7-day reminder's moment, ten minutes after a later one.
    late = seven.scheduled_for + datetime.timedelta(hours=2)
    mail.outbox.clear()
    dispatch_run(dispatch_id=seven.pk, now=late)
    seven.refresh_from_db()
    assert seven.status == DispatchStatus.SKIPPED and "not sent late" in seven.status_reason
    assert mail.outbox == []
    dispatch_run(dispatch_id=three.pk, now=three.scheduled_for + datetime.timedelta(minutes=10))
    three.refresh_from_db()
    assert three.status == DispatchStatus.SENT and len(mail.outbox) == 1


@pytest.mark.django_db
def test_tenant_wide_connections_get_the_promotions_posts(club):
    now = timezone.now()
    tenant_wide = SocialConnectionFactory(club=None, tenant=club.tenant, platform="FACEBOOK")
    own = SocialConnectionFactory(club=club, tenant=club.tenant, platform="LINKEDIN", account_type="company")
    other_club = ClubFactory(tenant=club.tenant)
    SocialConnectionFactory(club=other_club, tenant=club.tenant, platform="TWITTER")
    SocialConnectionFactory(club=None, tenant=ClubFactory().tenant, platform="TWITTER")  # another tenant's tenant-wide connection
    promotion = planned_promotion(club=club, channels=["SOCIAL"], now=now)
    dispatch = dispatch_run(dispatch_id=announcement(promotion, "SOCIAL").pk, now=now)
    assert {p.connection for p in SocialPost.objects.all()} == {tenant_wide, own}
    assert dispatch.status == "SENT" and "no active social connection" not in dispatch.status_reason
    assert dispatch.planned_count == 2


@pytest.mark.django_db
def test_a_social_dispatch_without_any_connection_is_skipped_not_sent(club):
    now = timezone.now()
    promotion = planned_promotion(club=club, channels=["SOCIAL"], now=now)
    dispatch = dispatch_run(dispatch_id=announcement(promotion, "SOCIAL").pk, now=now)
    assert dispatch.status == "SKIPPED" and "no active social connection" in dispatch.status_reason
