"""A promotion's post reaches the network with its tracked link (UTM parameters per network)."""

import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from crm.tests.factories import CampaignFactory
from posts.publishing import posts_publish_due
from promotions.dispatching import dispatch_run
from promotions.planning import promotion_plan
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_scan(django_capture_on_commit_callbacks, eager_celery):
    def _scan(now=None):
        with django_capture_on_commit_callbacks(execute=True):
            return posts_publish_due(now=now)
    return _scan


def test_utm_parameters_appear_in_the_published_posts_link_at_the_simulator(connect, simulator, run_scan, club):
    connection = connect("facebook")
    now = timezone.now()
    campaign = CampaignFactory(tenant=club.tenant, club=club, name="Spring Open Week")
    promotion = EventPromotionFactory(club=club, channels=["SOCIAL"], reminder_days=[], campaign=campaign,
                                      event_url="https://club.example/open?lang=en",
                                      event_starts_at=now + datetime.timedelta(days=20))
    promotion_plan(promotion=promotion, now=now)
    dispatch_run(dispatch_id=promotion.dispatches.get(kind="ANNOUNCEMENT").pk, now=now)
    run_scan()
    [published] = simulator.published(platform="facebook")
    link = urlsplit(published["link"])
    assert (link.netloc, link.path) == ("club.example", "/open")
    assert parse_qs(link.query) == {"lang": ["en"], "utm_source": ["facebook"], "utm_medium": ["social"],
                                    "utm_campaign": ["spring-open-week"]}
    assert connection.platform == "FACEBOOK"


def test_a_tenant_with_tracking_off_publishes_the_link_as_it_is(connect, simulator, run_scan, club):
    connect("facebook")
    type(club.tenant).objects.filter(pk=club.tenant_id).update(utm_enabled=False)
    now = timezone.now()
    promotion = EventPromotionFactory(club=club, channels=["SOCIAL"], reminder_days=[],
                                      event_url="https://club.example/open?lang=en",
                                      event_starts_at=now + datetime.timedelta(days=20))
    promotion_plan(promotion=promotion, now=now)
    dispatch_run(dispatch_id=promotion.dispatches.get(kind="ANNOUNCEMENT").pk, now=now)
    run_scan()
    [published] = simulator.published(platform="facebook")
    assert published["link"] == "https://club.example/open?lang=en"
