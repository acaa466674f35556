"""Reports per promotion and per campaign: the page, the CSV export and the API show the same figures."""

import csv
import datetime
import html
import io
import re
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from connections.tests.factories import SocialConnectionFactory
from crm.models import Tenant
from crm.tests.factories import CampaignFactory, ClubFactory, MemberFactory, StaffFactory
from posts.tests.factories import SocialPostFactory
from promotions.models import PromotionDelivery, PromotionDispatch
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2031, 6, 10, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def world():
    club = ClubFactory(timezone="Europe/London")
    Tenant.objects.filter(pk=club.tenant_id).update(sms_price_per_segment=Decimal("0.05"), sms_price_currency="EUR")
    club.tenant.refresh_from_db()
    campaign = CampaignFactory(tenant=club.tenant, club=club, name="Summer")
    promotion = EventPromotionFactory(club=club, campaign=campaign, channels=["EMAIL", "SMS", "SOCIAL"])
    members = MemberFactory.create_batch(4, club=club)

    def dispatch(channel):
        return PromotionDispatch.objects.create(tenant=club.tenant, promotion=promotion, kind="ANNOUNCEMENT",
                                                channel=channel, scheduled_for=NOW)

    email, sms, social = dispatch("EMAIL"), dispatch("SMS"), dispatch("SOCIAL")
    for member, (status, tracking) in zip(members, [("SENT", "OPENED"), ("SENT", "DELIVERED"), ("SENT", "BOUNCED"),
                                                    ("SKIPPED", "")], strict=True):
        PromotionDelivery.objects.create(dispatch=email, member=member, status=status, tracking_status=tracking)
    for member, (status, tracking, segments) in zip(members, [("SENT", "DELIVERED", 2), ("SENT", "UNREACHABLE", 2),
                                                              ("SENT", "", 3), ("FAILED", "", 0)], strict=True):
        PromotionDelivery.objects.create(dispatch=sms, member=member, status=status, tracking_status=tracking,
                                         segments=segments)
    facebook = SocialConnectionFactory(club=club, tenant=club.tenant, platform="FACEBOOK")
    linkedin = SocialConnectionFactory(club=club, tenant=club.tenant, platform="LINKEDIN")
    SocialPostFactory(connection=facebook, dispatch=social, campaign=campaign, status="PUBLISHED", likes=7, reach=90)
    SocialPostFactory(connection=linkedin, dispatch=social, campaign=campaign, status="FAILED")
    SocialPostFactory(connection=facebook, campaign=campaign, status="PUBLISHED", likes=5)  # the campaign's own post
    SocialPostFactory(connection=facebook, status="PUBLISHED", likes=100)  # neither's
    return {"club": club, "promotion": promotion, "campaign": campaign}


def page_rows(content):
    """The report table of a page, as (section, measure, value) with the HTML unescaped."""
    table = re.search(r"<table class=\"table report\" data-report>(.*?)</table>", content, re.S).group(1)
    body = table.split("<tbody>", 1)[1]
    return [tuple(html.unescape(cell) for cell in re.findall(r"<td>(.*?)</td>", row))
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def csv_rows(content):
    rows = list(csv.reader(io.StringIO(content)))
    assert rows[0] == ["Section", "Measure", "Value"]
    return [tuple(row) for row in rows[1:]]


def test_the_promotion_csv_equals_the_page_and_the_figures_are_right(client, world):
    client.force_login(StaffFactory(tenant=world["club"].tenant).user)
    promotion = world["promotion"]
    page = page_rows(client.get(f"/promotions/{promotion.pk}/").content.decode())
    response = client.get(f"/promotions/{promotion.pk}/report.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert csv_rows(response.content.decode()) == page
    figures = {(section, measure): value for section, measure, value in page}
    assert figures[("Posts on Facebook", "Published")] == "1" and figures[("Posts on Facebook", "Likes")] == "7"
    assert figures[("Posts on Facebook", "Reach")] == "90"
    assert figures[("Posts on LinkedIn", "Failed")] == "1"
    assert [figures[("Emails", m)] for m in ("Sent", "Delivered", "Opened", "Bounced")] == ["3", "2", "1", "1"]
    assert [figures[("Texts", m)] for m in ("Sent", "Delivered", "Not delivered", "Failed to send")] == ["3", "1", "1", "1"]
    assert (figures[("Texts", "Segments sent")], figures[("Texts", "Cost")]) == ("7", "0.35 EUR")


def test_the_campaign_report_adds_the_campaigns_own_posts(client, world):
    client.force_login(StaffFactory(tenant=world["club"].tenant).user)
    campaign = world["campaign"]
    assert f'href="/campaigns/{campaign.pk}/"' in client.get("/campaigns/").content.decode()
    page = page_rows(client.get(f"/campaigns/{campaign.pk}/").content.decode())
    assert csv_rows(client.get(f"/campaigns/{campaign.pk}/report.csv").content.decode()) == page
    figures = {(section, measure): value for section, measure, value in page}
    assert (figures[("Posts on Facebook", "Posts")], figures[("Posts on Facebook", "Likes")]) == ("2", "12")
    assert figures[("Texts", "Segments sent")] == "7"


def test_the_api_returns_the_same_rows_within_the_tenant(client, world):
    api = APIClient()
    api.force_authenticate(StaffFactory(tenant=world["club"].tenant).user)
    client.force_login(StaffFactory(tenant=world["club"].tenant).user)
    promotion, campaign = world["promotion"], world["campaign"]
    rows = api.get(f"/api/v1/promotions/{promotion.pk}/report/").json()["rows"]
    page = page_rows(client.get(f"/promotions/{promotion.pk}/").content.decode())
    assert [(r["section"], r["measure"], r["value"]) for r in rows] == page
    assert api.get(f"/api/v1/campaigns/{campaign.pk}/report/").json()["title"] == "Summer"
    stranger = APIClient()
    stranger.force_authenticate(StaffFactory(tenant=ClubFactory().tenant).user)
    assert stranger.get(f"/api/v1/promotions/{promotion.pk}/report/").status_code == 404
    assert stranger.get(f"/api/v1/campaigns/{campaign.pk}/report/").status_code == 404
    client.force_login(StaffFactory(tenant=ClubFactory().tenant).user)
    assert client.get(f"/campaigns/{campaign.pk}/report.csv").status_code == 404
    assert client.get(f"/promotions/{promotion.pk}/report.csv").status_code == 404


def test_a_cell_a_spreadsheet_would_run_is_written_as_text():
    from promotions.reports import Report, ReportRow

    report = Report(title="t", rows=[ReportRow("=cmd|' /C calc'!A0", "Posts", "-1")])
    assert csv_rows(report.as_csv()) == [("'=cmd|' /C calc'!A0", "Posts", "'-1")]
