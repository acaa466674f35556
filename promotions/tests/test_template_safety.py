
"""Staff-written templates cannot reach past their merge fields, and event or member text never runs.

These tests drive the product from the outside (pages, admin, API, sent messages), so they hold
whatever the rendering is built on.
"""

import datetime
import html as html_lib
import re

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from connections.tests.factories import SocialConnectionFactory
from crm.models import MessageTemplate
from crm.tests.factories import ClubFactory, MemberFactory, MessageTemplateFactory, StaffFactory, UserFactory
from posts.models import SocialPost
from promotions import sms
from promotions.dispatching import dispatch_run
from promotions.models import DispatchStatus, EventPromotion
from promotions.planning import promotion_plan
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db

ACCESS_TOKEN = "known-access-token-7f3a9c"
REFRESH_TOKEN = "known-refresh-token-51be02"

# Django-language walks (what the old renderer ran) and Jinja-sandbox escapes, side by side.
PAYLOADS = [
    "{{ member.__class__ }}",
    "{{ promotion.tenant.inbound_event_secret }}",
    "{{ club.tenant.inbound_event_secret }}",
    "{% for m in member.club.tenant.memberships.all %}{{ m.user.password }}{% endfor %}",
    "{% for c in club.social_connections.all %}{{ c.reveal_access_token }}{{ c.reveal_refresh_token }}{% endfor %}",
    "{% for c in promotion.tenant.social_connections.all %}{{ c.reveal_access_token() }}{% endfor %}",
    "{% for m in promotion.tenant.memberships.all %}{% for p in m.user.user_permissions.all %}"
    "{% for t in p.content_type.model_class.objects.all %}{{ t.inbound_event_secret }}{% endfor %}"
    "{% endfor %}{% endfor %}",
    "{% for t in member.tenant.__class__.objects.all() %}{{ t.inbound_event_secret }}{% endfor %}",
    "{{ reveal_access_token() }}",
    "{% load static %}{% debug %}",
    "{% debug %}",
    "{% include 'promotions/preview.html' %}",
    "{% import 'emails/promotion.html' as mail %}{{ mail }}",
    "{% extends 'base.html' %}",
    "{{ first_name|attr('__class__') }}",
    "{{ self }}{{ self.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.environ }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{{ joiner }}{{ namespace }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 'x' * 10**9 }}",
    "{% set secret = 1 %}{{ secret }}",
    "{{ event_name.__class__.__mro__[1].__subclasses__() }}",
    "{{ event_name|safe }}",
    "{{ event_name",
]


@pytest.fixture
def world():
    """A club with a connected page, staff with a password and an API key, and a second tenant's secrets."""
    club = ClubFactory(timezone="Europe/London")
    connection = SocialConnectionFactory(club=club, tokens=(ACCESS_TOKEN, REFRESH_TOKEN))
    staff = StaffFactory(tenant=club.tenant, role="ADMIN").user
    api_key = Token.objects.create(user=staff).key
    foreign = ClubFactory()
    foreign_staff = StaffFactory(tenant=foreign.tenant).user
    MemberFactory(club=club, first_name="Robin", last_name="Aardvark")
    secrets = [
        club.tenant.inbound_event_secret, foreign.tenant.inbound_event_secret, ACCESS_TOKEN, REFRESH_TOKEN,
        staff.password, foreign_staff.password, api_key, Token.objects.create(user=foreign_staff).key,
        connection.access_token,  # the ciphertext is no business of a message either
    ]
    return {"club": club, "staff": staff, "secrets": secrets}


def _store_everywhere(promotion, payload):
    """Plant the payload as if it had been stored before the rules (or written straight into the database)."""
    email = MessageTemplateFactory(tenant=promotion.tenant, channel="EMAIL")
    text = MessageTemplateFactory(tenant=promotion.tenant, channel="SMS", subject="")
    MessageTemplate.objects.filter(pk=email.pk).update(subject=payload if len(payload) <= 200 else "", body=payload)
    MessageTemplate.objects.filter(pk=text.pk).update(body=payload)
    EventPromotion.objects.filter(pk=promotion.pk).update(email_template=email, sms_template=text, social_content=payload)
    promotion.refresh_from_db()
    return promotion


