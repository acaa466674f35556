"""The timeline tells staff what became of each send: a social dispatch reads its posts as they stand."""

import datetime

import pytest
from django.utils import timezone

from connections.tests.factories import SocialConnectionFactory
from posts.models import SocialPost, SocialPostStatus
from promotions.dispatching import dispatch_run
from promotions.planning import promotion_plan
from promotions.selectors import promotion_timeline
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db


def social_entry(promotion):
    return next(e for e in promotion_timeline(promotion=promotion) if e.dispatch.channel == "SOCIAL")


def test_a_social_dispatch_follows_its_posts_from_waiting_to_sent_and_failed(club):
    now = timezone.now()
    facebook = SocialConnectionFactory(club=None, tenant=club.tenant, platform="FACEBOOK", account_name="Club page")
    SocialConnectionFactory(club=club, tenant=club.tenant, platform="LINKEDIN", account_type="company",
                            account_name="Club company")
    promotion = EventPromotionFactory(club=club, channels=["SOCIAL"], reminder_days=[],
                                      event_starts_at=now + datetime.timedelta(days=5))
    promotion_plan(promotion=promotion, now=now)
    dispatch_run(dispatch_id=promotion.dispatches.get(channel="SOCIAL").pk, now=now)

    entry = social_entry(promotion)
    assert entry.status_label == "Waiting" and (entry.planned, entry.sent, entry.failed) == (2, 0, 0)
    assert {o.state for o in entry.outcomes} == {"waiting"}

    SocialPost.objects.filter(connection=facebook).update(status=SocialPostStatus.FAILED,
                                                           error="Facebook: the page refused the post")
    SocialPost.objects.exclude(connection=facebook).update(status=SocialPostStatus.PUBLISHED,
                                                           platform_url="https://www.linkedin.com/feed/update/1")
    entry = social_entry(promotion)
    outcomes = {o.network: o for o in entry.outcomes}
    assert outcomes["Facebook: Club page"].state == "failed"
    assert outcomes["Facebook: Club page"].reason == "Facebook: the page refused the post"
    assert outcomes["LinkedIn: Club company"].state == "sent"
    assert outcomes["LinkedIn: Club company"].url == "https://www.linkedin.com/feed/update/1"
    assert entry.status_label == "Sent" and (entry.sent, entry.failed, entry.percent_sent) == (1, 1, 50)

    SocialPost.objects.update(status=SocialPostStatus.FAILED, error="refused")
    entry = social_entry(promotion)
    assert entry.status_label == "Failed" and (entry.sent, entry.failed) == (0, 2)
