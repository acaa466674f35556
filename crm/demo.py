"""The demo tenant loaded by `make run`: a club, ~200 members, a segment, a campaign, templates, a login."""

import datetime
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from crm.clock import club_utc_to_local
from crm.models import Campaign, Club, Member, MessageTemplate, Segment, StaffRole, TemplateChannel, Tenant
from crm.services import staff_create

DEMO_TENANT = "demo"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"
FIRST_NAMES = ["Alice", "Ben", "Chloe", "David", "Emma", "Finn", "Grace", "Harry", "Isla", "Jack", "Kate", "Liam",
               "Mia", "Noah", "Olivia", "Paul", "Quinn", "Ruby", "Sam", "Tara"]
LAST_NAMES = ["Anderson", "Brown", "Clarke", "Davies", "Evans", "Fraser", "Green", "Hughes", "Irving", "Jones"]
CLUB_LAT, CLUB_LNG = 51.3759, -0.4089  # Surrey, UK


# A few members whose addresses the bundled mail stand-in treats as a sandbox does (simulator/mail.py): `make run`
# shows a hard bounce suppressing an address, a spam complaint, opens and clicks on the promotion page.
SANDBOX_PREFIXES = {1: "bounce.", 2: "complain.", 4: "open.", 5: "click."}


@transaction.atomic
def seed_demo(*, members=200):
    tenant, _ = Tenant.objects.get_or_create(pk=DEMO_TENANT, defaults={"name": "Pinewood Golf Group",
                                                                                "time_locale": "en-GB",
                                                                                "sms_price_per_segment": Decimal("0.0400"),
                                                                                "sms_price_currency": "GBP"})
    club, _ = Club.objects.update_or_create(
        pk="pinewood",
        defaults={"tenant": tenant, "name": "Pinewood Golf Club", "timezone": "Europe/London",
                  "latitude": CLUB_LAT, "longitude": CLUB_LNG, "default_send_time": datetime.time(9, 0),
                  "time_locale": "en-GB"},
    )
    Club.objects.update_or_create(
        pk="pinewood-academy",
        defaults={"tenant": tenant, "name": "Pinewood Junior Academy", "timezone": "Europe/London",
                  "latitude": 51.40, "longitude": -0.38, "time_locale": "en-GB"},
    )
    existing = Member.objects.filter(club=club).count()
    rng = random.Random(20261125)
    new_members = []
    for index in range(existing, members):
        first, last = FIRST_NAMES[index % len(FIRST_NAMES)], LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
        # Most live near the club; some far enough away to fall outside a radius filter.
        spread = 0.05 if index % 5 else 1.5
        new_members.append(Member(
            tenant=tenant, club=club, first_name=first, last_name=f"{last}-{index}",
            email=f"{SANDBOX_PREFIXES.get(index, '')}{first.lower()}.{last.lower()}{index}@example.com",
            phone=f"+4479111{index:05d}" if index % 4 else "",
            latitude=CLUB_LAT + rng.uniform(-spread, spread), longitude=CLUB_LNG + rng.uniform(-spread, spread),
            email_consent=index % 3 != 0, sms_consent=index % 2 == 0,
        ))
    Member.objects.bulk_create(new_members)
    segment, _ = Segment.objects.get_or_create(tenant=tenant, name="Competition players", defaults={"club": club})
    segment.members.set(Member.objects.filter(club=club).order_by("last_name")[: members // 3])
    Campaign.objects.get_or_create(
        tenant=tenant, name="Spring Open 2027",
        defaults={"club": club, "starts_on": datetime.date(2027, 3, 1), "ends_on": datetime.date(2027, 4, 30)},
    )
    MessageTemplate.objects.get_or_create(
        tenant=tenant, name="Competition announcement", channel=TemplateChannel.EMAIL,
        defaults={"subject": "{{ event_name }} at {{ club_name }}",
                  "body": "Hello {{ first_name }},\n\n{{ event_name }} starts {{ event_starts_local }}"
                          "{% if event_location %} at {{ event_location }}{% endif %}.\n"
                          "{% if event_url %}Book your place: {{ event_url }}\n{% endif %}\nSee you on the course!"},
    )
    MessageTemplate.objects.get_or_create(
        tenant=tenant, name="Competition reminder SMS", channel=TemplateChannel.SMS,
        defaults={"body": "{{ club_name }}: {{ event_name }} {{ event_starts_local }}. {{ event_url }}"},
    )
    user, _ = staff_create(tenant_id=tenant.pk, username=DEMO_USERNAME, password=DEMO_PASSWORD, role=StaffRole.ADMIN,
                            check_password=False)  # the documented local demo login
    seed_demo_promotion(tenant=tenant, club=club, segment=segment, by=user)
    return tenant, user


def seed_demo_promotion(*, tenant, club, segment, by):
    """A club competition a month out, announced in two days: its timeline shows the whole plan."""
    from promotions.models import EventPromotion
    from promotions.services import promotion_create_special

    if EventPromotion.objects.filter(tenant=tenant, event_name="Club Championship").exists():
        return
    today = club_utc_to_local(club, timezone.now())
    starts = (today + datetime.timedelta(days=30)).replace(hour=8, minute=30, second=0, microsecond=0)
    send = club.send_time
    announce = (today + datetime.timedelta(days=2)).replace(hour=send.hour, minute=send.minute, second=0, microsecond=0)
    promotion_create_special(
        tenant=tenant, club=club, by=by, event_name="Club Championship", event_starts_at=starts,
        event_location="Pinewood Golf Club, first tee", event_url="https://example.com/club-championship",
        announce_at=announce, segment=segment,
        email_template=MessageTemplate.objects.get(tenant=tenant, name="Competition announcement"),
        sms_template=MessageTemplate.objects.get(tenant=tenant, name="Competition reminder SMS"),
        campaign=Campaign.objects.get(tenant=tenant, name="Spring Open 2027"),
        social_content="The Club Championship tees off in a month. Entries are open in the pro shop and online.",
    )