def _assert_no_secret(text, secrets):
    for secret in secrets:
        assert secret not in text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_stored_template_reaching_for_secrets_shows_none_in_preview_api_or_sent_messages(world, client, payload):
    now = timezone.now()
    club, secrets = world["club"], world["secrets"]
    promotion = EventPromotionFactory(club=club, channels=["EMAIL", "SMS", "SOCIAL"], reminder_days=[],
                                      event_starts_at=now + datetime.timedelta(days=30))
    promotion = _store_everywhere(promotion, payload)

    client.force_login(world["staff"])
    page = client.get(f"/promotions/{promotion.pk}/preview/")
    assert page.status_code == 200
    content = page.content.decode()
    _assert_no_secret(content, secrets)
    # The staff see why nothing is shown, not an empty message.
    assert content.count("is refused") == 3

    api = APIClient()
    api.force_authenticate(world["staff"])
    for url in (f"/api/v1/promotions/{promotion.pk}/", f"/api/v1/promotions/{promotion.pk}/plan-preview/"):
        response = api.get(url)
        assert response.status_code == 200
        _assert_no_secret(response.content.decode(), secrets)

    promotion_plan(promotion=promotion, now=now)
    sms.outbox.clear()
    for channel in ("EMAIL", "SMS", "SOCIAL"):
        dispatch = dispatch_run(dispatch_id=promotion.dispatches.get(kind="ANNOUNCEMENT", channel=channel).pk, now=now)
        assert dispatch.status == DispatchStatus.FAILED
        assert "is refused" in dispatch.status_reason
        _assert_no_secret(dispatch.status_reason, secrets)
    assert mail.outbox == [] and sms.outbox == [] and not SocialPost.objects.filter(dispatch__promotion=promotion).exists()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_saving_such_a_template_is_refused_in_the_admin_with_the_field_named(world, client, payload):
    club = world["club"]
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post("/admin/crm/messagetemplate/add/", {
        "tenant": club.tenant_id, "name": "Sneaky", "channel": "EMAIL", "subject": payload, "body": payload,
    })
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"subject", "body"}
    assert not MessageTemplate.objects.filter(name="Sneaky").exists()

    response = client.post("/admin/crm/messagetemplate/add/", {
        "tenant": club.tenant_id, "name": "Sneaky text", "channel": "SMS", "subject": "", "body": payload,
    })
    assert set(response.context["adminform"].form.errors) == {"body"}
    assert not MessageTemplate.objects.filter(name="Sneaky text").exists()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_saving_such_social_text_is_refused_on_the_page_and_in_the_api(world, client, payload):
    club = world["club"]
    promotion = EventPromotionFactory(club=club, source_type="SPECIAL", channels=["SOCIAL"])
    client.force_login(world["staff"])
    starts = timezone.localtime(promotion.event_starts_at, club.timezone)
    response = client.post(f"/promotions/{promotion.pk}/edit/", {
        "event_name": promotion.event_name, "event_starts_at": f"{starts:%Y-%m-%dT%H:%M}", "channels": ["SOCIAL"],
        "reminder_days": "2", "is_active": "on", "social_content": payload,
    })
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["social_content"]

    api = APIClient()
    api.force_authenticate(world["staff"])
    response = api.patch(f"/api/v1/promotions/{promotion.pk}/", {"social_content": payload}, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["social_content"]
    promotion.refresh_from_db()
    assert promotion.social_content is None


def test_a_template_naming_a_field_the_channel_lacks_is_refused_with_that_field_named(world, client):
    promotion = EventPromotionFactory(club=world["club"], source_type="SPECIAL", channels=["SOCIAL"])
    api = APIClient()
    api.force_authenticate(world["staff"])
    response = api.patch(f"/api/v1/promotions/{promotion.pk}/", {"social_content": "Hi {{ first_name }}"}, format="json")
    assert response.status_code == 400
    assert "first_name" in response.json()["fields"]["social_content"][0]
    response = api.patch(f"/api/v1/promotions/{promotion.pk}/",
                         {"social_content": "{{ event_name }} on {{ event_date }}, {{ club_name }}"}, format="json")
    assert response.status_code == 200, response.content


def test_good_templates_are_saved_and_sent_with_their_merge_fields(world, client):
    club = world["club"]
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post("/admin/crm/messagetemplate/add/", {
        "tenant": club.tenant_id, "name": "Friendly", "channel": "EMAIL",
        "subject": "{{ event_name|upper }} at {{ club_name }}",
        "body": 'Dear {{ member_name }},{% if kind == "REMINDER" %} only {{ days_before }} days left!{% endif %}\n'
                "{{ event_date }} at {{ event_time }}{% if event_location %}, {{ event_location }}{% endif %}.\n"
                "Opt out: {{ unsubscribe_url }}",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    now = datetime.datetime(2031, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
    promotion = EventPromotionFactory(club=club, channels=["EMAIL"], reminder_days=[], event_name="Spring Foursomes",
                                      event_starts_at=datetime.datetime(2031, 4, 5, 9, 30, tzinfo=datetime.timezone.utc),
                                      email_template=MessageTemplate.objects.get(name="Friendly"))
    promotion_plan(promotion=promotion, now=now)
    dispatch_run(dispatch_id=promotion.dispatches.get(channel="EMAIL").pk, now=now)
    [message] = mail.outbox
    assert message.subject == f"SPRING FOURSOMES at {club.name}"
    assert message.body.startswith("Dear Robin Aardvark,\nSaturday 5 April 2031 at 10:30, Old Course.\nOpt out: http")


# ---------------------------------------------------------------- event and member text never runs

XSS_EVENT = '"><img src=x onerror=alert(1)>'
XSS_NAME = "<script>alert(2)</script>"


@pytest.mark.parametrize("staff_template", [False, True], ids=["standard email", "staff template"])
def test_event_and_member_names_are_escaped_in_the_preview_and_the_html_email(world, client, staff_template):
    now = timezone.now()
    club = world["club"]
    MemberFactory(club=club, first_name=XSS_NAME, last_name="Aa")  # first in the preview's list
    template = MessageTemplateFactory(tenant=club.tenant, subject="{{ event_name }}!",
                                      body="Hi {{ first_name }}, {{ event_name }}") if staff_template else None
    promotion = EventPromotionFactory(club=club, source_type="SPECIAL", channels=["EMAIL", "SMS", "SOCIAL"],
                                      reminder_days=[], event_name=XSS_EVENT, event_location=XSS_EVENT,
                                      email_template=template, event_starts_at=now + datetime.timedelta(days=30))

    client.force_login(world["staff"])
    content = client.get(f"/promotions/{promotion.pk}/preview/").content.decode()
    for raw in ("<img src=x", "<script>alert(2)", "<script>alert"):
        assert raw not in content
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in content  # shown, as text
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in content
    [frame] = re.findall(r"<iframe[^>]*>", content)
    assert re.search(r"\ssandbox[\s>=]", frame) and "allow-scripts" not in frame and "allow-same-origin" not in frame
    # The email is its own document, served under a policy that runs nothing and loads nothing foreign.
    src = html_lib.unescape(re.search(r'\ssrc="([^"]+)"', frame).group(1))
    document = client.get(src)
    assert document.status_code == 200 and document["Content-Type"].startswith("text/html")
    policy = document["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy and "frame-ancestors 'self'" in policy
    assert document["X-Frame-Options"] == "SAMEORIGIN"
    body = document.content.decode()
    assert "<script" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in body

    promotion_plan(promotion=promotion, now=now)
    dispatch_run(dispatch_id=promotion.dispatches.get(kind="ANNOUNCEMENT", channel="EMAIL").pk, now=now)
    to_target = [m for m in mail.outbox if m.to == [club.members.get(first_name=XSS_NAME).email]]
    [message] = to_target
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "<script" not in html and "<img src=x" not in html and "onerror=alert(1)>" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert message.content_subtype == "plain" and XSS_NAME in message.body  # the text part is text/plain only
