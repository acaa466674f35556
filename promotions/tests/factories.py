import datetime

import factory
from django.utils import timezone

from crm.tests.factories import ClubFactory
from promotions.models import EventPromotion


class EventPromotionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EventPromotion

    club = factory.SubFactory(ClubFactory)
    tenant = factory.SelfAttribute("club.tenant")
    source_type = "COMPETITION"
    source_id = factory.Sequence(lambda n: f"comp-{n}")
    channels = ["EMAIL"]
    reminder_days = [7, 3, 1]
    created_by = "test"
    event_name = factory.Sequence(lambda n: f"Summer Medal {n}")
    event_starts_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=30))
    event_location = "Old Course"
    event_url = "https://example.com/event"
